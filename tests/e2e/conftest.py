"""A live server for end-to-end tests: gunicorn with several worker processes."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(pg_app, tmp_path):
    """The app served by gunicorn (2 workers) on the test PostgreSQL database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": pg_app.config["DATABASE_URL"],
           "SECRET_KEY": "e2e", "LOYALTY_INSTANCE": str(tmp_path / "instance")}
    env.pop("REDIS_URL", None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "server.app:create_app()"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("gunicorn did not start: " + proc.stdout.read().decode(errors="replace"))
    yield base
    # Quick shutdown (SIGINT): a threaded worker's graceful stop would wait for the browser's
    # kept-alive connections.
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
