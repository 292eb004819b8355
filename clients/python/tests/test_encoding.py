"""What a pipeline hands over: detections as dicts, dataclasses, pydantic
models, objects with to_dict(), numpy values; frames as bytes, base64, paths
or numpy images. The server is the judge of what arrives."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from vigil_client import EncodingError, VigilClient, detection_json, encode_frame
from test_quickref import PNG


class Kind(enum.Enum):
    INTRUSION = "intrusion"


@dataclasses.dataclass
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclasses.dataclass
class Detection:
    kind: Kind
    confidence: float
    boxes: list[Box]
    seen_at: datetime.datetime


class Legacy:
    def to_dict(self) -> dict:
        return {"type": "loitering", "tags": ("a", "b")}


def test_plain_values_become_json():
    d = Detection(Kind.INTRUSION, 0.5, [Box(1, 2, 3, 4)],
                  datetime.datetime(2024, 12, 3, 10, 30, tzinfo=datetime.timezone.utc))
    assert detection_json(d) == {"kind": "intrusion", "confidence": 0.5, "boxes": [{"x": 1, "y": 2, "w": 3, "h": 4}],
                                 "seen_at": "2024-12-03T10:30:00.000Z"}
    assert detection_json(Legacy()) == {"type": "loitering", "tags": ["a", "b"]}
    assert detection_json({"score": math.nan, 3: math.inf}) == {"score": None, "3": None}
    with pytest.raises(EncodingError, match="JSON object"):
        detection_json([1, 2])
    with pytest.raises(EncodingError, match="cannot turn object"):
        detection_json({"x": object()})


def test_frames_from_bytes_text_and_paths(tmp_path: Path):
    assert encode_frame(PNG) == (PNG, "image/png")
    assert encode_frame(base64.b64encode(PNG).decode()) == (PNG, "image/png")
    assert encode_frame("data:image/png;base64," + base64.b64encode(PNG).decode()) == (PNG, "image/png")
    path = tmp_path / "frame.png"
    path.write_bytes(PNG)
    assert encode_frame(path) == (PNG, "image/png")
    with pytest.raises(EncodingError, match="neither JPEG nor PNG"):
        encode_frame(b"GIF89a....")
    with pytest.raises(EncodingError, match="base64"):
        encode_frame("not base64 at all!")


def test_pydantic_model_is_published(server, user_id):
    pydantic = pytest.importorskip("pydantic")

    class Result(pydantic.BaseModel):
        type: str
        confidence: float
        boxes: list[list[int]]

    with VigilClient(server.url, token=server.token("d", "publisher")) as client:
        r = client.publish(user_id, "cam", Result(type="intrusion", confidence=0.25, boxes=[[1, 2, 3, 4]]))
    stored = server.history(user_id)
    assert stored[0]["alert_id"] == r.alert_id
    assert stored[0]["detection"] == {"type": "intrusion", "confidence": 0.25, "boxes": [[1, 2, 3, 4]]}


def test_numpy_detection_and_frame_arrive(server, user_id):
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")
    # OpenCV's layout: BGR. Pure red is (0, 0, 255).
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[..., 2] = 255
    detection = {"type": "fire", "confidence": np.float32(0.75), "count": np.int64(3), "ok": np.bool_(True),
                 "boxes": np.array([[1, 2, 30, 40]], dtype=np.int32), "mask_mean": np.float64(0.5)}
    with VigilClient(server.url, token=server.token("d", "publisher")) as client:
        r = client.publish(user_id, "cam-7", detection, frame)
    stored = server.history(user_id)[0]
    assert stored["alert_id"] == r.alert_id
    assert stored["detection"] == {"type": "fire", "confidence": 0.75, "count": 3, "ok": True,
                                   "boxes": [[1, 2, 30, 40]], "mask_mean": 0.5}
    status, body = server.get(f"/api/v1/alerts/{r.alert_id}/frame", server.token(user_id))
    assert status == 200 and body[:3] == b"\xff\xd8\xff"
    decoded = Image.open(io.BytesIO(body)).convert("RGB")
    assert decoded.size == (64, 48)
    red, green, blue = decoded.getpixel((32, 24))
    assert red > 200 and green < 60 and blue < 60, "BGR must be encoded as red"


def test_rgb_channel_order_and_grayscale():
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    data, kind = encode_frame(rgb, channel_order="rgb")
    assert kind == "image/jpeg"
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((4, 4))[0] > 200
    gray, _ = encode_frame(np.full((8, 8), 128, dtype=np.uint8))
    assert Image.open(io.BytesIO(gray)).mode == "L"
    with pytest.raises(EncodingError, match="uint8"):
        encode_frame(np.zeros((8, 8, 3), dtype=np.float32))


def test_numpy_frame_without_an_encoder_says_what_to_install():
    pytest.importorskip("numpy")
    code = ("import sys; sys.modules['cv2'] = None; sys.modules['PIL'] = None\n"
            "import numpy as np\n"
            "from vigil_client import encode_frame, EncodingError\n"
            "try:\n"
            "    encode_frame(np.zeros((4, 4, 3), dtype=np.uint8))\n"
            "except EncodingError as e:\n"
            "    print(e)\n")
    src = Path(__file__).resolve().parent.parent / "src"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(src)}).stdout
    assert "python3-pil" in out and "opencv" in out.lower()


def test_publish_body_is_what_the_protocol_says():
    from vigil_client import make_alert
    alert = make_alert("u1", 42, {"type": "x"}, PNG, severity="high", escalation="night-policy", group_key="g")
    assert alert["stream_id"] == "42"
    assert alert["frame_content_type"] == "image/png" and base64.b64decode(alert["frame"]) == PNG
    assert alert["idempotency_key"].startswith("py-")
    datetime.datetime.fromisoformat(alert["timestamp"].replace("Z", "+00:00"))
    assert (alert["user_id"], alert["severity"], alert["escalation"], alert["group_key"]) == \
        ("u1", "high", "night-policy", "g")
    # A team instead of a user: the publish names one audience (docs/handling.md).
    to_team = make_alert("u1", 42, {"type": "x"}, team="night-shift")
    assert to_team["team"] == "night-shift" and "user_id" not in to_team
    json.dumps(alert)
    assert make_alert("u1", "s", {})["idempotency_key"] != make_alert("u1", "s", {})["idempotency_key"]
