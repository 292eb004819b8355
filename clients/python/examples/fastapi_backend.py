"""The quick reference's detection backend, with vigil holding the WebSockets.

The original app served ``/ws/alerts/{user_id}`` itself and kept every socket
in ``app/api/websocket.py``; its detection code called
``get_websocket_manager().send_anomaly_alert(...)``. Here the same calls go to
vigil (README.md of clients/python, "Moving a FastAPI backend to vigil"):
the WebSocket endpoint and the connection manager are gone, the monitoring
endpoints ask vigil, and the detection code changed only its import.

    export VIGIL_URL=http://localhost:8000
    export VIGIL_TOKEN="$(vigil token --user detector --role admin)"   # admin: publish + monitor
    uvicorn fastapi_backend:app --port 8080

    curl -X POST localhost:8080/api/v1/detections -H 'Content-Type: application/json' \
         -d '{"user_id":"user_123","stream_id":"stream_456","detection":{"type":"intrusion","confidence":0.93}}'
    curl localhost:8080/ws/connections/user_123
"""

from __future__ import annotations

from typing import Optional

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from vigil_client import EncodingError, HTTPError, TransportError, get_websocket_manager

app = FastAPI(title="detection backend (alerts delivered by vigil)")


class DetectionResult(BaseModel):
    type: str
    confidence: float
    boxes: list[list[int]] = []


class AnalysedFrame(BaseModel):
    """What the video pipeline reports for a frame with an anomaly."""

    user_id: str
    stream_id: str
    detection: DetectionResult
    #: The annotated frame, JPEG or PNG in base64.
    frame: Optional[str] = None


@app.post("/api/v1/detections", status_code=202)
async def report_detection(report: AnalysedFrame) -> dict:
    ws_manager = get_websocket_manager()
    try:
        # The quick reference's call, unchanged.
        result = await ws_manager.send_anomaly_alert(
            user_id=report.user_id,
            stream_id=report.stream_id,
            detection_result=report.detection,
            annotated_frame=report.frame,
        )
    except EncodingError as e:
        raise HTTPException(status_code=422, detail=str(e))
    except HTTPError as e:  # refused by vigil: its status and detail
        raise HTTPException(status_code=502, detail=f"vigil: {e}")
    except TransportError as e:
        raise HTTPException(status_code=503, detail=f"vigil unreachable: {e}")
    return {"alert_id": result.alert_id if result else None, "delivered": result.delivered if result else None}


@app.get("/ws/connections/{user_id}")
async def connection(user_id: str) -> dict:
    """The quick reference's monitoring endpoint, answered from vigil."""
    stats = await get_websocket_manager().get_connection_stats_async(user_id)
    return stats or {"user_id": user_id, "connected": False}


@app.get("/ws/connections")
async def connections() -> dict:
    import asyncio
    return await asyncio.to_thread(get_websocket_manager().get_all_connections)


@app.on_event("shutdown")
async def close_vigil() -> None:
    await get_websocket_manager().aclose()
