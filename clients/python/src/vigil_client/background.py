"""Publishing that never makes the caller wait for the network.

``submit`` encodes the alert on the caller's thread (so a frame buffer the
pipeline reuses can change afterwards) and queues it; one worker thread sends
what is queued in batches, with the client's retries. The queue is bounded:
when it is full, ``submit`` raises QueueFullError (or, with ``block=True``,
waits up to ``timeout``) and counts the alert as rejected. An alert that
fails after the retries is handed to ``on_error`` (by default logged at
ERROR) and counted. Nothing is dropped without the caller being told.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import HTTPError, QueueFullError, VigilError
from .publisher import MAX_BATCH, MAX_BATCH_BYTES, PublishResult, make_alert

if TYPE_CHECKING:
    from .publisher import VigilClient

log = logging.getLogger("vigil_client")


@dataclass(frozen=True)
class QueuedAlert:
    """What the callbacks are told about an alert (the frame is not kept)."""

    user_id: str
    stream_id: str
    idempotency_key: str
    body: bytes


@dataclass(frozen=True)
class SenderStats:
    queued: int     #: waiting or being sent
    sent: int       #: stored by the server (duplicates included)
    failed: int     #: refused, or not sent after the retries: each went to on_error
    rejected: int   #: not queued because the queue was full: each raised QueueFullError


ErrorCallback = Callable[[QueuedAlert, VigilError], None]
ResultCallback = Callable[[QueuedAlert, PublishResult], None]


class BackgroundSender:
    """A bounded queue and one worker thread that publishes it in batches.

    ``max_queue``: alerts waiting at most. ``max_batch``: alerts per request
    (at most 1000, the server's limit). ``linger``: seconds the worker waits
    for a batch to fill once one alert is queued (0: send what is there, so
    batches grow only when the server is slower than the producer).
    ``on_error(alert, exception)`` and ``on_result(alert, result)`` run on the
    worker thread.
    """

    def __init__(self, client: "VigilClient", *, max_queue: int = 10_000, max_batch: int = 100,
                 linger: float = 0.0, on_error: ErrorCallback | None = None,
                 on_result: ResultCallback | None = None) -> None:
        if max_queue < 1 or not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_queue must be >= 1 and max_batch 1-{MAX_BATCH}")
        self._client = client
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._linger = linger
        self._on_error = on_error
        self._on_result = on_result
        self._items: collections.deque[QueuedAlert] = collections.deque()
        self._in_flight = 0
        self._sent = self._failed = self._rejected = 0
        self._closing = False
        self._cond = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="vigil-background-sender", daemon=True)
        self._worker.start()
        # A daemon thread dies with the interpreter: send what is queued first.
        atexit.register(self.close, 10.0)

    def submit(self, user_id: str, stream_id: str | int, detection: Any, frame: Any = None, *,
               block: bool = False, timeout: float | None = None, **options: Any) -> str:
        """Queues one alert (``options`` as for ``VigilClient.publish``) and
        returns its idempotency key. Raises QueueFullError when the queue is
        full (after ``timeout`` seconds with ``block=True``; forever without a
        timeout), EncodingError for a bad detection or frame."""
        alert = make_alert(user_id, stream_id, detection, frame, config=self._client.config, **options)
        item = QueuedAlert(alert["user_id"], alert["stream_id"], alert["idempotency_key"],
                           json.dumps(alert).encode())
        with self._cond:
            if self._closing:
                raise VigilError("the background sender is closed")
            if len(self._items) >= self._max_queue and block:
                deadline = None if timeout is None else time.monotonic() + timeout
                while len(self._items) >= self._max_queue and not self._closing:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._cond.wait(left)
            if len(self._items) >= self._max_queue:
                self._rejected += 1
                raise QueueFullError(f"background queue full ({self._max_queue} alerts waiting): "
                                     f"alert for {user_id}/{item.stream_id} not queued")
            self._items.append(item)
            self._cond.notify_all()
        return item.idempotency_key

    @property
    def stats(self) -> SenderStats:
        with self._cond:
            return SenderStats(len(self._items) + self._in_flight, self._sent, self._failed, self._rejected)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued alert is sent or failed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._items or self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Sends what is queued (waiting up to ``timeout``), then stops the
        worker. Returns False when alerts were still queued at the timeout:
        they stay in ``stats.queued``, unsent."""
        atexit.unregister(self.close)
        done = self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if done:
            self._worker.join()
        return done

    def __enter__(self) -> "BackgroundSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ worker

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items:
                    return
                if self._linger > 0 and len(self._items) < self._max_batch:
                    deadline = time.monotonic() + self._linger
                    while len(self._items) < self._max_batch and not self._closing:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                batch = self._take()
                self._in_flight = len(batch)
                self._cond.notify_all()  # room in the queue for blocked submitters
            try:
                self._send(batch)
            except Exception:  # a bug must not kill the worker with alerts queued
                log.exception("vigil_client: background sender: %d alerts not sent", self._in_flight)
                with self._cond:
                    self._failed += self._in_flight
                    self._in_flight = 0
                    self._cond.notify_all()

    def _take(self) -> list[QueuedAlert]:
        batch: list[QueuedAlert] = []
        size = 0
        while self._items and len(batch) < self._max_batch:
            nxt = self._items[0]
            if batch and size + len(nxt.body) > MAX_BATCH_BYTES:
                break
            batch.append(self._items.popleft())
            size += len(nxt.body) + 1
        return batch

    def _send(self, batch: list[QueuedAlert]) -> None:
        try:
            answer = self._client._post(b"[" + b",".join(a.body for a in batch) + b"]")
        except HTTPError as e:
            if e.index is not None and 0 <= e.index < len(batch) and e.status in (400, 413, 415):
                # Nothing of the request was stored: drop the refused alert, send the rest.
                self._fail(batch[e.index], e)
                rest = batch[:e.index] + batch[e.index + 1:]
                self._done([batch[e.index]], failed=True)
                if rest:
                    self._send(rest)
                return
            if e.status == 413 and len(batch) > 1:
                half = len(batch) // 2
                self._send(batch[:half])
                self._send(batch[half:])
                return
            for a in batch:
                self._fail(a, e)
            self._done(batch, failed=True)
            return
        except VigilError as e:
            for a in batch:
                self._fail(a, e)
            self._done(batch, failed=True)
            return
        for a, o in zip(batch, answer):
            if self._on_result is not None:
                try:
                    self._on_result(a, PublishResult.from_json(o))
                except Exception:
                    log.exception("vigil_client: on_result callback")
        self._done(batch, failed=False)

    def _fail(self, alert: QueuedAlert, error: VigilError) -> None:
        if self._on_error is None:
            log.error("vigil_client: alert for %s/%s (key %s) not sent: %s",
                      alert.user_id, alert.stream_id, alert.idempotency_key, error)
            return
        try:
            self._on_error(alert, error)
        except Exception:
            log.exception("vigil_client: on_error callback")

    def _done(self, batch: list[QueuedAlert], *, failed: bool) -> None:
        with self._cond:
            if failed:
                self._failed += len(batch)
            else:
                self._sent += len(batch)
            self._in_flight = max(0, self._in_flight - len(batch))
            self._cond.notify_all()
