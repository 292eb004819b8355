"""The quick reference's backend API, served by vigil.

The quick reference's FastAPI backend kept every user's WebSocket in
``app/api/websocket.py`` and its code called::

    from app.api.websocket import get_websocket_manager
    ws_manager = get_websocket_manager()
    await ws_manager.send_anomaly_alert(user_id="user_123", stream_id="stream_456",
                                        detection_result=result, annotated_frame=frame)
    stats = ws_manager.get_connection_stats("user_123")

With vigil holding the WebSockets, only the import changes
(``from vigil_client import get_websocket_manager``): the manager publishes to
vigil over HTTP and asks vigil for connection health.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .background import BackgroundSender
from .publisher import PublishResult, VigilClient


class WebSocketManager:
    """``send_anomaly_alert`` and ``get_connection_stats`` as the quick
    reference's backend calls them.

    By default ``await send_anomaly_alert(...)`` returns once vigil has stored
    the alert (a PublishResult; the HTTP call runs on a worker thread, so the
    event loop goes on meanwhile) and raises what the publish raised. With
    ``background=True`` it only queues the alert for a BackgroundSender and
    returns None at once: a detection loop then never waits for the network,
    and a full queue raises QueueFullError.
    """

    def __init__(self, client: VigilClient | None = None, *, background: bool = False,
                 **sender_options: Any) -> None:
        self.client = client or VigilClient()
        self._sender: BackgroundSender | None = (
            self.client.background(**sender_options) if background else None)

    @property
    def sender(self) -> BackgroundSender | None:
        """The background sender, when ``background=True``."""
        return self._sender

    async def send_anomaly_alert(self, user_id: str, stream_id: str | int, detection_result: Any,
                                 annotated_frame: Any = None, **options: Any) -> PublishResult | None:
        """Publishes an alert to the user (see the class). ``options``:
        ``team``, ``severity``, ``escalation``, ``group_key``, ``timestamp``,
        ``idempotency_key``."""
        if self._sender is not None:
            self._sender.submit(user_id, stream_id, detection_result, annotated_frame, **options)
            return None
        return await asyncio.to_thread(self.client.publish, user_id, stream_id, detection_result,
                                       annotated_frame, **options)

    def get_connection_stats(self, user_id: str) -> dict[str, Any] | None:
        """The quick reference's dict (``connected``, ``connected_at``,
        ``uptime_seconds``, ``last_heartbeat``, ``seconds_since_heartbeat``) or
        None when the user is not connected. Synchronous, as in the quick
        reference: one HTTP round trip to vigil on the calling thread (in
        async code, ``await get_connection_stats_async`` keeps the loop free).
        Needs admin credentials."""
        return self.client.get_connection_stats(user_id)

    async def get_connection_stats_async(self, user_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.client.get_connection_stats, user_id)

    def get_all_connections(self) -> dict[str, Any]:
        """``{"total_connections", "connections": [...]}``, as ``GET /ws/connections``."""
        return self.client.get_connections()

    def close(self) -> None:
        """Sends what the background sender holds, then closes the connections."""
        self.client.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


_manager: WebSocketManager | None = None
_manager_lock = threading.Lock()


def get_websocket_manager(url: str | None = None, *, token: str | None = None, api_key: str | None = None,
                          background: bool | None = None, **settings: Any) -> WebSocketManager:
    """The process's manager, made on first use from VIGIL_URL and VIGIL_TOKEN
    or VIGIL_API_KEY (arguments win). Called with arguments, it makes a new
    manager with them and closes the previous one; called without, it returns
    the current one."""
    global _manager
    configured = any(v is not None for v in (url, token, api_key, background)) or bool(settings)
    with _manager_lock:
        if _manager is not None and not configured:
            return _manager
        previous = _manager
        sender_keys = {"max_queue", "max_batch", "linger", "on_error", "on_result"}
        sender_options = {k: settings.pop(k) for k in list(settings) if k in sender_keys}
        client = VigilClient(url, token=token, api_key=api_key, **settings)
        _manager = WebSocketManager(client, background=bool(background), **sender_options)
    if previous is not None:
        previous.close()
    return _manager
