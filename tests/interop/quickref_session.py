#!/usr/bin/env python3
"""The quick reference's own session, driven by Python's `websockets` (Debian
python3-websockets) against the real vigil binary: connect with ?token=, send
{"type":"ping"} and expect {"type":"pong"}, receive a published alert, ack it,
see the monitoring fields, and get replaced (4001) by a second connection.

Usage: quickref_session.py PATH_TO_VIGIL [--tls CERT KEY]
With --tls the same session runs over wss:// and https:// (vigil --tls-only),
trusting only CERT.
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

SECRET = "interop-secret-0123456789abcdef0123"
failures = []
# Set by main(): where the server is and how to reach it.
WS, HTTP, TLS = "ws://127.0.0.1", "http://127.0.0.1", None


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub, role=None, ttl=3600):
    """HS256 by hand, so the test depends on nothing vigil ships."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": sub, "exp": int(time.time()) + ttl}
    if role:
        claims["role"] = role
    payload = b64url(json.dumps(claims).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def http(port, method, path, body=None, tok=None):
    req = urllib.request.Request(f"{HTTP}:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if tok:
        req.add_header("Authorization", f"Bearer {tok}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10, context=TLS) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


async def session(port):
    url = f"{WS}:{port}/ws/alerts/user_123?token={token('user_123')}"
    async with websockets.connect(url, ssl=TLS) as ws:
        # > {"type":"ping"}   < {"type":"pong"}
        await ws.send('{"type":"ping"}')
        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
        check(msg == {"type": "pong"}, "ping gets pong")

        status, answer = http(port, "POST", "/api/v1/alerts",
                              {"user_id": "user_123", "stream_id": "stream_456",
                               "detection": {"type": "loitering", "confidence": 0.87}},
                              token("detector", "publisher"))
        check(status == 201 and answer["delivered"] is True, "publish answers 201 delivered")
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if msg["type"] != "ping":
                break
        check(msg["type"] == "anomaly_detected" and msg["alert_id"] == answer["alert_id"]
              and msg["stream_id"] == "stream_456" and msg["detection"]["type"] == "loitering",
              "anomaly_detected arrives with the published fields")

        await ws.send(json.dumps({"type": "ack", "alert_id": msg["alert_id"]}))
        while True:
            ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if ack["type"] != "ping":
                break
        check(ack == {"type": "ack_ok", "alert_id": msg["alert_id"]}, "ack gets ack_ok")

        status, stats = http(port, "GET", "/ws/connections/user_123", tok=token("ops", "admin"))
        check(status == 200 and set(stats) == {"user_id", "connected", "connected_at", "uptime_seconds",
                                               "last_heartbeat", "seconds_since_heartbeat"},
              "GET /ws/connections/{user_id} has the quick reference's fields")
        status, all_stats = http(port, "GET", "/ws/connections", tok=token("ops", "admin"))
        check(status == 200 and all_stats["total_connections"] >= 1, "GET /ws/connections lists it")

        # The library answers protocol pings by itself; stay idle past the 3 s timeout.
        await asyncio.sleep(4)
        await ws.send('{"type":"ping"}')
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            # alert_updated: the acknowledgement above, as every recipient gets it (docs/handling.md)
            if msg["type"] not in ("ping", "alert_updated"):
                break
        check(msg["type"] == "pong", "an idle client that answers protocol pings stays connected")

        async with websockets.connect(url, ssl=TLS) as newer:
            try:
                await asyncio.wait_for(ws.recv(), 5)
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as e:
                check(e.rcvd is not None and e.rcvd.code == 4001, "older connection closed with 4001")
            await newer.send('{"type":"ping"}')

    try:
        async with websockets.connect(f"{WS}:{port}/ws/alerts/user_123?token={token('mallory')}", ssl=TLS):
            check(False, "a token for another user is refused")
    except websockets.InvalidStatusCode as e:
        check(e.status_code == 403, "a token for another user is refused with 403")


def main():
    global WS, HTTP, TLS
    binary = sys.argv[1]
    args = [binary, "serve", "--host", "127.0.0.1", "--port", "0",
            "--data-dir", tempfile.mkdtemp(prefix="vigil-interop-"), "--ping-interval", "1", "--heartbeat-timeout", "3"]
    listening = r'"event":"server\.listening".*"port":(\d+)'
    if sys.argv[2:3] == ["--tls"]:
        cert, key = sys.argv[3], sys.argv[4]
        args += ["--tls-only", "true", "--tls-port", "0", "--tls-cert", cert, "--tls-key", key]
        listening = r'"event":"server\.listening".*"tls_port":(\d+)'
        WS, HTTP, TLS = "wss://localhost", "https://localhost", ssl.create_default_context(cafile=cert)
    env = dict(os.environ, VIGIL_JWT_SECRET=SECRET)
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    port = None
    for line in proc.stderr:
        m = re.search(listening, line)
        if m:
            port = int(m.group(1))
            break
    try:
        asyncio.run(session(port))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
