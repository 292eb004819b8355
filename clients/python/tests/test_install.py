"""`pip install clients/python` with no package index, into a venv made from
Debian's python3, as the README says; the installed package publishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def test_installs_offline_into_a_venv_and_publishes(server, user_id, tmp_path):
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    if subprocess.run([python, "-c", "import ensurepip"], capture_output=True).returncode != 0:
        pytest.fail("python3 -m venv needs ensurepip: install python3-venv")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    # --no-index: the build may take nothing from an index (there is none here).
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    env.pop("PYTHONPATH", None)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index", str(PACKAGE_ROOT)],
                             capture_output=True, text=True, env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    code = (
        "import os, vigil_client\n"
        "from importlib import resources\n"
        "assert 'site-packages' in vigil_client.__file__, vigil_client.__file__\n"
        "assert resources.files('vigil_client').joinpath('py.typed').is_file()\n"
        "c = vigil_client.VigilClient()\n"
        "print(c.publish(os.environ['USER_ID'], 'cam', {'type': 'from-venv'}).alert_id)\n"
        "try:\n"
        "    vigil_client.AlertListener('u', token='t')\n"
        "except ImportError as e:\n"
        "    print(e)\n")
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=dict(env, VIGIL_URL=server.url, VIGIL_TOKEN=server.token("d", "publisher"),
                                  USER_ID=user_id))
    assert run.returncode == 0, run.stderr
    alert_id, listener_error = run.stdout.splitlines()[:2]
    assert [a["alert_id"] for a in server.history(user_id)] == [alert_id]
    # A plain venv has no websockets: publishing works, the listener says what to install.
    assert "python3-websockets" in listener_error
