"""HTTP/1.1 with keep-alive over the standard library's http.client.

One ``Transport`` per server, shared by threads: each request takes an idle
connection from the pool (or opens one), and gives it back once the answer
is read in full. A connection that failed, or that the server will close, is
discarded. Nothing here retries: the publisher decides what may be retried.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from .config import Config

USER_AGENT = "vigil-client-python/0.1"

# What a broken or half-closed connection raises, on the way out or back.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return self.body

    @property
    def retry_after(self) -> float | None:
        try:
            return float(self.headers["retry-after"])
        except (KeyError, ValueError):
            return None


class Transport:
    """A pool of keep-alive connections to one server."""

    def __init__(self, config: Config, ssl_context: ssl.SSLContext | None = None) -> None:
        base = config.http_base
        self._tls = base.scheme == "https"
        self._host = base.hostname or "localhost"
        self._port = base.port or (443 if self._tls else 80)
        self._prefix = base.path
        self._timeout = config.timeout
        self._pool_size = config.pool_size
        self._idle_seconds = config.pool_idle_seconds
        self._ssl = ssl_context or (ssl.create_default_context() if self._tls else None)
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        """One request; raises OSError or http.client.HTTPException when the
        connection fails before the whole answer is read. The request must be
        safe to repeat: it is sent again, once per stale pooled connection."""
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        while True:
            conn, reused = self._take()
            try:
                conn.request(method, self._prefix + path, body=body, headers=all_headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except NETWORK_ERRORS:
                conn.close()
                # An idle connection the server had already closed: say it
                # again on a fresh one. Callers only send requests that are
                # safe to repeat (GETs, publishes with an idempotency key).
                if not reused:
                    raise
        answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        if resp.will_close:
            conn.close()
        else:
            self._give_back(conn)
        return answer

    def close(self) -> None:
        """Closes the idle connections; requests in flight finish on theirs."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        now = time.monotonic()
        stale: list[http.client.HTTPConnection] = []
        taken = None
        with self._lock:
            while self._idle:
                conn, since = self._idle.pop()
                if now - since < self._idle_seconds:
                    taken = conn
                    break
                stale.append(conn)
        for conn in stale:
            conn.close()
        if taken is not None:
            return taken, True
        fresh: http.client.HTTPConnection
        if self._tls:
            fresh = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._ssl)
        else:
            fresh = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        fresh.connect()
        if fresh.sock is not None:
            # Small requests and answers: no Nagle delay on the way out.
            fresh.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return fresh, False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()
