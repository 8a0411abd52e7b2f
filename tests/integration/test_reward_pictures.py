"""Reward pictures fetched from a real loopback HTTP server, kept, and served from our URL on both databases."""
from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import auth
from tests.integration.test_rewards import catalog_file, upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 64


class Pictures:
    """A loopback picture server: each path answers its own way; ``hits`` counts requests per path."""

    def __init__(self):
        self.hits: Counter[str] = Counter()
        self.flaky_failures = 2
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits[self.path] += 1
                status, kind, body = owner.answer(self.path)
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the fetcher hung up on purpose (too slow, too large)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/ok.png":
            return 200, "image/png", PNG
        if path == "/other.gif":
            return 200, "image/gif; charset=binary", GIF
        if path == "/moved":
            return 302, "text/plain", b"/ok.png"
        if path == "/big.png":
            return 200, "image/png", PNG + b"\x00" * 5000
        if path == "/page.png":
            return 200, "text/html", b"<html>not a picture</html>"
        if path == "/liar.png":
            return 200, "image/png", b"<html>says png, is not</html>"
        if path == "/flaky.png":
            if self.hits[path] <= self.flaky_failures:
                return 503, "text/plain", b"busy"
            return 200, "image/png", PNG
        if path == "/slow.png":
            time.sleep(1.5)
            return 200, "image/png", PNG
        return 404, "text/plain", b"gone"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source():
    server = Pictures()
    yield server
    server.stop()


@pytest.fixture
def allowed(app):
    """The operator allows the loopback host (the SSRF guard refuses it otherwise)."""
    app.config.update(PICTURE_ALLOW_HOSTS="127.0.0.1", PICTURE_MAX_BYTES=2000, PICTURE_TIMEOUT=1.0,
                      PICTURE_RETRY_DELAYS="0,0")
    yield app
    for name in ("PICTURE_ALLOW_HOSTS", "PICTURE_MAX_BYTES", "PICTURE_TIMEOUT", "PICTURE_RETRY_DELAYS"):
        app.config.pop(name, None)


def rewards(client, keys) -> dict:
    listed = client.get("/api/v1/rewards?include_inactive=true", headers=auth(keys["admin"]))
    return {r["sku"]: r for r in listed.get_json()["rewards"]}


def row(sku: str, url: str) -> str:
    return f"{sku};{sku} name;900;;PLN;{url};100"


def test_a_picture_is_fetched_kept_and_served_when_the_source_is_gone(allowed, client, keys, source):
    upload(client, keys["erp"], catalog_file(row("R1", source.url("/ok.png")), row("R2", source.url("/moved"))))
    got = rewards(client, keys)
    assert got["R1"]["picture_state"] == "stored" and got["R2"]["picture_state"] == "stored"
    url = got["R1"]["picture_url"]
    assert url.startswith("http://localhost/api/v1/rewards/") and source.url("") not in url
    picture = client.get(url)  # public: a shop page's <img> sends no key
    assert (picture.status_code, picture.mimetype, picture.data) == (200, "image/png", PNG)
    assert picture.headers["X-Content-Type-Options"] == "nosniff"
    cached = client.get(url, headers={"If-None-Match": picture.headers["ETag"]})
    assert cached.status_code == 304

    source.stop()  # the supplier's server goes away; the next file names a new, dead URL
    upload(client, keys["erp"], catalog_file(row("R1", "http://127.0.0.1:9/new.png"),
                                             row("R2", source.url("/moved"))), name="C2.csv")
    after = rewards(client, keys)["R1"]
    assert after["picture_state"] == "failed"
    assert client.get(after["picture_url"]).data == PNG  # what we kept is still shown
    assert client.get("/api/v1/rewards/999/picture").status_code == 404


def test_too_large_not_an_image_a_lying_type_and_a_timeout_are_refused(allowed, client, keys, source):
    from engine.models import RewardPicture
    from server.extensions import db
    upload(client, keys["erp"], catalog_file(row("B", source.url("/big.png")), row("H", source.url("/page.png")),
                                             row("L", source.url("/liar.png")), row("S", source.url("/slow.png")),
                                             row("G", source.url("/other.gif"))))
    got = rewards(client, keys)
    assert {sku: r["picture_state"] for sku, r in got.items()} == {
        "B": "failed", "H": "failed", "L": "failed", "S": "failed", "G": "stored"}
    assert all(got[sku]["picture_url"] is None for sku in "BHLS")
    with allowed.app_context():
        errors = {p.reward_id: p.error for p in db.session().query(RewardPicture)}
    by_sku = {sku: errors[r["id"]] for sku, r in got.items() if errors[r["id"]]}
    assert "more than the limit of 2,000 bytes" in by_sku["B"]
    assert "text/html, not an image" in by_sku["H"]
    assert "its bytes are not such an image" in by_sku["L"]
    assert "timed out" in by_sku["S"] or "too long" in by_sku["S"]
    assert source.hits["/big.png"] == 1 and source.hits["/page.png"] == 1  # a refusal is not retried
    assert client.get(got["G"]["picture_url"]).mimetype == "image/gif"


def test_a_source_that_fails_twice_is_retried_by_the_job(allowed, client, keys, source):
    upload(client, keys["erp"], catalog_file(row("F", source.url("/flaky.png"))))
    assert rewards(client, keys)["F"]["picture_state"] == "stored"
    assert source.hits["/flaky.png"] == 3


def test_a_loopback_address_is_refused_unless_the_operator_allows_it(app, client, keys, source):
    upload(client, keys["erp"], catalog_file(row("P", source.url("/ok.png"))))
    assert rewards(client, keys)["P"]["picture_state"] == "failed"
    assert source.hits["/ok.png"] == 0  # refused before any connection
    # The operator allows the host; the CLI tries the failed pictures again.
    app.config["PICTURE_ALLOW_HOSTS"] = "127.0.0.0/8"
    try:
        done = app.test_cli_runner().invoke(args=["rewards", "pictures", "--retry-failed"])
    finally:
        app.config.pop("PICTURE_ALLOW_HOSTS")
    assert done.exit_code == 0 and "1 pictures queued" in done.output
    assert rewards(client, keys)["P"]["picture_state"] == "stored" and source.hits["/ok.png"] == 1


def test_the_fetch_runs_on_a_real_rq_worker(pg_app, keys, redis_url, source):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from redis import Redis

    from server import jobs
    from server.app import create_app
    client = pg_app.test_client()
    upload(client, keys["erp"], catalog_file(row("W", source.url("/ok.png"))))  # inline: loopback refused
    assert rewards(client, keys)["W"]["picture_state"] == "failed"
    Redis.from_url(redis_url).flushdb()
    queued_app = create_app({"TESTING": True, "DATABASE_URL": pg_app.config["DATABASE_URL"],
                             "REDIS_URL": redis_url, "SECRET_KEY": "t"})
    with queued_app.app_context():
        assert jobs.queue_pictures(retry_failed=True) == 1
    assert rewards(client, keys)["W"]["picture_state"] == "pending"  # queued, not run inline
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": pg_app.config["DATABASE_URL"], "REDIS_URL": redis_url,
           "LOYALTY_INSTANCE": "/tmp/loyalty-worker-test", "PICTURE_ALLOW_HOSTS": "127.0.0.1",
           "PICTURE_RETRY_DELAYS": "0"}
    worker = subprocess.run([str(Path(sys.executable).with_name("loyalty")), "worker", "--burst", "-q", "default"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    got = rewards(client, keys)["W"]
    assert got["picture_state"] == "stored" and client.get(got["picture_url"]).data == PNG


def _tls_source(tmp_path, source: Pictures, **names):
    import ssl

    from tests.support.servers import make_tls_files
    files = make_tls_files(tmp_path, **names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    source.server.socket = context.wrap_socket(source.server.socket, server_side=True)
    return files


def test_https_connects_to_the_checked_address_and_still_verifies_the_name(tmp_path, source):
    from importers import pictures
    files = _tls_source(tmp_path, source)
    port = source.server.server_address[1]
    got = pictures.fetch(f"https://localhost:{port}/ok.png", allow=("localhost",), cafile=files.ca_cert)
    assert (got.content_type, got.data) == ("image/png", PNG)
    with pytest.raises(pictures.Refused, match="private or loopback"):
        pictures.fetch(f"https://localhost:{port}/ok.png", cafile=files.ca_cert)


def test_https_with_a_certificate_for_another_name_is_not_taken(tmp_path, source):
    from importers import pictures
    files = _tls_source(tmp_path, source, dns_names=("other.example",), ips=())
    with pytest.raises(pictures.Unavailable, match="certificate|CERTIFICATE"):
        pictures.fetch(f"https://127.0.0.1:{source.server.server_address[1]}/ok.png", allow=("127.0.0.1",),
                       cafile=files.ca_cert)


def test_the_cron_schedule_tries_failed_pictures_again_daily(redis_url, tmp_path):
    from server import schedule
    from server.app import create_app
    from server.extensions import rq
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'cron.db'}", "REDIS_URL": redis_url,
                      "SECRET_KEY": "t", "SECRET_KEY_IS_EPHEMERAL": False})
    with app.app_context():
        schedule.register(app)
        jobs = {job.func.__name__: job for job in rq.make_cron_scheduler().get_jobs()}
    assert jobs["queue_pictures"].kwargs == {"retry_failed": True}
    assert jobs["queue_pictures"].cron == app.config["PICTURE_RETRY_CRON"] == "45 4 * * *"
