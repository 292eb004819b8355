"""Fixtures: the real vigil binary ($VIGIL_BIN, else build/vigil of this
checkout) on a free loopback port, tokens minted by `vigil token`, and the
package from this source tree."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent
REPO = PACKAGE_ROOT.parent.parent
sys.path.insert(0, str(PACKAGE_ROOT / "src"))
sys.path.insert(0, str(HERE))

SECRET = "python-client-tests-0123456789abcdef"
LISTENING = re.compile(r'"event":"server\.listening".*?"port":(\d+)')


def vigil_binary() -> str:
    path = os.environ.get("VIGIL_BIN") or str(REPO / "build" / "vigil")
    if not os.access(path, os.X_OK):
        pytest.exit(f"no vigil binary at {path}: build it (scripts/build.sh build) or set VIGIL_BIN", 2)
    return path


class VigilServer:
    """One `vigil serve` process; restartable on the same port and data dir."""

    def __init__(self, *args: str, store: str = "sqlite", max_file_bytes: int | None = None) -> None:
        self.binary = vigil_binary()
        self.args = list(args)
        self.store = store
        self.max_file_bytes = max_file_bytes
        self.data_dir = tempfile.mkdtemp(prefix="vigil-pytest-")
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ, VIGIL_JWT_SECRET=SECRET)

    def start(self) -> "VigilServer":
        limit = self.max_file_bytes

        def limit_file_size() -> None:
            # A file size limit makes the store's writes fail (EFBIG) as on a
            # full disk; SIGXFSZ is ignored so the write fails instead of
            # killing the server.
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        log = open(self.log_path, "ab")
        offset = log.tell()
        cmd = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir",
               os.path.join(self.data_dir, "db"), "--store", self.store, *self.args]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=log,
                                     preexec_fn=limit_file_size)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                m = LISTENING.search(fh.read().decode("utf-8", "replace"))
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"vigil did not start in 60 s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        """Stops and starts again on the same port (and data dir)."""
        self.stop()
        self.start()

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, user: str, role: str | None = None) -> str:
        cmd = [self.binary, "token", "--user", user] + (["--role", role] if role else [])
        return subprocess.run(cmd, env=self.env, check=True, capture_output=True, text=True).stdout.strip()

    def get(self, path: str, token: str) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def history(self, user: str) -> list[dict]:
        import json
        status, body = self.get(f"/api/v1/alerts?user_id={user}&limit=1000", self.token("ops", "admin"))
        assert status == 200, body
        return json.loads(body)["alerts"]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = VigilServer("--ping-interval", "2", "--heartbeat-timeout", "10").start()
    yield s
    s.cleanup()


@pytest.fixture
def fresh_server(request):
    """A server of this test's own; mark a test with
    @pytest.mark.server(args..., store=..., max_file_bytes=...) to configure it."""
    marker = request.node.get_closest_marker("server")
    args = marker.args if marker else ()
    kwargs = marker.kwargs if marker else {}
    s = VigilServer(*args, **kwargs).start()
    yield s
    s.cleanup()


def pytest_configure(config):
    config.addinivalue_line("markers", "server(*args, store, max_file_bytes): configures fresh_server")


_user_counter = 0


@pytest.fixture
def user_id(request) -> str:
    """A user id of this test's own, so that tests sharing a server do not see each other's alerts."""
    global _user_counter
    _user_counter += 1
    name = re.sub(r"[^A-Za-z0-9]", "", request.node.name)[:60]
    return f"u{_user_counter}-{name}"
