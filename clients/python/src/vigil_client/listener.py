"""A user's alerts as an async iterator, over the alert WebSocket.

    async with AlertListener("user_123", url="http://localhost:8000", token=jwt) as alerts:
        async for alert in alerts:          # dicts, as docs/protocol.md's anomaly_detected
            handle(alert)
            await alerts.ack(alert["alert_id"])

It reconnects with exponential backoff (1 s to 30 s, with jitter, reset after
a connection that stayed up) and resumes where it was: it keeps the seq and
epoch of the last alert it received and reconnects with ``?since=SEQ&epoch=E``,
so nothing is missed and nothing is yielded twice. When the server's epoch
changes (its alert history started over, e.g. a memory store restarted), the
old seq means nothing any more: the listener forgets it and takes the new
epoch's alerts from their start. It answers the server's JSON pings, and the
WebSocket library's own pings find a dead connection within a minute.

It stops for good, raising from the iterator, when the server refuses the
credentials (AuthenticationError, ForbiddenError) or when a newer connection of
the same user replaces it (ListenerStopped, code ``replaced``: the server
allows one connection per user). Needs the ``websockets`` package (Debian
python3-websockets).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import ssl as ssl_module
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from .config import Config
from .errors import ListenerStopped, TransportError, VigilError, http_error

try:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidHandshake
except ImportError:  # publishing needs nothing but the standard library
    websockets = None  # type: ignore[assignment]

log = logging.getLogger("vigil_client")

TokenSource = Callable[[], "str | Awaitable[str]"]
_CLOSE_REPLACED = 4001
_STOP = object()


class Position:
    """Where a user's alert stream was left: the seq and epoch of the newest
    alert received. Pure logic, no I/O."""

    def __init__(self, seq: int | None = None, epoch: str | None = None) -> None:
        self.seq = seq
        self.epoch = epoch

    def accept(self, seq: Any, epoch: Any) -> bool:
        """Moves to an alert just received; False when it was received before
        (a seq not above the last of the same epoch). An alert of another
        epoch than the last starts the history over: its seq is taken as is."""
        if isinstance(epoch, str) and epoch != self.epoch:
            if self.epoch is not None:
                log.info("vigil_client: the server's epoch changed: starting over")
                self.seq = None
            self.epoch = epoch
        if not isinstance(seq, int):
            return True
        if self.seq is not None and seq <= self.seq:
            return False
        self.seq = seq
        return True

    def query(self) -> dict[str, str]:
        """The ``since`` and ``epoch`` parameters that resume from here."""
        if self.seq is None:
            return {}
        return {"since": str(self.seq), **({"epoch": self.epoch} if self.epoch is not None else {})}


class AlertListener:
    """Receives one user's alerts; see the module's documentation.

    ``token`` or ``get_token`` (called, or awaited, before every connection,
    so that a reconnect uses a fresh token) authenticate as the user. ``since``
    and ``epoch`` resume from a position kept from an earlier run (see
    ``position``). With ``auto_ack``, an alert is acknowledged when the
    iterator is advanced past it, i.e. once the loop body handled it.
    """

    def __init__(self, user_id: str, *, url: str | None = None, token: str | None = None,
                 get_token: TokenSource | None = None, config: Config | None = None,
                 since: int | None = None, epoch: str | None = None, auto_ack: bool = False,
                 initial_delay: float = 1.0, max_delay: float = 30.0, jitter: float = 0.5,
                 stable_after: float = 10.0, open_timeout: float = 10.0, ack_timeout: float = 10.0,
                 max_queue: int = 1000, ssl: ssl_module.SSLContext | None = None) -> None:
        if websockets is None:
            raise ImportError("AlertListener needs the websockets package: install python3-websockets "
                              "(Debian) or `pip install websockets`")
        self.config = config or Config.from_env(url=url, token=token)
        if not (get_token or self.config.token):
            raise ValueError("give token or get_token (the user's JWT), or set VIGIL_TOKEN")
        self.user_id = user_id
        self._get_token = get_token
        self._auto_ack = auto_ack
        self._delays = (initial_delay, max_delay, jitter, stable_after)
        self._open_timeout = open_timeout
        self._ack_timeout = ack_timeout
        self._ssl = ssl
        #: The newest alert received: where a reconnect resumes.
        self._received = Position(since, epoch)
        #: The newest alert handed to the caller.
        self._yielded: tuple[int | None, str | None] = (since, epoch)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(max_queue)
        self._acks: dict[str, list[asyncio.Future[None]]] = {}
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None
        self._unacked: str | None = None
        self._closed = False
        self._connected = asyncio.Event()

    # ------------------------------------------------------------ public

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def position(self) -> tuple[int | None, str | None]:
        """(seq, epoch) of the last alert yielded: keep it to resume a later
        run with ``AlertListener(..., since=seq, epoch=epoch)``."""
        return self._yielded

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Starts the listener if needed and waits for a connection the server
        has taken in: the handshake done and a first message received (the
        answer to a ping the listener sends on opening). From then on the
        connection shows in ``get_connection_stats``."""
        self._start()
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def ack(self, alert_id: str) -> None:
        """Acknowledges an alert and waits for the server's ``ack_ok``. Raises
        TransportError when not connected or no answer came in time,
        VigilError when the server does not know the alert."""
        ws = self._ws
        if ws is None:
            raise TransportError("not connected: the alert stays unacknowledged and will be sent again")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks.setdefault(alert_id, []).append(fut)
        try:
            await ws.send(json.dumps({"type": "ack", "alert_id": alert_id}))
            await asyncio.wait_for(asyncio.shield(fut), self._ack_timeout)
        except asyncio.TimeoutError:
            raise TransportError(f"no ack_ok for {alert_id} within {self._ack_timeout} s") from None
        except ConnectionClosed as e:
            raise TransportError(f"connection closed before ack_ok for {alert_id}") from e
        finally:
            waiting = self._acks.get(alert_id, [])
            if fut in waiting:
                waiting.remove(fut)
            if not waiting:
                self._acks.pop(alert_id, None)

    async def close(self) -> None:
        """Closes the connection and stops reconnecting; the iterator ends."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._put_nowait(_STOP)

    def __aiter__(self) -> "AlertListener":
        self._start()
        return self

    async def __anext__(self) -> dict[str, Any]:
        self._start()
        if self._unacked is not None:
            await self._send_auto_ack(self._unacked)
            self._unacked = None
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _STOP:
            self._put_nowait(_STOP)  # later calls end too
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._put_nowait(item)
            raise item
        self._yielded = (item.get("seq"), item.get("epoch", self._yielded[1]))
        if self._auto_ack:
            self._unacked = item.get("alert_id")
        return item  # type: ignore[no-any-return]

    async def __aenter__(self) -> "AlertListener":
        self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ connection loop

    def _start(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"vigil-listener-{self.user_id}")

    async def _run(self) -> None:
        initial, maximum, jitter, stable_after = self._delays
        attempt = 0
        while not self._closed:
            opened_at = None
            try:
                url = await self._url()
                connect = websockets.connect  # type: ignore[attr-defined]  # a lazy attribute in websockets 10
                async with connect(url, open_timeout=self._open_timeout, ping_interval=30, ping_timeout=30,
                                   close_timeout=5, max_size=8 * 1024 * 1024, ssl=self._ssl) as ws:
                    opened_at = time.monotonic()
                    self._ws = ws
                    # The server reads this only once it has registered the
                    # connection: its answer tells wait_connected so.
                    await ws.send('{"type":"ping"}')
                    log.info("vigil_client: listening for %s", self.user_id)
                    async for raw in ws:
                        await self._on_message(ws, raw)
                why = "closed by the server"
            except ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd is not None else None
                if code == _CLOSE_REPLACED:
                    return self._stop(ListenerStopped("replaced", "a newer connection of this user took over (4001)"))
                why = f"closed ({code})"
            except InvalidHandshake as e:
                status = _status_of(e)
                if status in (401, 403):
                    return self._stop(http_error(status, {"error": "unauthorized" if status == 401 else "forbidden",
                                                          "detail": "the server refused the listener's token"}))
                why = f"handshake refused: {e}"
            except (OSError, asyncio.TimeoutError, ValueError) as e:
                why = f"{type(e).__name__}: {e}"
            except VigilError as e:  # get_token failed for good
                return self._stop(e)
            except Exception as e:  # get_token failed, or a surprise: retry, never hang the consumer
                log.warning("vigil_client: listener for %s: %r", self.user_id, e)
                why = f"{type(e).__name__}: {e}"
            finally:
                self._ws = None
                self._connected.clear()
                for waiting in self._acks.values():
                    for fut in waiting:
                        if not fut.done():
                            fut.set_exception(TransportError("connection lost before ack_ok"))
            if opened_at is not None and time.monotonic() - opened_at >= stable_after:
                attempt = 0
            base = min(maximum, initial * 2 ** attempt)
            delay = random.uniform(base * (1 - jitter), min(maximum, base * (1 + jitter)))
            attempt += 1
            log.info("vigil_client: listener for %s %s; reconnecting in %.1f s", self.user_id, why, delay)
            await asyncio.sleep(delay)

    async def _url(self) -> str:
        token = self.config.token
        if self._get_token is not None:
            got = self._get_token()
            token = str(await got if inspect.isawaitable(got) else got)
        query = {"token": token or "", **self._received.query()}
        path = f"/ws/alerts/{urllib.parse.quote(self.user_id, safe='')}"
        return f"{self.config.ws_base}{path}?{urllib.parse.urlencode(query)}"

    async def _on_message(self, ws: Any, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        self._connected.set()  # the server has the connection (see wait_connected)
        kind = msg.get("type")
        if kind == "ping":
            await ws.send('{"type":"pong"}')
        elif kind == "anomaly_detected":
            if self._received.accept(msg.get("seq"), msg.get("epoch")):
                await self._queue.put(msg)  # a slow consumer slows the reading: the server keeps the rest
        elif kind == "ack_ok":
            for fut in self._acks.pop(str(msg.get("alert_id")), []):
                if not fut.done():
                    fut.set_result(None)
        elif kind == "error" and msg.get("alert_id") is not None:
            for fut in self._acks.pop(str(msg["alert_id"]), []):
                if not fut.done():
                    fut.set_exception(VigilError(f"{msg.get('error')}: {msg.get('detail')}"))

    async def _send_auto_ack(self, alert_id: str | None) -> None:
        ws = self._ws
        if ws is None or alert_id is None:
            return  # not acknowledged: the server sends it again, at least once
        try:
            await ws.send(json.dumps({"type": "ack", "alert_id": alert_id}))
        except ConnectionClosed:
            pass

    def _stop(self, error: BaseException) -> None:
        self._closed = True
        self._put_nowait(error)

    def _put_nowait(self, item: Any) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Make room: the consumer must see the end.
            self._queue.get_nowait()
            self._queue.put_nowait(item)


def _status_of(e: Exception) -> int | None:
    """The HTTP status of a refused handshake, across websockets versions."""
    status = getattr(e, "status_code", None)
    if status is None:
        response = getattr(e, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None
