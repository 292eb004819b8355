"""The synchronous client: publish alerts with retries that never duplicate,
read connection health and frames.

Every alert gets its idempotency key when it is made (``make_alert``), before
the first attempt, so a retry after a lost answer is stored once: the server
answers the retry with the first alert (``duplicate: true``) and delivers
nothing again. Retries are bounded (``Config.max_retries``), with exponential
backoff and full jitter, for what may succeed later: network failures and
429, 502, 503, 504. Everything else is raised at once.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import random
import ssl
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Config
from .encoding import detection_json, encode_frame, iso8601, to_json
from .errors import TransportError, http_error
from .transport import NETWORK_ERRORS, Answer, Transport

if TYPE_CHECKING:
    from .background import BackgroundSender

log = logging.getLogger("vigil_client")

#: The server's limits on one publish request (docs/protocol.md).
MAX_BATCH = 1000
#: Batches are split to stay well under the server's 8 MiB body limit.
MAX_BATCH_BYTES = 4 * 1024 * 1024
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

ALERTS_PATH = "/api/v1/alerts"


@dataclass(frozen=True)
class PublishResult:
    """The server's answer to one alert. ``duplicate`` is true when the
    idempotency key had been stored before (for instance by an attempt whose
    answer was lost): ``alert_id`` is then the first alert's, and nothing was
    delivered again."""

    alert_id: str
    seq: int
    delivered: bool
    duplicate: bool = False

    @classmethod
    def from_json(cls, o: dict[str, Any]) -> "PublishResult":
        # A team alert answers without a seq: each member's copy has its own.
        return cls(str(o["alert_id"]), int(o.get("seq", 0)), bool(o.get("delivered")), bool(o.get("duplicate")))


def make_alert(user_id: str, stream_id: str | int, detection: Any, frame: Any = None, *,
               config: Config | None = None, timestamp: datetime.datetime | str | None = None,
               idempotency_key: str | None = None, team: str | None = None, severity: str | None = None,
               escalation: Any = None, group_key: str | None = None) -> dict[str, Any]:
    """The publish body of one alert, JSON-ready: the detection converted, the
    frame encoded and in base64, the timestamp of this call (the moment of the
    detection, not of a later send), and a fresh idempotency key unless given.
    ``severity``, ``escalation`` (a policy's name) and ``group_key`` are sent
    when given; ``team`` names the audience instead of ``user_id``, which is
    then left out (every member of the team receives the alert)."""
    cfg = config or Config()
    if isinstance(stream_id, int) and not isinstance(stream_id, bool):
        stream_id = str(stream_id)
    if not isinstance(user_id, str) or not isinstance(stream_id, str):
        raise TypeError("user_id must be a str and stream_id a str or int")
    body: dict[str, Any] = {
        **({"team": team} if team is not None else {"user_id": user_id}),
        "stream_id": stream_id,
        "detection": detection_json(detection),
        "timestamp": timestamp if isinstance(timestamp, str) else iso8601(
            timestamp or datetime.datetime.now(datetime.timezone.utc)),
        "idempotency_key": idempotency_key or f"py-{uuid.uuid4().hex}",
    }
    if frame is not None:
        data, content_type = encode_frame(frame, cfg.channel_order, cfg.jpeg_quality)
        body["frame"] = base64.b64encode(data).decode("ascii")
        body["frame_content_type"] = content_type
    for key, value in (("severity", severity), ("escalation", escalation), ("group_key", group_key)):
        if value is not None:
            body[key] = to_json(value)
    return body


class VigilClient:
    """Publishes alerts and reads connection health, blocking the calling
    thread. Thread-safe; keep one per process and close it at the end (or use
    it as a context manager).

    >>> client = VigilClient("http://localhost:8000", api_key="...")
    >>> client.publish("user_123", "stream_456", {"type": "intrusion"}, frame_jpeg_bytes)
    """

    def __init__(self, url: str | None = None, *, token: str | None = None, api_key: str | None = None,
                 config: Config | None = None, ssl_context: ssl.SSLContext | None = None,
                 **settings: Any) -> None:
        """``config`` wins if given; else a Config from the environment
        (VIGIL_URL, VIGIL_TOKEN, VIGIL_API_KEY) and these arguments."""
        self.config = config or Config.from_env(url=url, token=token, api_key=api_key, **settings)
        self._transport = Transport(self.config, ssl_context)
        self._ssl_context = ssl_context
        self._senders: list[BackgroundSender] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------ publishing

    def publish(self, user_id: str, stream_id: str | int, detection: Any, frame: Any = None,
                **options: Any) -> PublishResult:
        """Publishes one alert and returns once it is stored. ``options``:
        those of ``make_alert`` (timestamp, idempotency_key, team, severity,
        escalation, group_key)."""
        alert = make_alert(user_id, stream_id, detection, frame, config=self.config, **options)
        return PublishResult.from_json(self._post(json.dumps(alert).encode()))

    def send_anomaly_alert(self, user_id: str, stream_id: str | int, detection_result: Any,
                           annotated_frame: Any = None, **options: Any) -> PublishResult:
        """``publish`` under the quick reference's name and argument names."""
        return self.publish(user_id, stream_id, detection_result, annotated_frame, **options)

    def publish_many(self, alerts: Iterable[dict[str, Any]]) -> list[PublishResult]:
        """Publishes alerts made by ``make_alert`` in as few requests as the
        server's limits allow, in order; returns one result per alert. Each
        request is retried on its own; if one is refused, the exception says
        which (``index`` counts within that request) and the requests before
        it are stored."""
        results: list[PublishResult] = []
        for chunk in batches(list(alerts)):
            answer = self._post(chunk)
            results.extend(PublishResult.from_json(o) for o in answer)
        return results

    def background(self, **options: Any) -> "BackgroundSender":
        """A background sender on this client (see BackgroundSender for the
        options); closed with the client."""
        from .background import BackgroundSender
        sender = BackgroundSender(self, **options)
        with self._lock:
            self._senders.append(sender)
        return sender

    # ------------------------------------------------------------ reading

    def get_connection_stats(self, user_id: str) -> dict[str, Any] | None:
        """The quick reference's dict for a connected user (``user_id``,
        ``connected``, ``connected_at``, ``uptime_seconds``, ``last_heartbeat``,
        ``seconds_since_heartbeat``), or None when the user has no live
        connection. Needs admin credentials."""
        answer = self._get(f"/ws/connections/{_quote(user_id)}")
        stats = answer.json()
        if not isinstance(stats, dict) or not stats.get("connected"):
            return None
        return stats

    def get_connections(self) -> dict[str, Any]:
        """``{"total_connections", "connections": [...]}`` (admin)."""
        return self._get("/ws/connections").json()  # type: ignore[no-any-return]

    def get_frame(self, alert_id: str) -> bytes:
        """The annotated frame's bytes (the alert's owner or an admin)."""
        return self._get(f"{ALERTS_PATH}/{_quote(alert_id)}/frame").body

    def get_alert(self, alert_id: str) -> dict[str, Any]:
        """One alert with its status (``acked``...), as stored."""
        return self._get(f"{ALERTS_PATH}/{_quote(alert_id)}").json()  # type: ignore[no-any-return]

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Flushes and stops this client's background senders, then closes
        the pooled connections."""
        with self._lock:
            senders, self._senders = self._senders, []
        for s in senders:
            s.close()
        self._transport.close()

    def __enter__(self) -> "VigilClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _post(self, body: bytes | Sequence[dict[str, Any]]) -> Any:
        """POST /api/v1/alerts with retries; the parsed 201 answer."""
        data = body if isinstance(body, bytes) else json.dumps(list(body)).encode()
        return self._with_retries("POST", ALERTS_PATH, data).json()

    def _get(self, path: str) -> Answer:
        return self._with_retries("GET", path, None)

    def _with_retries(self, method: str, path: str, body: bytes | None) -> Answer:
        cfg = self.config
        headers = cfg.auth_headers()
        attempt = 0
        while True:
            retry_after = None
            try:
                answer = self._transport.request(method, path, body, headers)
            except NETWORK_ERRORS as e:
                if attempt >= cfg.max_retries:
                    raise TransportError(f"{method} {path}: {type(e).__name__}: {e} "
                                         f"(after {attempt + 1} attempts)") from e
                why = f"{type(e).__name__}: {e}"
            else:
                if 200 <= answer.status < 300:
                    return answer
                error = http_error(answer.status, answer.json(), answer.retry_after)
                if answer.status not in RETRYABLE_STATUS or attempt >= cfg.max_retries:
                    raise error
                why, retry_after = str(error), answer.retry_after
            delay = random.uniform(0, min(cfg.backoff_max, cfg.backoff_initial * 2 ** attempt))
            if retry_after is not None:
                delay = max(delay, min(retry_after, cfg.backoff_max))
            attempt += 1
            log.warning("vigil_client: %s %s failed (%s); retry %d of %d in %.2f s",
                        method, path, why, attempt, cfg.max_retries, delay)
            time.sleep(delay)


def batches(alerts: list[dict[str, Any]]) -> Iterable[bytes]:
    """The alerts as JSON lists of at most MAX_BATCH alerts and about
    MAX_BATCH_BYTES each (an alert larger than that goes alone)."""
    chunk: list[bytes] = []
    size = 0
    for alert in alerts:
        encoded = json.dumps(alert).encode()
        if chunk and (len(chunk) == MAX_BATCH or size + len(encoded) + 1 > MAX_BATCH_BYTES):
            yield b"[" + b",".join(chunk) + b"]"
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        yield b"[" + b",".join(chunk) + b"]"


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
