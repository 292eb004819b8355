#!/usr/bin/python3
"""Alerts per second from one Python process (clients/python), beside `vigil publish`.

    bench/python_publish.py --vigil build/vigil --alerts 5000 --batch-alerts 50000 \
        --cli-alerts 500 [--store sqlite|memory] [--label-prefix vigil] [--run 1]

Starts its own server (`vigil serve --port 0`, a temp data dir), then, one
after the other from this single process:
  python-single      VigilClient.publish, one alert per request, one thread (closed loop)
  python-batch100    VigilClient.publish_many, 100 alerts per request
  python-background  BackgroundSender.submit in a loop, then flush (it batches what queues up)
  cli-publish        `vigil publish`, one process per alert (the binary's own client)
Each prints one JSON line: alerts/s, and the client's and the server's CPU
seconds (from /proc) per 1000 alerts. Alerts carry a small detection and no
frame; no user is connected, so this measures publishing, not fan-out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))

from vigil_client import VigilClient, make_alert  # noqa: E402

SECRET = "bench-python-0123456789abcdef01234567"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_server(binary: str, store: str, data_dir: str) -> tuple[subprocess.Popen, int]:
    log = open(os.path.join(data_dir, "server.log"), "wb")
    proc = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir",
                             os.path.join(data_dir, "db"), "--store", store, "--log-level", "info"],
                            env=dict(os.environ, VIGIL_JWT_SECRET=SECRET), stderr=log, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r'"event":"server\.listening".*?"port":(\d+)',
                      open(os.path.join(data_dir, "server.log")).read())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    raise SystemExit("vigil did not start")


def detection(i: int) -> dict:
    return {"type": "intrusion", "confidence": 0.93, "boxes": [[10, 20, 110, 220]], "n": i}


def measure(label: str, n: int, server_pid: int, work, **extra) -> dict:
    cpu0, srv0, t0 = time.process_time(), cpu_seconds(server_pid), time.perf_counter()
    children0 = os.times().children_user + os.times().children_system
    work()
    elapsed = time.perf_counter() - t0
    client_cpu = time.process_time() - cpu0 + (os.times().children_user + os.times().children_system - children0)
    server_cpu = cpu_seconds(server_pid) - srv0
    return {"scenario": "python", "label": label, "alerts": n, "seconds": round(elapsed, 3),
            "alerts_per_s": round(n / elapsed, 1),
            "client_cpu_ms_per_1000": round(1000 * client_cpu * 1000 / n, 1),
            "server_cpu_ms_per_1000": round(1000 * server_cpu * 1000 / n, 1), **extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--alerts", type=int, default=5000)
    ap.add_argument("--batch-alerts", type=int, default=50000)
    ap.add_argument("--cli-alerts", type=int, default=500)
    ap.add_argument("--store", default="sqlite")
    ap.add_argument("--label-prefix", default="vigil")
    ap.add_argument("--run", default="1")
    a = ap.parse_args()

    data_dir = tempfile.mkdtemp(prefix="vigil-bench-python-")
    proc, port = start_server(a.vigil, a.store, data_dir)
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, VIGIL_JWT_SECRET=SECRET)
    token = subprocess.run([a.vigil, "token", "--user", "bench", "--role", "publisher"], env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    lab = lambda variant: f"{a.label_prefix}/{variant}/{a.run}"  # noqa: E731
    try:
        with VigilClient(url, token=token) as client:
            client.publish("warmup", "cam", detection(0))

            def single() -> None:
                for i in range(a.alerts):
                    client.publish(f"user-{i % 100}", "cam-1", detection(i))

            def batched() -> None:
                alerts = [make_alert(f"user-{i % 100}", "cam-1", detection(i), config=client.config)
                          for i in range(a.batch_alerts)]
                for start in range(0, len(alerts), 100):
                    client.publish_many(alerts[start:start + 100])

            def background() -> None:
                sender = client.background(max_queue=a.batch_alerts, max_batch=100)
                for i in range(a.batch_alerts):
                    sender.submit(f"user-{i % 100}", "cam-1", detection(i))
                sender.close()
                assert sender.stats.sent == a.batch_alerts, sender.stats

            for label, n, work, extra in (("python-single", a.alerts, single, {"batch": 1}),
                                          ("python-batch100", a.batch_alerts, batched, {"batch": 100}),
                                          ("python-background", a.batch_alerts, background, {"batch": "auto"})):
                print(json.dumps(measure(lab(label), n, proc.pid, work, **extra)), flush=True)

        cli_env = dict(env, VIGIL_TOKEN=token)

        def cli() -> None:
            for i in range(a.cli_alerts):
                subprocess.run([a.vigil, "publish", "--url", url, "--user", f"user-{i % 100}", "--stream", "cam-1",
                                "--detection", json.dumps(detection(i))], env=cli_env, check=True,
                               stdout=subprocess.DEVNULL)

        print(json.dumps(measure(lab("cli-publish"), a.cli_alerts, proc.pid, cli, batch=1)), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
