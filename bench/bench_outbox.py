"""Benchmark: 100,000 queued SMS drained by 2 real RQ workers into an SMS gateway on loopback.

The receiver is a separate process answering ``POST /sms.do`` the way
SMSAPI.pl does and counting what it got (requests, distinct ``idx`` =
delivery keys, duplicates). The outbox is filled the production way (rows
written set-based, delivery jobs queued on Redis after COMMIT, ``DELIVERY_BATCH``
messages a job), then ``--workers`` ``loyalty worker --burst -q outbox``
processes drain it: each message is claimed (commit), rendered from its
template, sent over HTTP, recorded (commit). Prints messages/s, the
receiver's own count (must equal ``--count``, no duplicates) and, as the
same-run baseline, the receiver's raw requests/s from as many plain client
processes posting the same form with ``requests`` (no database, no queue).

Uses a scratch PostgreSQL database and flushes the Redis database of
BENCH_REDIS_URL (default ``redis://127.0.0.1:6379/7``).

    .venv/bin/python bench/bench_outbox.py [--count 100000] [--workers 2] [--baseline 20000] [--rate 0]
                                           [--batch 1000]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, scratch_database  # sets sys.path too

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def _receiver(port_box, ready) -> None:
    """SMSAPI's shape: form fields in, ``{"count": 1, "list": [...]}`` out; GET /stats for the counts."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    lock, seen, totals = threading.Lock(), {}, {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a kept-alive client's delayed ACK would
        # hold the body ~40 ms (a real gateway's server does not do that to its clients).
        disable_nagle_algorithm = True

        def _answer(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            form = parse_qs(self.rfile.read(int(self.headers.get("content-length") or 0)).decode())
            key = (form.get("idx") or [""])[0]
            with lock:
                totals["requests"] += 1
                seen[key] = seen.get(key, 0) + 1
            self._answer({"count": 1, "list": [{"id": key, "points": 0.16, "status": "QUEUE"}]})

        def do_GET(self):
            with lock:
                stats = {"requests": totals["requests"], "distinct": len(seen),
                         "duplicates": sum(n - 1 for n in seen.values() if n > 1)}
            self._answer(stats)

        def do_DELETE(self):
            with lock:
                seen.clear()
                totals["requests"] = 0
            self._answer({})

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_box.value = server.server_address[1]
    ready.set()
    server.serve_forever()


def _plain_client(url: str, count: int, offset: int) -> None:
    import requests
    for n in range(count):
        requests.post(url + "/sms.do", data={"to": "48600000000", "message": "raw", "idx": f"raw-{offset + n}",
                                             "format": "json", "encoding": "utf-8"}, timeout=15)


def _stats(url: str) -> dict:
    import requests
    return requests.get(url + "/stats", timeout=15).json()


def _baseline(url: str, clients: int, total: int) -> float:
    """The receiver's raw requests/s from ``clients`` plain processes."""
    import requests
    each = max(1, total // clients)
    procs = [multiprocessing.get_context("fork").Process(target=_plain_client, args=(url, each, i * each))
             for i in range(clients)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    assert _stats(url)["requests"] == each * clients
    requests.delete(url + "/stats", timeout=15)
    return each * clients / seconds


def _fill(url: str, count: int, batch: int) -> float:
    """Write ``count`` messages (10,000 a transaction) and queue their delivery jobs; seconds taken."""
    from engine import clock, outbox
    from server.app import create_app
    from server.extensions import db, upgrade
    app = create_app({"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "JOBS_INLINE": False, "SECRET_KEY": "bench",
                      "SECRET_KEY_IS_EPHEMERAL": False, "RQ_CONNECTION": REDIS_URL,
                      "DELIVERY_BATCH": batch})
    upgrade(app)
    started = time.perf_counter()
    with app.app_context():
        session = db.session()
        now = clock.now()
        for start in range(0, count, 10_000):
            outbox.enqueue_many(session, [
                {"trigger": "points.credited", "channel": "sms", "cause_key": f"bench:{n}",
                 "recipient": f"+48{600000000 + n}", "language": "en",
                 "variables": {"amount": "10", "balance": str(n), "available": str(n), "member_name": "Bench",
                               "loyalty_id": str(n)}}
                for n in range(start, min(count, start + 10_000))], now)
            session.commit()  # the after-commit hook queues the delivery jobs on Redis
        db.session.remove()
        db.engine.dispose()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", type=int, default=20_000, help="requests of the raw-client baseline")
    parser.add_argument("--rate", type=float, default=0, help="SMS_RATE for the workers (0: no limit)")
    parser.add_argument("--batch", type=int, default=1000, help="DELIVERY_BATCH: messages per delivery job")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from redis import Redis
    Redis.from_url(REDIS_URL).flushdb()
    ctx = multiprocessing.get_context("fork")
    port, ready = ctx.Value("i", 0), ctx.Event()
    receiver = ctx.Process(target=_receiver, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(10)
    gateway = f"http://127.0.0.1:{port.value}"

    raw_rate = _baseline(gateway, args.workers, args.baseline)
    url = scratch_database("loyalty_bench_outbox")
    fill_s = _fill(url, args.count, args.batch)

    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SMS_GATEWAY": "smsapi", "SMS_TOKEN": "bench",
           "SMS_API_URL": gateway, "SMS_QUIET_HOURS": "", "SMS_RATE": str(args.rate), "PYTHONPATH": str(ROOT),
           "LOYALTY_INSTANCE": "/tmp/loyalty-bench-outbox", "SECRET_KEY": "bench"}
    loyalty = str(Path(sys.executable).with_name("loyalty"))
    started = time.perf_counter()
    logs = [Path(f"/tmp/loyalty-bench-outbox-worker-{n}.log") for n in range(args.workers)]
    workers = [subprocess.Popen([loyalty, "worker", "--burst", "-q", "outbox"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=log.open("wb")) for log in logs]
    for worker, log in zip(workers, logs, strict=True):
        worker.wait(timeout=7200)
        assert worker.returncode == 0, log.read_text()[-2000:]
    drain_s = time.perf_counter() - started
    got = _stats(gateway)
    receiver.terminate()

    import sqlalchemy as sa
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        states = dict(conn.execute(sa.text("SELECT state, count(*) FROM outbox_messages GROUP BY state")).all())
    engine.dispose()
    rate = args.count / drain_s
    print(f"outbox: {args.count} messages, {args.workers} workers, DELIVERY_BATCH={args.batch}, "
          f"SMS_RATE={args.rate or 'none'}")
    print(f"  fill (rows + delivery jobs on Redis): {fill_s:.1f} s")
    print(f"  drain: {drain_s:.1f} s = {rate:.0f} messages/s; states {states}")
    print(f"  receiver counted {got['requests']} requests, {got['distinct']} distinct delivery keys, "
          f"{got['duplicates']} duplicates")
    print(f"  baseline: the receiver takes {raw_rate:.0f} requests/s from {args.workers} plain clients")
    print(f"  ratio: the outbox delivers at {rate / raw_rate:.2f}× the receiver's raw rate")
    ok = got["requests"] == args.count and got["distinct"] == args.count and states.get("sent") == args.count
    if not args.keep:
        from common import ADMIN_URL
        admin = sa.create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS "loyalty_bench_outbox"'))
        admin.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
