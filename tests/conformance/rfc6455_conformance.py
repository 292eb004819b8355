#!/usr/bin/env python3
"""RFC 6455 conformance of vigil's WebSocket endpoint, over raw sockets.

Written from RFC 6455 (sections 4, 5 and 7) and laid out like the Autobahn
TestSuite's server cases (sections 1-7 and 10, plus the opening handshake).
Frames are built byte by byte with the standard library only, so the suite can
send what no WebSocket library would: reserved bits and opcodes, unmasked or
fragmented control frames, broken UTF-8, bad close codes.

vigil speaks JSON text, so Autobahn's "echo" becomes: send {"type":"ping"} in
the frame shapes under test and expect {"type":"pong"}. Server heartbeats
({"type":"ping"} text messages and ping frames) are skipped; ping frames are
answered with pong frames, as a well-behaved client would.

One server is started for the whole run; every test opens its own connection
as a fresh user, so the one-connection-per-user rule (close 4001) never
interferes.

Usage: rfc6455_conformance.py [PATH_TO_VIGIL] [unittest options, e.g. -k Section7]
       (default binary: $VIGIL_BIN, else build/vigil beside tests/)
Prints "N passed, N failed[, N skipped]" last and exits non-zero on failure.
"""
import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

SECRET = "conformance-secret-0123456789abcdef"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
READ_TIMEOUT = 5.0  # no single wait for the server is longer
QUIET = 0.5  # how long "nothing (more) arrives" is watched for
MAX_MESSAGE = 64 * 1024  # vigil's default --max-message-bytes

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {CONT: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}
RSV1, RSV2, RSV3 = 0x4, 0x2, 0x1

PING_JSON = b'{"type":"ping"}'

BINARY_PATH = None
SERVER = None
NOTES = []  # (test id, which RFC-allowed alternative the server took)
_users = itertools.count(1)


# --------------------------------------------------------------------------- server


class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="vigil-conformance-")
        os.mkdir(os.path.join(self.dir, "data"))
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env["VIGIL_JWT_SECRET"] = SECRET
        # stderr goes to a file: a pipe nobody drains would eventually block the server.
        self.proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", os.path.join(self.dir, "data"),
             "--ping-interval", "5", "--heartbeat-timeout", "10"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        deadline = time.monotonic() + 20
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
        raise RuntimeError(f"vigil did not start listening; log:\n{self.log_tail()}")

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.read().splitlines(keepends=True)[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global SERVER
    SERVER = Server(BINARY_PATH)


def tearDownModule():
    if SERVER:
        SERVER.stop()


# --------------------------------------------------------------------------- helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub, ttl=3600):
    """HS256 by hand, so the test depends on nothing vigil ships."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": sub, "exp": int(time.time()) + ttl}).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def new_user():
    return f"rfc6455-{next(_users)}"


def ws_path(user):
    return f"/ws/alerts/{user}?token={token(user)}"


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def mask_bytes(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None, length=None, length_bytes=None):
    """One frame as bytes. `length` overrides the header's payload length,
    `length_bytes` (0, 2 or 8) forces the length encoding (RFC 6455 5.2)."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length is None else length
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    mbit = 0x80 if mask else 0
    if length_bytes == 0:
        head = bytes([b0, mbit | n])
    elif length_bytes == 2:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4) if mask_key is None else mask_key
        return head + key + mask_bytes(payload, key)
    return head + payload


def close_payload(code=None, reason=b""):
    return b"" if code is None else struct.pack("!H", code) + reason


def fragments(payload, size, opcode=TEXT):
    """A message cut into frames of `size` bytes (the last may be shorter)."""
    chunks = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    return [frame(opcode if i == 0 else CONT, c, fin=(i == len(chunks) - 1)) for i, c in enumerate(chunks)]


def split_message(parts, opcode=TEXT):
    """A message made of the given payload pieces, one frame each."""
    return [frame(opcode if i == 0 else CONT, p, fin=(i == len(parts) - 1)) for i, p in enumerate(parts)]


def ping_json(size):
    """A JSON ping of exactly `size` bytes (size >= 15): whitespace, then an ignored field."""
    assert size >= len(PING_JSON)
    if size < 22:
        return b'{"type":"ping"' + b" " * (size - 15) + b"}"
    return b'{"type":"ping","p":"' + b"x" * (size - 22) + b'"}'


def ping_with(raw: bytes):
    """A JSON ping carrying raw bytes inside a string field."""
    return b'{"type":"ping","s":"' + raw + b'"}'


class ConnectionEnded(Exception):
    """The server closed (or reset) the TCP connection."""


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "payload")

    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def __repr__(self):
        name = OPCODE_NAMES.get(self.opcode, f"opcode {self.opcode}")
        body = self.payload[:80]
        shown = body.decode("utf-8", "replace") if self.opcode == TEXT else body.hex()
        return f"<{name} fin={int(self.fin)} len={len(self.payload)} {shown!r}>"

    def json(self):
        return json.loads(self.payload.decode("utf-8"))


def is_heartbeat(f):
    if f.opcode != TEXT:
        return False
    try:
        return f.json() == {"type": "ping"}
    except ValueError:
        return False


def parse_close(payload):
    """(code, reason) of a close frame from the server, checking what RFC 6455 5.5.1 and 7.4 require of it."""
    if not payload:
        return None, b""
    if len(payload) == 1:
        raise AssertionError("server sent a close frame with a 1-byte payload (RFC 6455 5.5.1)")
    code = struct.unpack("!H", payload[:2])[0]
    reason = payload[2:]
    # 0-999 unused, 1005/1006/1015 never sent, 1004 and 1016-2999 reserved (7.4.1, 7.4.2).
    # 1012-1014 were registered with IANA after the RFC; 5000 and up the RFC leaves undefined.
    if code < 1000 or code in (1004, 1005, 1006, 1015) or 1016 <= code <= 2999:
        raise AssertionError(f"server sent close code {code}, which an endpoint must not send (RFC 6455 7.4)")
    try:
        reason.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionError(f"server close reason is not UTF-8 (RFC 6455 5.5.1): {reason!r}")
    return code, reason


class CloseResult:
    def __init__(self):
        self.has_close = False  # a close frame arrived
        self.code = None
        self.reason = b""
        self.before = []  # frames (not heartbeats) before the close frame
        self.after = []  # frames after it (must be none)
        self.tcp_closed = False  # the server ended the TCP connection
        self.timed_out = False  # neither a close frame nor a TCP end came

    def __repr__(self):
        return (f"close={'%s' % self.code if self.has_close else 'none'} reason={self.reason!r} "
                f"before={self.before} after={self.after} tcp_closed={self.tcp_closed} timed_out={self.timed_out}")


class Client:
    """A raw WebSocket client connection."""

    def __init__(self, user=None, handshake=True):
        self.user = user or new_user()
        self.sock = socket.create_connection(("127.0.0.1", SERVER.port), timeout=READ_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.server_pings = 0
        if handshake:
            status, headers, _ = self.handshake()
            if status != 101:
                raise AssertionError(f"handshake refused: {status} {headers}")

    # -- opening handshake

    def handshake(self, path=None, key=None, headers=None, method="GET", version="HTTP/1.1"):
        """Sends an upgrade request; headers maps a name to a value, or to None to omit it.
        Returns (status, {lowercase name: value}, body)."""
        key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        fields = {"Host": f"127.0.0.1:{SERVER.port}", "Upgrade": "websocket", "Connection": "Upgrade",
                  "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        fields.update(headers or {})
        lines = [f"{method} {path or ws_path(self.user)} {version}"]
        lines += [f"{k}: {v}" for k, v in fields.items() if v is not None]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + READ_TIMEOUT
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split()[1])
        resp = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            resp[name] = (resp[name] + ", " if name in resp else "") + value.strip()
        body = b""
        if status != 101:
            length = int(resp.get("content-length", "0") or 0)
            try:
                while len(self.buf) < length:
                    self._fill(deadline)
            except (ConnectionEnded, socket.timeout):
                pass
            body = bytes(self.buf[:length])
            del self.buf[:length]
        self.key = key
        return status, resp, body

    # -- sending

    def send_raw(self, data, chop=None, delay=0.0, tolerate=False):
        """Sends bytes, optionally `chop` bytes per TCP send with `delay` between.
        With `tolerate`, a connection the server already ended is not an error."""
        try:
            if not chop:
                self.sock.sendall(data)
                return
            for i in range(0, len(data), chop):
                self.sock.sendall(data[i:i + chop])
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            if not tolerate:
                raise

    def send(self, opcode, payload=b"", tolerate=False, **kw):
        self.send_raw(frame(opcode, payload, **kw), tolerate=tolerate)

    def send_frames(self, frames, delay=0.0, tolerate=False):
        for f in frames:
            self.send_raw(f, tolerate=tolerate)
            if delay:
                time.sleep(delay)

    # -- receiving

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(min(remaining, READ_TIMEOUT))
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError) as e:
            raise ConnectionEnded(f"reset: {e}")
        if not data:
            raise ConnectionEnded("eof")
        self.buf += data

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv_frame(self, timeout=READ_TIMEOUT):
        """One frame from the server, checking what RFC 6455 5.1-5.5 require of a server's frames."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        if b1 & 0x80:
            raise AssertionError("server sent a masked frame (RFC 6455 5.1: a server MUST NOT mask)")
        if rsv:
            raise AssertionError(f"server frame has RSV bits {rsv:03b} without an extension (RFC 6455 5.2)")
        if opcode not in OPCODE_NAMES:
            raise AssertionError(f"server frame has reserved opcode {opcode} (RFC 6455 5.2)")
        if opcode >= 8 and (not fin or n > 125):
            raise AssertionError(f"server control frame fin={fin} len={n} (RFC 6455 5.5)")
        return Frame(fin, rsv, opcode, self._take(n, deadline))

    def next_event(self, timeout=READ_TIMEOUT, answer_pings=True):
        """The next frame that is not a server heartbeat. Server ping frames are
        answered with pongs, {"type":"ping"} messages skipped, fragmented server
        messages reassembled."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(deadline - time.monotonic())
            if f.opcode == PING:
                self.server_pings += 1
                if answer_pings:
                    self.send(PONG, f.payload, tolerate=True)
                continue
            if f.opcode in (TEXT, BINARY) and not f.fin:
                parts = [f.payload]
                while True:
                    g = self.recv_frame(deadline - time.monotonic())
                    if g.opcode == PING:
                        if answer_pings:
                            self.send(PONG, g.payload, tolerate=True)
                        continue
                    if g.opcode >= 8:
                        return g  # a close in the middle of a message
                    if g.opcode != CONT:
                        raise AssertionError(f"server started a new message inside a fragmented one: {g}")
                    parts.append(g.payload)
                    if g.fin:
                        break
                f = Frame(True, 0, f.opcode, b"".join(parts))
            if f.opcode == TEXT:
                try:
                    f.payload.decode("utf-8")
                except UnicodeDecodeError:
                    raise AssertionError(f"server text message is not UTF-8 (RFC 6455 5.6): {f}")
            if is_heartbeat(f):
                continue
            return f

    def expect_message(self, timeout=READ_TIMEOUT):
        f = self.next_event(timeout)
        if f.opcode != TEXT:
            raise AssertionError(f"expected a text message, got {f}")
        return f.json()

    def expect_pong_message(self, timeout=READ_TIMEOUT):
        msg = self.expect_message(timeout)
        if msg != {"type": "pong"}:
            raise AssertionError(f'expected {{"type":"pong"}}, got {msg}')

    def expect_pong_frame(self, payload, timeout=READ_TIMEOUT):
        f = self.next_event(timeout)
        if f.opcode != PONG:
            raise AssertionError(f"expected a pong frame, got {f}")
        if f.payload != payload:
            raise AssertionError(f"pong payload {f.payload.hex()} differs from the ping's {payload.hex()}")

    def expect_quiet(self, duration=QUIET):
        """Nothing but heartbeats arrives for `duration`, and the connection stays open."""
        try:
            f = self.next_event(duration)
        except socket.timeout:
            return
        raise AssertionError(f"expected nothing, got {f}")

    def read_until_close(self, timeout=READ_TIMEOUT, reply=True):
        """Reads until the server's close frame, answers it with a close (as RFC 6455
        5.5.1 asks), then waits for the server to end the TCP connection."""
        r = CloseResult()
        deadline = time.monotonic() + timeout
        try:
            while True:
                f = self.next_event(deadline - time.monotonic())
                if f.opcode == CLOSE:
                    r.has_close = True
                    r.code, r.reason = parse_close(f.payload)
                    break
                r.before.append(f)
        except ConnectionEnded:
            r.tcp_closed = True
            return r
        except socket.timeout:
            r.timed_out = True
            return r
        if reply:
            self.send(CLOSE, close_payload(r.code), tolerate=True)
        deadline = time.monotonic() + READ_TIMEOUT
        try:
            while True:
                r.after.append(self.recv_frame(deadline - time.monotonic()))
        except ConnectionEnded:
            r.tcp_closed = True
        except socket.timeout:
            pass
        return r

    def abort(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- base case


class Case(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.abort()
        if SERVER and not SERVER.alive():
            self.fail(f"the server died during this test; log:\n{SERVER.log_tail()}")

    def connect(self, **kw):
        c = Client(**kw)
        self.clients.append(c)
        return c

    def note(self, text):
        """Records which of the behaviours RFC 6455 allows the server chose."""
        NOTES.append((self.id().split(".", 1)[-1], text))

    def assertFails(self, c, codes=(1002,), tcp_only_ok=True, max_replies=0, max_pongs=0, result=None):
        """The server fails the connection: a close frame with one of `codes` (or,
        when `tcp_only_ok`, just the end of TCP, RFC 6455 7.1.7's SHOULD), after at
        most `max_replies` application messages and `max_pongs` pong frames, and
        then ends the TCP connection. `result`: an already read CloseResult."""
        r = result or c.read_until_close()
        replies = [f for f in r.before if f.opcode in (TEXT, BINARY)]
        pongs = [f for f in r.before if f.opcode == PONG]
        self.assertFalse(r.timed_out, f"the server neither closed nor failed the connection: {r}")
        self.assertLessEqual(len(replies), max_replies, f"application replies before the close: {r}")
        self.assertLessEqual(len(pongs), max_pongs, f"pong frames before the close: {r}")
        if r.has_close:
            self.assertIn(r.code, codes, f"close code: {r}")
        else:
            self.assertTrue(tcp_only_ok, f"the connection ended without a close frame (expected {codes}): {r}")
            self.note("failed the connection without a close frame (RFC 6455 7.1.7: SHOULD send one)")
        # No data after a close (5.5.1), no pong after a received close (5.5.2), no
        # processing once the connection is failed (7.1.7): nothing at all.
        self.assertEqual(r.after, [], "frames after the server's close frame (RFC 6455 5.5.1)")
        self.assertTrue(r.tcp_closed, f"the server did not end the TCP connection: {r}")
        return r

    def assertClosesWith(self, c, codes, **kw):
        """A close frame with one of `codes` is required (not just the end of TCP)."""
        return self.assertFails(c, codes, tcp_only_ok=False, **kw)

    def assertEchoesClose(self, c, sent_code, accepted=None):
        """After the client's close: the server answers with a close frame (RFC 6455
        5.5.1) and ends TCP. The answer's code: `accepted` or the echo of `sent_code`
        (Autobahn also accepts 1000; an empty close may be answered with none or 1000)."""
        accepted = accepted or ({None, 1000} if sent_code is None else {sent_code, 1000})
        r = c.read_until_close(reply=False)
        self.assertTrue(r.has_close, f"no close frame answered the client's close: {r}")
        self.assertIn(r.code, accepted, f"close answer: {r}")
        if r.code != sent_code:
            self.note(f"answered close {sent_code} with {r.code}")
        self.assertEqual(r.after, [], "frames after the server's close frame (RFC 6455 5.5.1)")
        self.assertTrue(r.tcp_closed, f"the server did not end the TCP connection after the close handshake: {r}")
        return r

    def assertStillWorks(self, c):
        c.send(TEXT, PING_JSON)
        c.expect_pong_message()


# --------------------------------------------------------------------------- handshake (RFC 6455 4)


class Handshake(Case):
    def test_accept_key_and_headers(self):
        c = self.connect(handshake=False)
        status, h, _ = c.handshake()
        self.assertEqual(status, 101)
        self.assertEqual(h.get("upgrade", "").lower(), "websocket")
        self.assertIn("upgrade", [t.strip().lower() for t in h.get("connection", "").split(",")])
        self.assertEqual(h.get("sec-websocket-accept"), accept_for(c.key))
        self.assertNotIn("sec-websocket-protocol", h, "no subprotocol was offered")
        self.assertNotIn("sec-websocket-extensions", h, "no extension was offered")
        self.assertStillWorks(c)

    def test_accept_key_rfc_example(self):
        # RFC 6455 1.3's own example
        self.assertEqual(accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        c = self.connect(handshake=False)
        status, h, _ = c.handshake(key="dGhlIHNhbXBsZSBub25jZQ==")
        self.assertEqual(status, 101)
        self.assertEqual(h.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def _refused(self, expected=None, **kw):
        c = self.connect(handshake=False)
        status, h, body = c.handshake(**kw)
        self.assertGreaterEqual(status, 400, f"{status} {h} {body!r}")
        self.assertLess(status, 500, f"{status} {h} {body!r}")
        if expected:
            self.assertIn(status, expected, f"{status} {h} {body!r}")
        self.assertNotIn("sec-websocket-accept", h)
        return status, h

    def test_missing_key(self):
        self._refused(headers={"Sec-WebSocket-Key": None}, expected=(400,))

    def test_wrong_version(self):
        status, h = self._refused(headers={"Sec-WebSocket-Version": "8"}, expected=(400, 426))
        if status == 426:  # RFC 6455 4.2.2 / 4.4: say which versions are supported
            self.assertIn("13", [v.strip() for v in h.get("sec-websocket-version", "").split(",")])
        else:
            self.note("answered 400, not 426 + Sec-WebSocket-Version")

    def test_missing_version(self):
        self._refused(headers={"Sec-WebSocket-Version": None}, expected=(400, 426))

    def test_missing_host(self):
        self._refused(headers={"Host": None})

    # RFC 6455 4.2.1 (5): the key is base64 that decodes to 16 bytes; otherwise the
    # server MUST stop and answer with an error such as 400 (4.2.1, last paragraph).
    # (Beast 1.81 only checks the key's length; vigil checks the rest itself.)
    def test_key_not_16_bytes(self):
        self._refused(key="dGhlIHNhbXBsZQ==", expected=(400,))  # base64 of 10 bytes

    def test_key_not_base64(self):
        self._refused(key="!!!!not-base64!!", expected=(400,))

    def test_key_empty(self):
        self._refused(key="", expected=(400,))

    def test_key_too_long(self):
        self._refused(key=base64.b64encode(os.urandom(32)).decode(), expected=(400,))

    # RFC 9110 15.5.22 (was RFC 7231 6.5.15): "The server MUST send an Upgrade
    # header field in a 426 response".
    def test_plain_get_426_names_upgrade(self):
        c = self.connect(handshake=False)
        status, h, body = c.handshake(headers={"Upgrade": None, "Connection": None, "Sec-WebSocket-Key": None,
                                               "Sec-WebSocket-Version": None})
        self.assertEqual(status, 426, f"{h} {body!r}")
        self.assertIn("websocket", h.get("upgrade", "").lower(), f"426 without Upgrade: {h}")

    def test_wrong_version_426_names_upgrade(self):
        c = self.connect(handshake=False)
        status, h, _ = c.handshake(headers={"Sec-WebSocket-Version": "8"})
        if status == 426:
            self.assertIn("websocket", h.get("upgrade", "").lower(), f"426 without Upgrade: {h}")

    def test_post_is_not_upgraded(self):
        self._refused(method="POST")

    def test_http10_is_not_upgraded(self):
        c = self.connect(handshake=False)
        status, h, body = c.handshake(version="HTTP/1.0")
        self.assertNotEqual(status, 101, f"{h} {body!r}")

    def test_connection_token_list(self):
        # Connection is a token list (RFC 6455 4.2.1 (4), RFC 7230 6.1)
        c = self.connect(handshake=False)
        status, h, _ = c.handshake(headers={"Connection": "keep-alive, Upgrade"})
        self.assertEqual(status, 101)
        self.assertEqual(h.get("sec-websocket-accept"), accept_for(c.key))
        self.assertStillWorks(c)

    def test_upgrade_value_case_insensitive(self):
        # RFC 6455 4.2.1 (3): "websocket", treated as an ASCII case-insensitive value
        c = self.connect(handshake=False)
        status, h, _ = c.handshake(headers={"Upgrade": "WebSocket", "Connection": "upgrade"})
        self.assertEqual(status, 101)
        self.assertEqual(h.get("sec-websocket-accept"), accept_for(c.key))
        self.assertStillWorks(c)

    def test_unknown_subprotocol_not_selected(self):
        # RFC 6455 4.2.2 (5.4): the server may only select an offered subprotocol, or none
        c = self.connect(handshake=False)
        status, h, _ = c.handshake(headers={"Sec-WebSocket-Protocol": "chat, superchat"})
        self.assertEqual(status, 101)
        if "sec-websocket-protocol" in h:
            self.assertIn(h["sec-websocket-protocol"], ("chat", "superchat"))

    def test_unknown_extension_not_accepted(self):
        # RFC 6455 9.1: the server may only accept extensions the client offered and it supports
        c = self.connect(handshake=False)
        status, h, _ = c.handshake(headers={"Sec-WebSocket-Extensions": "x-vigil-unknown; foo=1"})
        self.assertEqual(status, 101)
        self.assertNotIn("x-vigil-unknown", h.get("sec-websocket-extensions", ""))
        self.assertStillWorks(c)


# --------------------------------------------------------------------------- 1 framing


class Section1Framing(Case):
    def test_1_1_1_text_lengths_0_to_125(self):
        # 7-bit lengths. Under 15 bytes no JSON ping fits: those get vigil's error
        # reply instead, which still shows the frame was read whole.
        c = self.connect()
        for n in range(0, 126):
            if n < len(PING_JSON):
                c.send(TEXT, b"x" * n)
                msg = c.expect_message()
                self.assertEqual(msg.get("type"), "error", f"length {n}: {msg}")
            else:
                c.send(TEXT, ping_json(n))
                c.expect_pong_message()

    def _text_of(self, n, length_bytes):
        c = self.connect()
        data = frame(TEXT, ping_json(n))
        self.assertEqual(data[1] & 0x7F, {2: 126, 8: 127}[length_bytes])
        c.send_raw(data)
        c.expect_pong_message()
        self.assertStillWorks(c)

    def test_1_1_2_text_length_126(self):
        self._text_of(126, 2)

    def test_1_1_3_text_length_127(self):
        self._text_of(127, 2)

    def test_1_1_4_text_length_128(self):
        self._text_of(128, 2)

    def test_1_1_5_text_length_4096(self):
        self._text_of(4096, 2)

    def test_1_1_6_text_length_65000(self):
        self._text_of(65000, 2)

    def test_1_1_7_text_length_65535(self):
        self._text_of(65535, 2)

    def test_1_1_8_text_length_65536_64bit(self):
        # the smallest 64-bit length, and exactly the 64 KiB limit
        self._text_of(MAX_MESSAGE, 8)

    def test_1_1_9_text_65535_chopped_997(self):
        # Autobahn 1.1.8: one frame sent in 997-byte TCP writes
        c = self.connect()
        c.send_raw(frame(TEXT, ping_json(65535)), chop=997)
        c.expect_pong_message()

    def test_1_1_10_frame_sent_byte_by_byte(self):
        # the header itself split across TCP segments
        c = self.connect()
        c.send_raw(frame(TEXT, ping_json(200)), chop=1, delay=0.001)
        c.expect_pong_message()

    def test_1_1_11_zero_masking_key(self):
        # the mask bit is required; the key itself may be anything, all zeros too (RFC 6455 5.3)
        c = self.connect()
        c.send(TEXT, PING_JSON, mask_key=b"\0\0\0\0")
        c.expect_pong_message()

    def test_1_1_12_text_over_limit_1009(self):
        c = self.connect()
        c.send(TEXT, ping_json(MAX_MESSAGE + 1), tolerate=True)
        self.assertClosesWith(c, (1009,))

    def _binary(self, frames):
        c = self.connect()
        c.send_frames(frames, tolerate=True)
        self.assertClosesWith(c, (1003,))  # vigil: binary messages are not accepted

    def test_1_2_1_binary_length_0(self):
        self._binary([frame(BINARY, b"")])

    def test_1_2_2_binary_length_125(self):
        self._binary([frame(BINARY, os.urandom(125))])

    def test_1_2_3_binary_length_126(self):
        self._binary([frame(BINARY, os.urandom(126))])

    def test_1_2_4_binary_length_65535(self):
        self._binary([frame(BINARY, os.urandom(65535))])

    def test_1_2_5_binary_length_65536(self):
        self._binary([frame(BINARY, os.urandom(65536))])

    def test_1_2_6_binary_fragmented(self):
        self._binary(fragments(os.urandom(300), 100, opcode=BINARY))

    def test_1_2_7_binary_json_ping(self):
        # a JSON ping in a binary frame is still binary: refused, not answered
        self._binary([frame(BINARY, PING_JSON)])

    def test_1_2_9_binary_then_ping(self):
        # after its close frame the server sends no data (RFC 6455 5.5.1): no pong
        c = self.connect()
        c.send_raw(frame(BINARY, b"\x00\x01") + frame(TEXT, PING_JSON), tolerate=True)
        self.assertClosesWith(c, (1003,))

    def test_1_2_8_binary_over_limit_1009(self):
        c = self.connect()
        c.send(BINARY, os.urandom(MAX_MESSAGE + 1), tolerate=True)
        self.assertClosesWith(c, (1009,))


# --------------------------------------------------------------------------- 2 pings and pongs


class Section2PingsPongs(Case):
    def _ping(self, payload, chop=None):
        c = self.connect()
        c.send_raw(frame(PING, payload), chop=chop, delay=0.001 if chop else 0)
        c.expect_pong_frame(payload)
        self.assertStillWorks(c)

    def test_2_1_ping_empty(self):
        self._ping(b"")

    def test_2_2_ping_text_payload(self):
        self._ping(b"Hello, world!")

    def test_2_3_ping_binary_payload(self):
        self._ping(bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]))

    def test_2_4_ping_125(self):
        self._ping(bytes([0xFE]) * 125)

    def test_2_5_ping_126_fails(self):
        # control frames carry at most 125 bytes (RFC 6455 5.5)
        c = self.connect()
        c.send(PING, bytes([0xFE]) * 126, tolerate=True)
        self.assertFails(c)

    def test_2_6_ping_125_chopped(self):
        self._ping(bytes([0xFE]) * 125, chop=1)

    def test_2_7_unsolicited_pong_empty(self):
        # RFC 6455 5.5.3: an unsolicited pong is not answered
        c = self.connect()
        c.send(PONG, b"")
        self.assertStillWorks(c)

    def test_2_8_unsolicited_pong_payload(self):
        c = self.connect()
        c.send(PONG, b"unsolicited pong payload")
        self.assertStillWorks(c)

    def test_2_9_unsolicited_pong_then_ping(self):
        c = self.connect()
        c.send(PONG, b"unsolicited pong payload")
        c.send(PING, b"ping payload")
        c.expect_pong_frame(b"ping payload")
        self.assertStillWorks(c)

    def _ten_pings(self, chop):
        # RFC 6455 5.5.3 lets a server answer only the latest of several pings it
        # has not answered yet, so: pongs are for sent pings, in order, and the last
        # ping is answered. (Beast answers all ten.)
        c = self.connect()
        payloads = [f"payload-{i}".encode() for i in range(10)]
        c.send_raw(b"".join(frame(PING, p) for p in payloads), chop=chop, delay=0.0005 if chop else 0)
        c.send(TEXT, PING_JSON)
        got = []
        while True:
            f = c.next_event()
            if f.opcode == PONG:
                got.append(f.payload)
                continue
            self.assertEqual(f.opcode, TEXT)
            self.assertEqual(f.json(), {"type": "pong"})
            break
        it = iter(payloads)
        self.assertTrue(all(p in it for p in got), f"pongs out of order or unknown: {got}")
        self.assertTrue(got and got[-1] == payloads[-1], f"the last ping was not answered: {got}")
        if len(got) != len(payloads):
            self.note(f"answered {len(got)} of {len(payloads)} pings (RFC 6455 5.5.3 allows only the latest)")

    def test_2_10_ten_pings(self):
        self._ten_pings(None)

    def test_2_11_ten_pings_chopped(self):
        self._ten_pings(1)

    def test_2_13_server_ping_frames(self):
        # vigil pings every --ping-interval (5 s here) with a ping frame; recv_frame
        # checks its shape (unmasked, FIN, at most 125 bytes). Answered, the
        # connection stays up.
        c = self.connect()
        deadline = time.monotonic() + 8
        while True:
            self.assertLess(time.monotonic(), deadline, "no ping frame from the server within 8 s")
            try:
                f = c.recv_frame(min(READ_TIMEOUT, deadline - time.monotonic()))
            except socket.timeout:
                continue
            if f.opcode == PING:
                c.send(PONG, f.payload)
                break
            self.assertTrue(is_heartbeat(f), f"unexpected {f}")
        self.assertStillWorks(c)

    def test_2_12_ping_between_json_pings(self):
        c = self.connect()
        c.send_raw(frame(TEXT, PING_JSON) + frame(PING, b"mid") + frame(TEXT, PING_JSON))
        seen = [c.next_event() for _ in range(3)]
        kinds = [(f.opcode, f.payload if f.opcode == PONG else f.json()) for f in seen]
        self.assertEqual(sorted(k[0] for k in kinds), [TEXT, TEXT, PONG], kinds)
        self.assertIn((PONG, b"mid"), kinds)


# --------------------------------------------------------------------------- 3 reserved bits


class Section3ReservedBits(Case):
    """No extension is negotiated, so any RSV bit fails the connection (RFC 6455 5.2)."""

    def test_3_1_text_rsv1(self):
        c = self.connect()
        c.send(TEXT, PING_JSON, rsv=RSV1, tolerate=True)
        self.assertFails(c)

    def test_3_2_text_rsv2_between_pings(self):
        # the ping before may be answered; the one after must not be
        c = self.connect()
        c.send_raw(frame(TEXT, PING_JSON) + frame(TEXT, PING_JSON, rsv=RSV2) + frame(TEXT, PING_JSON), tolerate=True)
        self.assertFails(c, max_replies=1)

    def test_3_3_text_rsv3_between_pings_chopped(self):
        c = self.connect()
        c.send_raw(frame(TEXT, PING_JSON) + frame(TEXT, PING_JSON, rsv=RSV3) + frame(TEXT, PING_JSON),
                   chop=1, delay=0.001, tolerate=True)
        self.assertFails(c, max_replies=1)

    def test_3_4_text_rsv1_rsv2_after_answer(self):
        c = self.connect()
        self.assertStillWorks(c)
        c.send_raw(frame(TEXT, PING_JSON, rsv=RSV1 | RSV2) + frame(PING, b"after"), tolerate=True)
        self.assertFails(c)

    def test_3_5_binary_rsv1_rsv3(self):
        c = self.connect()
        c.send(BINARY, os.urandom(16), rsv=RSV1 | RSV3, tolerate=True)
        self.assertFails(c)

    def test_3_6_ping_rsv2_rsv3(self):
        c = self.connect()
        c.send(PING, b"ping", rsv=RSV2 | RSV3, tolerate=True)
        self.assertFails(c)

    def test_3_7_close_all_rsv(self):
        # not a close to echo: the frame itself is bad
        c = self.connect()
        c.send(CLOSE, close_payload(1000), rsv=RSV1 | RSV2 | RSV3, tolerate=True)
        self.assertFails(c)

    def test_3_8_continuation_rsv1(self):
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:5], fin=False), frame(CONT, PING_JSON[5:], rsv=RSV1)], tolerate=True)
        self.assertFails(c)

    def test_3_9_pong_rsv1(self):
        c = self.connect()
        c.send(PONG, b"", rsv=RSV1, tolerate=True)
        self.assertFails(c)


# --------------------------------------------------------------------------- 4 opcodes


class Section4Opcodes(Case):
    """Reserved opcodes 3-7 (non-control) and 11-15 (control) fail the connection
    (RFC 6455 5.2), and nothing after them is processed."""


def _make_opcode_test(opcode, payload):
    def test(self):
        c = self.connect()
        c.send_raw(frame(TEXT, PING_JSON) + frame(opcode, payload) + frame(TEXT, PING_JSON) + frame(PING, b"p"),
                   tolerate=True)
        self.assertFails(c, max_replies=1)

    return test


for _i, _op in enumerate((3, 4, 5, 6, 7)):
    setattr(Section4Opcodes, f"test_4_1_{_i + 1}_opcode_{_op}_empty", _make_opcode_test(_op, b""))
    setattr(Section4Opcodes, f"test_4_1_{_i + 6}_opcode_{_op}_payload", _make_opcode_test(_op, b"reserved opcode"))
for _i, _op in enumerate((11, 12, 13, 14, 15)):
    setattr(Section4Opcodes, f"test_4_2_{_i + 1}_opcode_{_op}_empty", _make_opcode_test(_op, b""))
    setattr(Section4Opcodes, f"test_4_2_{_i + 6}_opcode_{_op}_payload", _make_opcode_test(_op, b"reserved opcode"))


# --------------------------------------------------------------------------- 5 fragmentation


class Section5Fragmentation(Case):
    def test_5_1_ping_fragmented_fails(self):
        # control frames MUST NOT be fragmented (RFC 6455 5.4, 5.5)
        c = self.connect()
        c.send_frames([frame(PING, b"frag", fin=False), frame(CONT, b"ment", fin=True)], tolerate=True)
        self.assertFails(c)

    def test_5_2_pong_fragmented_fails(self):
        c = self.connect()
        c.send_frames([frame(PONG, b"frag", fin=False), frame(CONT, b"ment", fin=True)], tolerate=True)
        self.assertFails(c)

    def test_5_2b_close_fragmented_fails(self):
        c = self.connect()
        c.send_frames([frame(CLOSE, close_payload(1000), fin=False), frame(CONT, b"", fin=True)], tolerate=True)
        self.assertFails(c)

    def test_5_3_text_two_fragments(self):
        c = self.connect()
        c.send_frames(split_message([PING_JSON[:7], PING_JSON[7:]]))
        c.expect_pong_message()

    def test_5_4_text_two_fragments_chopped(self):
        c = self.connect()
        c.send_raw(b"".join(split_message([PING_JSON[:7], PING_JSON[7:]])), chop=1, delay=0.001)
        c.expect_pong_message()

    def test_5_5_text_two_fragments_with_delay(self):
        c = self.connect()
        c.send_frames(split_message([PING_JSON[:7], PING_JSON[7:]]), delay=0.3)
        c.expect_pong_message()

    def test_5_6_ping_between_fragments(self):
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:7], fin=False), frame(PING, b"between"), frame(CONT, PING_JSON[7:])])
        c.expect_pong_frame(b"between")  # answered before the message is complete
        c.expect_pong_message()

    def test_5_7_ping_between_fragments_chopped(self):
        c = self.connect()
        data = frame(TEXT, PING_JSON[:7], fin=False) + frame(PING, b"between") + frame(CONT, PING_JSON[7:])
        c.send_raw(data, chop=1, delay=0.001)
        c.expect_pong_frame(b"between")
        c.expect_pong_message()

    def test_5_8_ping_between_fragments_with_delay(self):
        c = self.connect()
        c.send(TEXT, PING_JSON[:7], fin=False)
        time.sleep(0.2)
        c.send(PING, b"between")
        c.expect_pong_frame(b"between")  # the pong does not wait for the message's end
        time.sleep(0.2)
        c.send(CONT, PING_JSON[7:])
        c.expect_pong_message()

    def test_5_9_continuation_without_start_fin(self):
        c = self.connect()
        c.send(CONT, PING_JSON, fin=True, tolerate=True)
        self.assertFails(c)

    def test_5_10_continuation_without_start_fin_chopped(self):
        c = self.connect()
        c.send_raw(frame(CONT, PING_JSON, fin=True), chop=1, delay=0.001, tolerate=True)
        self.assertFails(c)

    def test_5_11_continuation_without_start_nofin(self):
        c = self.connect()
        c.send(CONT, PING_JSON, fin=False, tolerate=True)
        self.assertFails(c)

    def test_5_12_continuation_after_complete_message(self):
        # a message, then a continuation with nothing to continue, then a message:
        # the first may be answered, nothing after the bad frame
        c = self.connect()
        data = b"".join(split_message([PING_JSON[:7], PING_JSON[7:]]))
        data += frame(CONT, b"nothing to continue", fin=False) + frame(TEXT, PING_JSON)
        c.send_raw(data, tolerate=True)
        self.assertFails(c, max_replies=1)

    def test_5_13_text_while_fragmented_open(self):
        # a new data frame before the open message's final fragment (RFC 6455 5.4)
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:7], fin=False), frame(TEXT, PING_JSON, fin=True)], tolerate=True)
        self.assertFails(c)

    def test_5_14_binary_while_fragmented_open(self):
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:7], fin=False), frame(BINARY, b"x", fin=True)], tolerate=True)
        self.assertFails(c)

    def test_5_15_text_nofin_twice(self):
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:7], fin=False), frame(TEXT, PING_JSON[7:], fin=False),
                       frame(CONT, b"", fin=True)], tolerate=True)
        self.assertFails(c)

    def test_5_16_five_fragments_with_pings_and_delays(self):
        # Autobahn 5.19/5.20
        c = self.connect()
        parts = [PING_JSON[0:3], PING_JSON[3:6], PING_JSON[6:9], PING_JSON[9:12], PING_JSON[12:]]
        frames = split_message(parts)
        for i, f in enumerate(frames):
            c.send_raw(f)
            if i in (1, 3):
                c.send(PING, f"ping-{i}".encode())
                c.expect_pong_frame(f"ping-{i}".encode())
            time.sleep(0.1)
        c.expect_pong_message()

    def test_5_17_unsolicited_pong_between_fragments(self):
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:7], fin=False), frame(PONG, b"unsolicited"), frame(CONT, PING_JSON[7:])])
        c.expect_pong_message()

    def test_5_18_empty_fragments_around_content(self):
        c = self.connect()
        c.send_frames(split_message([b"", PING_JSON, b""]))
        c.expect_pong_message()

    def test_5_19_many_empty_fragments(self):
        c = self.connect()
        parts = [b""] * 5 + [PING_JSON[:1]] + [b""] * 5 + [PING_JSON[1:]] + [b""] * 5
        c.send_frames(split_message(parts))
        c.expect_pong_message()

    def test_5_20_two_fragmented_messages_in_a_row(self):
        c = self.connect()
        c.send_raw(b"".join(split_message([PING_JSON[:4], PING_JSON[4:]])) +
                   b"".join(split_message([PING_JSON[:11], PING_JSON[11:]])))
        c.expect_pong_message()
        c.expect_pong_message()


def _make_fragment_size_test(total, size):
    def test(self):
        c = self.connect()
        c.send_raw(b"".join(fragments(ping_json(total), size)))
        c.expect_pong_message()
        self.assertStillWorks(c)

    return test


for _total, _size in ((200, 1), (200, 2), (200, 3), (1000, 7), (1000, 64), (1000, 125), (1000, 126),
                      (1000, 500), (1000, 999), (65535, 4096), (65535, 65534)):
    setattr(Section5Fragmentation, f"test_5_30_text_{_total}_in_frames_of_{_size}",
            _make_fragment_size_test(_total, _size))


# --------------------------------------------------------------------------- 6 UTF-8

# (name, bytes) put inside a JSON string: valid UTF-8 (RFC 3629) is answered,
# invalid fails the connection with 1007 (RFC 6455 8.1).
UTF8_VALID = [
    ("hello_mu", "Hello-µ@ßöäüàá-UTF-8!!".encode()),
    ("kosme", "κόσμε".encode()),
    ("first_2byte_U0080", b"\xc2\x80"),
    ("first_3byte_U0800", b"\xe0\xa0\x80"),
    ("first_4byte_U10000", b"\xf0\x90\x80\x80"),
    ("last_1byte_U007F", b"\x7f"),
    ("last_2byte_U07FF", b"\xdf\xbf"),
    ("last_3byte_UFFFF", b"\xef\xbf\xbf"),
    ("last_4byte_U10FFFF", b"\xf4\x8f\xbf\xbf"),
    ("boundary_UD7FF", b"\xed\x9f\xbf"),
    ("boundary_UE000", b"\xee\x80\x80"),
    ("boundary_UFFFD", b"\xef\xbf\xbd"),
    ("noncharacter_UFFFE", b"\xef\xbf\xbe"),
    ("noncharacter_UFDD0", b"\xef\xb7\x90"),
    ("noncharacter_U1FFFE", b"\xf0\x9f\xbf\xbe"),
    ("noncharacter_U10FFFE", b"\xf4\x8f\xbf\xbe"),
    ("emoji_U1F600", b"\xf0\x9f\x98\x80"),
]
UTF8_INVALID = [
    ("kosme_then_surrogate", "κόσμε".encode() + b"\xed\xa0\x80" + b"edited"),
    ("first_5byte", b"\xf8\x88\x80\x80\x80"),
    ("first_6byte", b"\xfc\x84\x80\x80\x80\x80"),
    ("last_4byte_U1FFFFF", b"\xf7\xbf\xbf\xbf"),
    ("last_5byte", b"\xfb\xbf\xbf\xbf\xbf"),
    ("last_6byte", b"\xfd\xbf\xbf\xbf\xbf\xbf"),
    ("above_max_U110000", b"\xf4\x90\x80\x80"),
    ("lone_continuation_80", b"\x80"),
    ("lone_continuation_BF", b"\xbf"),
    ("continuations_80BF80BF", b"\x80\xbf\x80\xbf"),
    ("lonely_start_C0_space", b"\xc0 "),
    ("lonely_start_E0_space", b"\xe0 "),
    ("lonely_start_F0_space", b"\xf0 "),
    ("lonely_start_F8_space", b"\xf8 "),
    ("lonely_start_FC_space", b"\xfc "),
    ("missing_last_C2", b"\xc2"),
    ("missing_last_E0A0", b"\xe0\xa0"),
    ("missing_last_F09080", b"\xf0\x90\x80"),
    ("missing_last_DF", b"\xdf"),
    ("missing_last_EFBF", b"\xef\xbf"),
    ("missing_last_F48FBF", b"\xf4\x8f\xbf"),
    ("concatenated_incomplete", b"\xc2\xe0\xa0\xf0\x90\x80\xdf\xef\xbf\xf4\x8f\xbf"),
    ("impossible_FE", b"\xfe"),
    ("impossible_FF", b"\xff"),
    ("impossible_FEFEFFFF", b"\xfe\xfe\xff\xff"),
    ("overlong_slash_2", b"\xc0\xaf"),
    ("overlong_slash_3", b"\xe0\x80\xaf"),
    ("overlong_slash_4", b"\xf0\x80\x80\xaf"),
    ("overlong_slash_5", b"\xf8\x80\x80\x80\xaf"),
    ("overlong_max_2_C1BF", b"\xc1\xbf"),
    ("overlong_max_3_E09FBF", b"\xe0\x9f\xbf"),
    ("overlong_max_4_F08FBFBF", b"\xf0\x8f\xbf\xbf"),
    ("overlong_nul_2", b"\xc0\x80"),
    ("overlong_nul_3", b"\xe0\x80\x80"),
    ("overlong_nul_4", b"\xf0\x80\x80\x80"),
    ("surrogate_UD800", b"\xed\xa0\x80"),
    ("surrogate_UDB7F", b"\xed\xad\xbf"),
    ("surrogate_UDB80", b"\xed\xae\x80"),
    ("surrogate_UDBFF", b"\xed\xaf\xbf"),
    ("surrogate_UDC00", b"\xed\xb0\x80"),
    ("surrogate_UDF80", b"\xed\xbe\x80"),
    ("surrogate_UDFFF", b"\xed\xbf\xbf"),
    ("surrogate_pair_D800_DC00", b"\xed\xa0\x80\xed\xb0\x80"),
    ("surrogate_pair_DBFF_DFFF", b"\xed\xaf\xbf\xed\xbf\xbf"),
]


class Section6Utf8(Case):
    def test_6_1_1_empty_text(self):
        # valid (empty) UTF-8; not JSON, so vigil answers with an error message
        c = self.connect()
        c.send(TEXT, b"")
        self.assertEqual(c.expect_message().get("type"), "error")
        self.assertStillWorks(c)

    def test_6_1_2_three_empty_fragments(self):
        c = self.connect()
        c.send_frames(split_message([b"", b"", b""]))
        self.assertEqual(c.expect_message().get("type"), "error")
        self.assertStillWorks(c)

    def test_6_2_1_valid_in_two_fragments_on_code_point_boundary(self):
        c = self.connect()
        data = ping_with("Hello-µ@ßöäüàá-UTF-8!!".encode())
        cut = data.index("ß".encode())
        c.send_frames(split_message([data[:cut], data[cut:]]))
        c.expect_pong_message()

    def test_6_2_2_valid_in_one_byte_fragments(self):
        c = self.connect()
        c.send_frames(fragments(ping_with("Hello-µ@ßöäüàá-UTF-8!!".encode()), 1))
        c.expect_pong_message()

    def test_6_2_3_kosme_in_one_byte_fragments(self):
        c = self.connect()
        c.send_frames(fragments(ping_with("κόσμε".encode()), 1))
        c.expect_pong_message()

    def test_6_3_1_invalid_in_one_byte_fragments(self):
        c = self.connect()
        c.send_frames(fragments(ping_with("κόσμε".encode() + b"\xed\xa0\x80" + b"edited"), 1), tolerate=True)
        self.assertFails(c, (1007,))

    def _fail_fast(self, first, rest, wait):
        self._fail_fast_on(self.connect(), first, rest, wait)

    def _fail_fast_on(self, c, first, rest, wait):
        """Sends `first`; if the connection has not failed within `wait` seconds,
        sends `rest`. Either way it must fail with 1007."""
        if c not in self.clients:
            self.clients.append(c)
        c.send_raw(first, tolerate=True)
        r = c.read_until_close(timeout=wait)
        if r.timed_out:
            self.note("did not fail fast (allowed): the rest of the message was sent")
            c.send_raw(rest, tolerate=True)
            r = None
        self.assertFails(c, (1007,), result=r)

    def test_6_4_1_fail_fast_on_fragment(self):
        # Autobahn 6.4.1: the second fragment makes the text invalid. Failing right
        # away is allowed, not required; the connection must fail by the message's end.
        c = self.connect()
        c.send(TEXT, b'{"type":"ping","s":"' + "κόσμε".encode(), fin=False)
        c.expect_quiet(QUIET)  # valid so far: nothing happens
        self._fail_fast_on(c, frame(CONT, b"\xf4\x90\x80\x80", fin=False),  # above U+10FFFF
                           frame(CONT, b'edited"}', fin=True), 2.0)

    def test_6_4_2_fail_fast_in_a_frame(self):
        # Autobahn 6.4.3/6.4.4 (informational): the invalid bytes arrive while the
        # frame is still incomplete.
        payload = b'{"type":"ping","s":"' + "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"x" * 60 + b'"}'
        data = frame(TEXT, payload)
        self._fail_fast(data[:-40], data[-40:], 1.0)

    def test_6_5_1_incomplete_at_message_end_single_frame(self):
        # the message ends inside a code point
        c = self.connect()
        c.send(TEXT, PING_JSON + b"\xe2\x82", tolerate=True)
        self.assertFails(c, (1007,))

    def test_6_5_2_incomplete_at_message_end_fragmented(self):
        c = self.connect()
        c.send_frames(split_message([PING_JSON + b"\xe2", b"\x82"]), tolerate=True)
        self.assertFails(c, (1007,))

    def test_6_5_3_invalid_join_across_fragments(self):
        # each fragment ends/starts plausibly, but E2 followed by '(' is no sequence
        c = self.connect()
        data = ping_with(b"\xe2(\xa1")
        cut = data.index(b"\xe2") + 1
        c.send_frames(split_message([data[:cut], data[cut:]]), tolerate=True)
        self.assertFails(c, (1007,))

    def test_6_5_4_invalid_in_last_fragment(self):
        c = self.connect()
        c.send_frames(split_message([b'{"type":"ping",', b'"s":"', b'\xc0\xaf"}']), tolerate=True)
        self.assertFails(c, (1007,))

    def test_6_5_6_valid_split_with_ping_between(self):
        # the UTF-8 state survives a control frame between the fragments
        c = self.connect()
        data = ping_with("€".encode())
        cut = data.index("€".encode()) + 2
        c.send_frames([frame(TEXT, data[:cut], fin=False), frame(PING, b"mid"), frame(CONT, data[cut:])])
        c.expect_pong_frame(b"mid")
        c.expect_pong_message()

    def test_6_5_5_valid_raw_nul(self):
        # U+0000 is valid UTF-8 (not valid inside a JSON string: vigil's error reply)
        c = self.connect()
        c.send(TEXT, ping_with(b"\x00"))
        self.assertEqual(c.expect_message().get("type"), "error")
        self.assertStillWorks(c)


def _make_utf8_test(raw, valid):
    def test(self):
        c = self.connect()
        if valid:
            c.send(TEXT, ping_with(raw))
            c.expect_pong_message()
            self.assertStillWorks(c)
        else:
            c.send_raw(frame(TEXT, ping_with(raw)) + frame(TEXT, PING_JSON), tolerate=True)
            self.assertFails(c, (1007,))

    return test


def _make_utf8_split_test(char, at):
    def test(self):
        c = self.connect()
        data = ping_with(b"a" + char + b"b")
        cut = data.index(char) + at
        c.send_frames(split_message([data[:cut], data[cut:]]))
        c.expect_pong_message()

    return test


for _name, _raw in UTF8_VALID:
    setattr(Section6Utf8, f"test_6_10_valid_{_name}", _make_utf8_test(_raw, True))
for _name, _raw in UTF8_INVALID:
    setattr(Section6Utf8, f"test_6_20_invalid_{_name}", _make_utf8_test(_raw, False))
for _name, _char in (("U00B5", "µ".encode()), ("U20AC", "€".encode()), ("U1F600", b"\xf0\x9f\x98\x80")):
    for _at in range(1, len(_char)):
        setattr(Section6Utf8, f"test_6_30_valid_{_name}_split_after_byte_{_at}", _make_utf8_split_test(_char, _at))


# --------------------------------------------------------------------------- 7 close handling


class Section7Close(Case):
    def test_7_1_1_ping_then_close(self):
        c = self.connect()
        self.assertStillWorks(c)
        c.send(CLOSE, close_payload(1000))
        self.assertEchoesClose(c, 1000, accepted={1000})

    def test_7_1_2_close_twice(self):
        c = self.connect()
        c.send_raw(frame(CLOSE, close_payload(1000)) + frame(CLOSE, close_payload(1000)), tolerate=True)
        self.assertEchoesClose(c, 1000)

    def test_7_1_3_ping_frame_after_close(self):
        # nothing after a close frame is processed (RFC 6455 5.5.1)
        c = self.connect()
        c.send_raw(frame(CLOSE, close_payload(1000)) + frame(PING, b"after close"), tolerate=True)
        r = self.assertEchoesClose(c, 1000)
        self.assertEqual(r.before, [])

    def test_7_1_4_text_after_close(self):
        c = self.connect()
        c.send_raw(frame(CLOSE, close_payload(1000)) + frame(TEXT, PING_JSON), tolerate=True)
        r = self.assertEchoesClose(c, 1000)
        self.assertEqual(r.before, [])

    def test_7_1_5_close_inside_fragmented_message(self):
        # a control frame may come between fragments; after it, the rest is ignored
        c = self.connect()
        c.send_raw(frame(TEXT, PING_JSON[:7], fin=False) + frame(CLOSE, close_payload(1000)) +
                   frame(CONT, PING_JSON[7:]), tolerate=True)
        r = self.assertEchoesClose(c, 1000)
        self.assertEqual(r.before, [])

    def test_7_1_6_message_then_close(self):
        # the answer to the message before the close may come (then before the
        # server's close) or not: RFC 6455 leaves it open once a close is received
        c = self.connect()
        c.send_raw(frame(TEXT, ping_json(60000)) + frame(CLOSE, close_payload(1000)), tolerate=True)
        r = self.assertEchoesClose(c, 1000)
        for f in r.before:
            self.assertEqual((f.opcode, f.json()), (TEXT, {"type": "pong"}))
        if not r.before:
            self.note("did not answer the message sent just before the close")

    def test_7_1_7_close_then_half_close(self):
        # the client sends its close and shuts its sending side: the server still
        # answers with a close and ends the connection
        c = self.connect()
        c.send(CLOSE, close_payload(1000))
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEchoesClose(c, 1000)

    def test_7_1_8_abrupt_ends(self):
        # TCP ends without a closing handshake, mid-frame, mid-message, or with a
        # reset: nothing to answer; the server must just survive (checked after
        # every test) and keep serving
        for data, rst in ((b"", False), (frame(TEXT, PING_JSON)[:5], False), (frame(TEXT, PING_JSON, fin=False), False),
                          (frame(TEXT, ping_json(1000))[:300], True)):
            c = self.connect()
            c.send_raw(data)
            if rst:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.sock.close()
        time.sleep(0.2)
        self.assertStillWorks(self.connect())

    def test_7_3_1_close_empty(self):
        c = self.connect()
        c.send(CLOSE, b"")
        self.assertEchoesClose(c, None)

    def test_7_3_2_close_one_byte_fails(self):
        # a close body is empty or starts with a 2-byte code (RFC 6455 5.5.1)
        c = self.connect()
        c.send(CLOSE, b"\x03", tolerate=True)
        self.assertFails(c)

    def test_7_3_3_close_code_only(self):
        c = self.connect()
        c.send(CLOSE, close_payload(1000))
        self.assertEchoesClose(c, 1000)

    def test_7_3_4_close_code_and_reason(self):
        c = self.connect()
        c.send(CLOSE, close_payload(1000, b"Hello World!"))
        self.assertEchoesClose(c, 1000)

    def test_7_3_5_close_max_reason_123(self):
        c = self.connect()
        c.send(CLOSE, close_payload(1000, b"*" * 123))
        self.assertEchoesClose(c, 1000)

    def test_7_3_6_close_reason_124_fails(self):
        # 126-byte control payload (RFC 6455 5.5)
        c = self.connect()
        c.send(CLOSE, close_payload(1000, b"*" * 124), tolerate=True)
        self.assertFails(c)

    def test_7_5_1_close_reason_invalid_utf8(self):
        # the reason must be UTF-8 (RFC 6455 5.5.1); 1002 or 1007 are both reasonable
        c = self.connect()
        c.send(CLOSE, close_payload(1000, "κόσμε".encode() + b"\xed\xa0\x80" + b"edited"), tolerate=True)
        self.assertFails(c, (1002, 1007))

    def test_7_5_2_close_reason_valid_utf8(self):
        c = self.connect()
        c.send(CLOSE, close_payload(1000, "κόσμε 😀".encode()))
        self.assertEchoesClose(c, 1000)


def _make_valid_close_test(code):
    def test(self):
        c = self.connect()
        c.send(CLOSE, close_payload(code, b"bye"))
        self.assertEchoesClose(c, code)

    return test


def _make_invalid_close_test(code, accepted):
    def test(self):
        c = self.connect()
        c.send(CLOSE, close_payload(code), tolerate=True)
        self.assertFails(c, accepted)

    return test


def _make_undefined_close_test(code):
    # codes RFC 6455 gives no meaning: Autobahn 7.13 ("actual events are undefined
    # by the spec") and IANA codes registered after the RFC. Either the close is
    # answered (echo or 1000) or the connection fails with 1002.
    def test(self):
        c = self.connect()
        c.send(CLOSE, close_payload(code), tolerate=True)
        r = c.read_until_close(reply=False)
        self.assertTrue(r.has_close or r.tcp_closed, f"{r}")
        if r.has_close:
            self.assertIn(r.code, (code, 1000, 1002), f"{r}")
        self.note("failed the connection" if not r.has_close or r.code == 1002 and code != 1002
                  else f"answered with close {r.code}")
        self.assertEqual(r.after, [])
        self.assertTrue(r.tcp_closed, f"{r}")

    return test


for _code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
    setattr(Section7Close, f"test_7_7_valid_code_{_code}", _make_valid_close_test(_code))
# 1005, 1006 and 1015 are never sent in a close frame (RFC 6455 7.4.1); 0-999 are
# unused, 1004 and 1016-2999 reserved (7.4.2).
for _code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999):
    setattr(Section7Close, f"test_7_9_invalid_code_{_code}", _make_invalid_close_test(_code, (1002,)))
for _code in (1012, 1013, 1014, 5000, 65535):
    setattr(Section7Close, f"test_7_13_undefined_code_{_code}", _make_undefined_close_test(_code))


# --------------------------------------------------------------------------- 10 limits and misc


class Section10Misc(Case):
    def test_10_1_1_65536_in_1300_byte_fragments(self):
        # Autobahn 10.1.1 (auto-fragmented 64 KiB message), exactly at vigil's limit
        c = self.connect()
        c.send_raw(b"".join(fragments(ping_json(MAX_MESSAGE), 1300)))
        c.expect_pong_message()

    def test_10_2_1_unmasked_text_fails(self):
        # a server MUST fail the connection on an unmasked client frame (RFC 6455 5.1)
        c = self.connect()
        c.send(TEXT, PING_JSON, mask=False, tolerate=True)
        self.assertFails(c)

    def test_10_2_2_unmasked_ping_fails(self):
        c = self.connect()
        c.send(PING, b"unmasked", mask=False, tolerate=True)
        self.assertFails(c)

    def test_10_2_3_unmasked_close_fails(self):
        c = self.connect()
        c.send(CLOSE, close_payload(1000), mask=False, tolerate=True)
        self.assertFails(c)

    def test_10_2_4_unmasked_continuation_fails(self):
        c = self.connect()
        c.send_frames([frame(TEXT, PING_JSON[:7], fin=False), frame(CONT, PING_JSON[7:], mask=False)], tolerate=True)
        self.assertFails(c)

    def test_10_3_1_just_under_limit(self):
        c = self.connect()
        c.send(TEXT, ping_json(MAX_MESSAGE - 1))
        c.expect_pong_message()

    def test_10_3_2_at_limit(self):
        c = self.connect()
        c.send(TEXT, ping_json(MAX_MESSAGE))
        c.expect_pong_message()

    def test_10_3_3_just_over_limit(self):
        c = self.connect()
        c.send(TEXT, ping_json(MAX_MESSAGE + 1), tolerate=True)
        self.assertClosesWith(c, (1009,))

    def test_10_3_4_fragmented_over_limit(self):
        # the limit is on the message, not the frame
        c = self.connect()
        c.send_raw(b"".join(fragments(ping_json(MAX_MESSAGE + 1), 40000)), tolerate=True)
        self.assertClosesWith(c, (1009,))

    def test_10_3_5_fragmented_at_limit(self):
        c = self.connect()
        c.send_raw(b"".join(fragments(ping_json(MAX_MESSAGE), 40000)))
        c.expect_pong_message()

    def test_10_3_6_huge_declared_length(self):
        # refused from the header: the payload is never sent
        c = self.connect()
        c.send_raw(frame(TEXT, b"", length=1 << 32) + os.urandom(4), tolerate=True)
        self.assertClosesWith(c, (1009,))

    def test_10_3_7_large_over_limit_close_not_lost(self):
        # 300 KB still in flight when the server refuses: its 1009 must not be lost to a reset
        c = self.connect()
        c.send(TEXT, ping_json(300000), tolerate=True)
        self.assertClosesWith(c, (1009,))

    def test_10_3_8_length_msb_set(self):
        # RFC 6455 5.2: the 64-bit length's most significant bit MUST be 0
        c = self.connect()
        c.send_raw(frame(TEXT, b"", length=1 << 63, length_bytes=8) + os.urandom(8), tolerate=True)
        self.assertFails(c, (1002, 1009))

    def test_10_4_1_non_minimal_16bit_length(self):
        self._non_minimal_check(2)

    def test_10_4_2_non_minimal_64bit_length(self):
        self._non_minimal_check(8)

    def _non_minimal_check(self, length_bytes):
        c = self.connect()
        c.send_raw(frame(TEXT, PING_JSON, length_bytes=length_bytes), tolerate=True)
        try:
            f = c.next_event()
        except ConnectionEnded:
            self.note("refused it without a close frame")
            return
        if f.opcode == TEXT:
            self.assertEqual(f.json(), {"type": "pong"})
            self.assertStillWorks(c)
            self.note("accepted the non-minimal length")
            return
        self.assertEqual(f.opcode, CLOSE, f"{f}")
        self.assertEqual(parse_close(f.payload)[0], 1002)
        self.note("refused the non-minimal length with 1002")


# --------------------------------------------------------------------------- main


def main():
    global BINARY_PATH
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        BINARY_PATH = os.path.abspath(args.pop(0))
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        BINARY_PATH = os.environ.get("VIGIL_BIN") or os.path.join(here, "..", "..", "build", "vigil")
    if not os.access(BINARY_PATH, os.X_OK):
        print(f"not an executable: {BINARY_PATH}", file=sys.stderr)
        sys.exit(2)
    started = time.monotonic()
    prog = unittest.main(module=__name__, argv=[sys.argv[0]] + args, exit=False,
                         testRunner=unittest.TextTestRunner(verbosity=2, stream=sys.stdout))
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    skipped = len(r.skipped)
    passed = max(0, r.testsRun - failed - skipped)  # a failed setUpModule is an error but no test
    if r.expectedFailures:
        print(f"known server deviations (expected failures, counted as passed): {len(r.expectedFailures)}")
        for test, _ in r.expectedFailures:
            print(f"  {test.id()}")
    if NOTES:
        print("RFC-allowed alternatives the server took:")
        for test_id, text in NOTES:
            print(f"  {test_id}: {text}")
    if r.unexpectedSuccesses:
        print("unexpected successes (a deviation was fixed: remove its @unittest.expectedFailure):")
        for test in r.unexpectedSuccesses:
            print(f"  {test.id()}")
    print(f"elapsed {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
