"""The quick reference's backend snippet, unchanged but for its import, against
the real server: the alert reaches the user's connection with its frame, and
the connection health reads as the quick reference shows it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import textwrap

import vigil_client
import vigil_client.manager
from vigil_client import AlertListener

# The quick reference's "Backend Usage", verbatim except the import line
# (was: from app.api.websocket import get_websocket_manager).
QUICKREF_BACKEND = '''
from vigil_client import get_websocket_manager

ws_manager = get_websocket_manager()

# Send alert
await ws_manager.send_anomaly_alert(
    user_id="user_123",
    stream_id="stream_456",
    detection_result=result,
    annotated_frame=frame
)

# Check connection
stats = ws_manager.get_connection_stats("user_123")
if stats:
    print(f"User uptime: {stats['uptime_seconds']}s")
'''

# A tiny but real PNG (1×1, red), as a pipeline's annotated frame.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
                    "0000000c49444154789c63f8cfc000000301010018dd8db00000000049454e44ae426082")


async def run_snippet(result: object, frame: object) -> str:
    """Runs the snippet as the body of an async function, as it sits in a backend."""
    scope: dict = {"result": result, "frame": frame}
    exec("async def backend():\n" + textwrap.indent(QUICKREF_BACKEND, "    "), scope)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await scope["backend"]()
    return out.getvalue()


def test_quick_reference_snippet_delivers_alert_with_frame(server, monkeypatch):
    monkeypatch.setenv("VIGIL_URL", server.url)
    monkeypatch.setenv("VIGIL_TOKEN", server.token("backend", "admin"))
    monkeypatch.delenv("VIGIL_API_KEY", raising=False)
    # The process's manager is made on first use: from this environment.
    monkeypatch.setattr(vigil_client.manager, "_manager", None)
    result = {"type": "intrusion", "confidence": 0.93, "boxes": [[10, 20, 110, 220]]}
    user_token = server.token("user_123")

    async def scenario() -> tuple[str, dict]:
        async with AlertListener("user_123", url=server.url, token=user_token) as alerts:
            await alerts.wait_connected(timeout=15)
            printed = await run_snippet(result, PNG)
            alert = await asyncio.wait_for(alerts.__anext__(), 15)
            return printed, alert

    printed, alert = asyncio.run(scenario())
    assert alert["type"] == "anomaly_detected"
    assert alert["user_id"] == "user_123" and alert["stream_id"] == "stream_456"
    assert alert["detection"] == result
    # The frame URL serves the very bytes the backend handed over.
    assert alert["frame"]["content_type"] == "image/png"
    status, body = server.get(alert["frame"]["url"], user_token)
    assert status == 200 and body == PNG
    # The listener was connected while the snippet ran: stats were printed.
    assert printed.startswith("User uptime: ") and printed.strip().endswith("s")
    vigil_client.get_websocket_manager().close()


def test_connection_stats_have_the_quick_reference_fields(server, user_id):
    manager = vigil_client.get_websocket_manager(server.url, token=server.token("ops", "admin"))
    try:
        assert manager.get_connection_stats(user_id) is None  # nobody connected

        async def scenario() -> dict | None:
            async with AlertListener(user_id, url=server.url, token=server.token(user_id)) as alerts:
                await alerts.wait_connected(timeout=15)
                return await manager.get_connection_stats_async(user_id)

        stats = asyncio.run(scenario())
        assert stats is not None
        assert set(stats) == {"user_id", "connected", "connected_at", "uptime_seconds", "last_heartbeat",
                              "seconds_since_heartbeat"}
        assert stats["connected"] is True and stats["user_id"] == user_id
        assert isinstance(stats["uptime_seconds"], (int, float))
    finally:
        manager.close()


def test_background_manager_returns_at_once_and_delivers(server, user_id):
    manager = vigil_client.get_websocket_manager(server.url, token=server.token("ops", "admin"), background=True)
    try:
        async def scenario() -> list[dict]:
            async with AlertListener(user_id, url=server.url, token=server.token(user_id)) as alerts:
                await alerts.wait_connected(timeout=15)
                for i in range(20):
                    returned = await manager.send_anomaly_alert(user_id=user_id, stream_id=7,
                                                                detection_result={"i": i}, annotated_frame=PNG,
                                                                severity="high", group_key="cam-7/test")
                    assert returned is None  # queued, not awaited
                return [await asyncio.wait_for(alerts.__anext__(), 15) for _ in range(20)]

        got = asyncio.run(scenario())
        assert [a["detection"]["i"] for a in got] == list(range(20))
        assert all(a["stream_id"] == "7" for a in got)  # ints are sent as strings
        # Delivery can come before the answer to the publish: wait for the answers.
        assert manager.sender is not None and manager.sender.flush(timeout=30)
        assert manager.sender.stats.sent == 20 and manager.sender.stats.failed == 0
    finally:
        manager.close()
