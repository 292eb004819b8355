#!/usr/bin/python3
"""Holds docs/api/openapi.json and asyncapi.json to the server that is built.

    api_description_test.py VIGIL_BINARY REPO_ROOT

- Every route in the dispatch (src/net/api_routes.cpp, the Web Push routes
  of src/net/push_routes.cpp and the handling routes of
  src/net/handling_routes.cpp) is a path of openapi.json,
  and every path of openapi.json is a route there (or the dashboard's).
- Every path and method of openapi.json, asked of the real server with an
  admin's credentials, is not answered 404 "no such endpoint" nor 405, and
  whatever status it answers is one the operation documents. Operations
  marked x-vigil-pending are skipped, and the test fails once the server
  answers one, so the mark goes.
- The server serves both files at /api/v1/, byte for byte as in docs/api.
- asyncapi.json names every message type that src/proto/messages.cpp reads or
  writes, and a real alert, pong and ack_ok match their payload schemas.
Standard library and Debian's python3-websockets only.
"""
import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import websockets

BINARY, ROOT = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
ADMIN_KEY = "api-description-test-admin-key-0123456789"
SECRET = "api-description-test-secret-0123456789abcdef"
METHODS = ("get", "head", "post", "put", "patch", "delete")


def load(name):
    with open(os.path.join(ROOT, "docs", "api", name), "rb") as f:
        raw = f.read()
    return raw, json.loads(raw)


OPENAPI_RAW, OPENAPI = load("openapi.json")
ASYNCAPI_RAW, ASYNCAPI = load("asyncapi.json")


def template(path):
    """/api/v1/alerts/{alert_id}/ack -> /api/v1/alerts/{}/ack"""
    return re.sub(r"\{[^}]+\}", "{}", path)


def source_routes():
    src = ""
    for name in ("api_routes.cpp", "push_routes.cpp", "handling_routes.cpp"):
        with open(os.path.join(ROOT, "src", "net", name)) as f:
            src += f.read()
    routes = set()
    for segments in re.findall(r"is_path\(\*?t,\s*\{([^}]*)\}\)", src):
        parts = re.findall(r'"([^"]*)"', segments)
        routes.add("/" + "/".join(p if p else "{}" for p in parts))
    return routes


def resolve_ref(spec, ref):
    node = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return resolve_ref(spec, node["$ref"]) if "$ref" in node else node


def check_schema(spec, schema, value, where):
    """The parts of JSON Schema these files use: $ref, type, const, enum, required, properties."""
    if "$ref" in schema:
        return check_schema(spec, resolve_ref(spec, schema["$ref"]), value, where)
    errors = []
    kinds = {"object": dict, "string": str, "integer": int, "boolean": bool, "array": list, "number": (int, float)}
    t = schema.get("type")
    if isinstance(t, str) and t in kinds and not isinstance(value, kinds[t]):
        errors.append(f"{where}: {value!r} is not {t}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: lacks {name}")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                errors += check_schema(spec, sub, value[name], f"{where}.{name}")
    return errors


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigil-api-")
        web = os.path.join(self.dir, "web")
        os.mkdir(web)
        with open(os.path.join(web, "index.html"), "w") as f:
            f.write("<!doctype html><title>test</title>")
        self.log_path = os.path.join(self.dir, "server.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env["VIGIL_JWT_SECRET"] = SECRET
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [BINARY, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", os.path.join(self.dir, "data"),
                 "--web-root", web, "--admin-api-keys", ADMIN_KEY],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                m = re.search(rb'"event"\s*:\s*"server\.listening".*?"port"\s*:\s*(\d+)', f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("vigil did not start")

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"X-API-Key": ADMIN_KEY}
        h.update(headers or {})
        if body is not None:
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        conn.request(method.upper(), path, body=body, headers=h)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class ApiDescription(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        status, body = cls.server.request(
            "post", "/api/v1/alerts",
            {"user_id": "api_user", "stream_id": "s1", "detection": {"type": "intrusion", "confidence": 0.5}})
        assert status == 201, (status, body)
        cls.alert_id = json.loads(body)["alert_id"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_every_dispatched_route_is_described_and_every_described_path_is_dispatched(self):
        described = {template(p) for p in OPENAPI["paths"]}
        dispatched = source_routes()
        self.assertTrue(dispatched, "no is_path(...) found in api_routes.cpp: update this test")
        self.assertEqual(sorted(dispatched - described), [], "routes missing from docs/api/openapi.json")
        # "/" and "/{}" are the dashboard's files (ctx.web), not an is_path route.
        self.assertEqual(sorted(described - dispatched - {"/", "/{}"}), [],
                         "paths in openapi.json that api_routes.cpp does not dispatch")

    def test_every_described_operation_is_served_with_a_documented_status(self):
        values = {"user_id": "api_user", "alert_id": self.alert_id, "file": "index.html", "stream_id": "s1",
                  "team": "api-team", "name": "api-policy"}
        checked = 0
        for path, item in OPENAPI["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                concrete = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)
                body = None
                content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
                if content:
                    body = content.get("example", {})
                status, data = self.server.request(method, concrete, body)
                not_routed = status == 405 or (status == 404 and b"no such endpoint" in data)
                with self.subTest(method=method.upper(), path=path):
                    if op.get("x-vigil-pending"):
                        self.assertTrue(not_routed, f"{method.upper()} {path} is served now ({status}): "
                                                    "remove its x-vigil-pending mark")
                        continue
                    self.assertFalse(not_routed, f"{method.upper()} {concrete}: {status} {data[:200]!r}")
                    self.assertIn(str(status), op["responses"],
                                  f"{method.upper()} {concrete} answered {status}, not documented: {data[:200]!r}")
                    checked += 1
        self.assertGreaterEqual(checked, 24)

    def test_the_server_serves_the_files_it_was_built_with(self):
        for name, raw in (("openapi.json", OPENAPI_RAW), ("asyncapi.json", ASYNCAPI_RAW)):
            status, data = self.server.request("get", "/api/v1/" + name)
            self.assertEqual(status, 200)
            self.assertEqual(data, raw, f"/api/v1/{name} differs from docs/api/{name}: rebuild")
        self.assertTrue(OPENAPI["openapi"].startswith("3.1"))
        self.assertTrue(ASYNCAPI["asyncapi"].startswith("3."))

    def test_every_reference_resolves(self):
        for spec, name in ((OPENAPI, "openapi.json"), (ASYNCAPI, "asyncapi.json")):
            refs = re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(spec))
            for ref in refs:
                with self.subTest(file=name, ref=ref):
                    resolve_ref(spec, ref)

    def test_asyncapi_names_every_message_type_of_the_protocol(self):
        src = ""
        for name in ("messages.cpp", "alert_json.cpp"):  # alert_updated is built with the alert's JSON
            with open(os.path.join(ROOT, "src", "proto", name)) as f:
                src += f.read()
        client_types = set(re.findall(r'\bt == "(\w+)"', src))
        server_types = set(re.findall(r'\{"type":"(\w+)"', src)) | {"ping", "pong"}  # heartbeats: net/ws_session
        ops = ASYNCAPI["operations"]

        def described(op):
            return {resolve_ref(ASYNCAPI, m["$ref"])["payload"]["properties"]["type"]["const"]
                    for m in ops[op]["messages"]}
        self.assertEqual(described("receiveClientMessages"), client_types)
        self.assertEqual(described("sendAlerts"), server_types)

    def test_real_messages_match_their_schemas(self):
        messages = ASYNCAPI["components"]["messages"]
        port = self.server.port
        token = subprocess.run([BINARY, "token", "--user", "api_user"], env={"VIGIL_JWT_SECRET": SECRET},
                               capture_output=True, text=True, check=True).stdout.strip()

        async def session():
            got = {}
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/alerts/api_user?token={token}") as ws:
                got["anomaly_detected"] = json.loads(await asyncio.wait_for(ws.recv(), 20))
                await ws.send(json.dumps({"type": "ping"}))
                await ws.send(json.dumps({"type": "ack", "alert_id": self.alert_id}))
                while len(got) < 3:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    got.setdefault(m["type"], m)
            return got
        got = asyncio.run(session())
        for name, key in (("anomaly_detected", "anomalyDetected"), ("pong", "serverPong"), ("ack_ok", "ackOk")):
            with self.subTest(message=name):
                self.assertIn(name, got)
                self.assertEqual(check_schema(ASYNCAPI, messages[key]["payload"], got[name], name), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
