"""What a pipeline hands over, turned into what the server takes.

``detection_json`` makes a JSON object of a detection result: a mapping, a
dataclass, a pydantic model (v1 or v2), or anything with ``to_dict()``, with
numpy scalars and arrays, datetimes, enums, UUIDs, sets and tuples inside.
``encode_frame`` makes (bytes, content type) of an annotated frame: JPEG or
PNG bytes, a path to such a file, base64 text (or a ``data:`` URL), or a
numpy image, which is encoded to JPEG with OpenCV or Pillow, whichever is
importable. numpy itself is never imported here: arrays are recognised by
their attributes, so publishing works without it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import decimal
import enum
import importlib
import io
import math
import os
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from .errors import EncodingError

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_MAX_DEPTH = 64


def sniff_image_type(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` from the first bytes, as the server checks them."""
    if data[:3] == JPEG_MAGIC:
        return "image/jpeg"
    if data[:8] == PNG_MAGIC:
        return "image/png"
    return None


# ------------------------------------------------------------------ detections

def detection_json(result: Any) -> dict[str, Any]:
    """The detection result as a JSON-ready dict (a new object: later changes
    to ``result`` do not reach it). Non-finite floats become None: JSON has no
    NaN or infinity. Raises EncodingError for what has no JSON form."""
    value = to_json(result)
    if not isinstance(value, dict):
        raise EncodingError(f"detection_result must become a JSON object, got {type(result).__name__}")
    return value


def to_json(value: Any, _depth: int = 0) -> Any:
    """Any supported value as JSON-ready Python (dict, list, str, int, float, bool, None)."""
    if _depth > _MAX_DEPTH:
        raise EncodingError("detection_result is nested too deeply (a cycle?)")
    d = _depth + 1
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)  # also IntEnum and bool-like subclasses
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_key(k): to_json(v, d) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_json(v, d) for v in items]
    if isinstance(value, enum.Enum):
        return to_json(value.value, d)
    if isinstance(value, datetime.datetime):
        return iso8601(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value) if isinstance(value, uuid.UUID) else to_json(float(value), d)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if _is_numpy(value):
        # ndarray.tolist() and generic.item() give Python numbers (and nested lists).
        return to_json(value.tolist() if hasattr(value, "shape") and value.shape != () else value.item(), d)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), d) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump") and callable(value.model_dump):  # pydantic v2
        return to_json(value.model_dump(mode="json"), d)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return to_json(value.to_dict(), d)
    if hasattr(value, "__fields__") and hasattr(value, "dict") and callable(value.dict):  # pydantic v1
        return to_json(value.dict(), d)
    raise EncodingError(f"cannot turn {type(value).__name__} into JSON: give a dict, a dataclass, "
                        "a pydantic model or an object with to_dict()")


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, enum.Enum):
        return str(k.value)
    if isinstance(k, (int, float, bool)) or _is_numpy(k):
        return str(to_json(k))
    raise EncodingError(f"detection keys must be strings or numbers, got {type(k).__name__}")


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "dtype")


def iso8601(t: datetime.datetime) -> str:
    """UTC, millisecond precision, ``Z``: what the server stores. A naive
    datetime is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------ frames

def encode_frame(frame: Any, channel_order: Literal["bgr", "rgb"] = "bgr",
                 jpeg_quality: int = 90) -> tuple[bytes, str]:
    """(image bytes, content type) for an annotated frame. Raises EncodingError
    for what is not an image, and for a numpy image when neither OpenCV nor
    Pillow can be imported (saying what to install)."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return _checked(bytes(frame), "annotated_frame bytes")
    if isinstance(frame, os.PathLike):
        with open(frame, "rb") as fh:
            return _checked(fh.read(), f"the file {os.fspath(frame)}")
    if isinstance(frame, str):
        text = frame.split(",", 1)[1] if frame.startswith("data:") and "," in frame else frame
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise EncodingError("annotated_frame text must be base64 (or a data: URL) of a JPEG or PNG; "
                                "pass a path as pathlib.Path") from None
        return _checked(raw, "the base64 annotated_frame")
    if hasattr(frame, "shape") and hasattr(frame, "dtype"):
        return _encode_array(frame, channel_order, jpeg_quality), "image/jpeg"
    if hasattr(frame, "save") and hasattr(frame, "mode"):  # a PIL.Image.Image
        out = io.BytesIO()
        frame.convert("RGB").save(out, format="JPEG", quality=jpeg_quality)
        return out.getvalue(), "image/jpeg"
    raise EncodingError(f"annotated_frame must be JPEG/PNG bytes, a path, base64 text or a numpy image, "
                        f"got {type(frame).__name__}")


def _checked(data: bytes, what: str) -> tuple[bytes, str]:
    kind = sniff_image_type(data)
    if kind is None:
        raise EncodingError(f"{what} are neither JPEG nor PNG")
    return data, kind


def _encode_array(image: Any, channel_order: str, quality: int) -> bytes:
    shape = tuple(image.shape)
    if str(image.dtype) != "uint8":
        raise EncodingError(f"a numpy frame must be uint8 (got {image.dtype}): e.g. frame.clip(0, 255).astype('uint8')")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))):
        raise EncodingError(f"a numpy frame must be H×W, H×W×1, H×W×3 or H×W×4, got shape {shape}")
    color = len(shape) == 3 and shape[2] in (3, 4)
    try:
        cv2: Any = importlib.import_module("cv2")
    except ImportError:
        cv2 = None
    if cv2 is not None:
        # OpenCV reads channels as BGR(A).
        pixels = image[..., 2::-1] if color and channel_order == "rgb" else image[..., :3] if color else image
        ok, buf = cv2.imencode(".jpg", pixels, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
        if not ok:
            raise EncodingError("OpenCV could not encode the frame")
        return bytes(buf)
    try:
        Image: Any = importlib.import_module("PIL.Image")
    except ImportError:
        raise EncodingError("encoding a numpy frame needs OpenCV or Pillow: install python3-opencv or "
                            "python3-pil (Debian), or opencv-python-headless or Pillow (pip); or pass "
                            "JPEG/PNG bytes") from None
    if color:
        pixels = image[..., 2::-1] if channel_order == "bgr" else image[..., :3]
    else:
        pixels = image.reshape(shape[:2])
    out = io.BytesIO()
    Image.fromarray(pixels.copy() if color else pixels).save(out, format="JPEG", quality=quality)
    return out.getvalue()
