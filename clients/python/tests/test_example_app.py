"""examples/fastapi_backend.py, the quick reference's backend moved to vigil,
driven through its own HTTP endpoints (FastAPI's TestClient)."""

from __future__ import annotations

import asyncio
import base64
import importlib
import sys
from pathlib import Path

import pytest

from test_quickref import PNG
from vigil_client import AlertListener, get_websocket_manager

pytest.importorskip("fastapi")
pytest.importorskip("httpx")  # what fastapi.testclient drives the app with


def test_example_backend_delivers_and_reports_connections(server, user_id, monkeypatch):
    from fastapi.testclient import TestClient
    monkeypatch.setenv("VIGIL_URL", server.url)
    monkeypatch.setenv("VIGIL_TOKEN", server.token("backend", "admin"))
    get_websocket_manager(server.url, token=server.token("backend", "admin"))  # a fresh one from this env
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    try:
        backend = importlib.import_module("fastapi_backend")
    finally:
        sys.path.pop(0)

    async def scenario() -> tuple[dict, dict, dict, int]:
        with TestClient(backend.app) as http:
            async with AlertListener(user_id, url=server.url, token=server.token(user_id)) as alerts:
                await alerts.wait_connected(timeout=15)
                answer = await asyncio.to_thread(http.post, "/api/v1/detections", json={
                    "user_id": user_id, "stream_id": "stream_456",
                    "detection": {"type": "intrusion", "confidence": 0.93, "boxes": [[1, 2, 3, 4]]},
                    "frame": base64.b64encode(PNG).decode()})
                alert = await asyncio.wait_for(alerts.__anext__(), 15)
                stats = (await asyncio.to_thread(http.get, f"/ws/connections/{user_id}")).json()
            bad = await asyncio.to_thread(http.post, "/api/v1/detections", json={
                "user_id": user_id, "stream_id": "s", "detection": {"type": "x", "confidence": 1},
                "frame": base64.b64encode(b"not an image").decode()})
            return answer.json(), alert, stats, bad.status_code

    answer, alert, stats, bad_status = asyncio.run(scenario())
    assert answer["alert_id"] == alert["alert_id"] and answer["delivered"] is True
    assert alert["detection"] == {"type": "intrusion", "confidence": 0.93, "boxes": [[1, 2, 3, 4]]}
    assert server.get(alert["frame"]["url"], server.token(user_id)) == (200, PNG)
    assert stats["connected"] is True and "uptime_seconds" in stats
    assert bad_status == 422
