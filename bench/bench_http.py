"""Real HTTP load on PostgreSQL: gunicorn (2 workers) on 127.0.0.1 driven by wrk with a Lua script.

Four runs of --seconds each against the same server: `/healthz` (the
baseline), balance lookups only, and the mix (70% balance, 20% orders of 3
lines, fulfilled, 10% redemptions of 1 point), each as fast as the server
answers; then the mix at a fixed rate (--rate, 400 requests/s on 16
connections: the Lua script spaces each thread's requests on the monotonic
clock, so the rate holds whatever the answers take, as long as the server
keeps up). Prints req/s, p95 and errors per run and each run's ratio to
/healthz. The benchmark starts and stops its
own gunicorn; it installs nothing and skips with a message when wrk (Debian
package ``wrk``) or gunicorn is missing.

    .venv/bin/python bench/bench_http.py                     # 20 s per run, 8 connections
    .venv/bin/python bench/bench_http.py --seconds 5 --connections 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from common import ROOT, make_app, publish_defaults, scratch_database

MEMBERS = 500

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
           int clock_gettime(int, bench_timespec *); ]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
-- %(interval)s ms between this thread's requests (0: as fast as the server answers).
local interval, due = %(interval)s, 0
local members, key, kind = {}, "%(key)s", "%(kind)s"
for id in string.gmatch("%(members)s", "[^,]+") do members[#members + 1] = id end
-- thread_id is a global each thread's state gets from setup() (a local here would stay 0 in
-- every thread, and two threads would send the same order ids).
local counter, next_thread = 0, 0
local placed = "%(placed)s"
function setup(thread) thread:set("thread_id", next_thread); next_thread = next_thread + 1 end
function init(args) math.randomseed(os.time() + thread_id * 7919); due = now_ms() end
function delay()
  -- A fixed rate: each request is due `interval` after the previous one of this thread,
  -- whatever the last answer took (a late thread catches up without waiting).
  if interval == 0 then return 0 end
  due = due + interval
  local wait = due - now_ms()
  if wait < 0 then return 0 end
  return wait
end
local function auth()
  return {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
end
function request()
  counter = counter + 1
  local member = members[math.random(#members)]
  local roll = math.random(100)
  if kind == "healthz" then return wrk.format("GET", "/healthz") end
  if kind == "balance" or roll <= 70 then
    return wrk.format("GET", "/api/v1/members/" .. member .. "/balance", auth())
  end
  local id = string.format("%%d-%%d-%%d", os.time(), thread_id, counter)
  if roll <= 90 then
    local body = '{"order_id":"H' .. id .. '","member":"' .. member .. '","placed_at":"' .. placed ..
      '","currency":"PLN","status":"fulfilled","lines":[' ..
      '{"line_no":1,"sku":"A1","quantity":2,"unit_price":"34.80","product_group":"110"},' ..
      '{"line_no":2,"sku":"B2","quantity":1,"unit_price":"12.50","product_group":"120"},' ..
      '{"line_no":3,"sku":"C3","quantity":3,"unit_price":"5.10","product_group":"130"}]}'
    return wrk.format("POST", "/api/v1/orders", auth(), body)
  end
  local body = '{"redemption_id":"R' .. id .. '","member":"' .. member .. '","points":"1"}'
  return wrk.format("POST", "/api/v1/redemptions", auth(), body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%.1f %%.3f %%d %%d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(95) / 1000, summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout, summary.requests))
end
"""


def seed(app) -> tuple[str, list[str]]:
    """Policies, a shop key, members with points to redeem."""
    from engine import members
    from engine.members import adjustments
    from server.auth import create_key
    from server.extensions import db
    now = datetime.now(UTC)
    with app.app_context():
        session = db.session()
        publish_defaults(session)
        _row, key = create_key(session, "bench-http", "shop")
        ids = []
        for i in range(MEMBERS):
            member = members.create(session, {"name": f"H{i}"}, now=now)
            adjustments.adjust(session, member, Decimal(100_000), reason="bench", actor="bench",
                               key=f"bench:{i}", now=now)
            ids.append(member.loyalty_id)
        session.commit()
    return key, ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, threads: int = 1,
                   worker_class: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT),
           "LOYALTY_INSTANCE": "/tmp/loyalty-bench"}
    env.pop("REDIS_URL", None)
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    worker_class = worker_class or ("gthread" if threads > 1 else "sync")  # as gunicorn.conf.py
    threaded = ["--worker-class", worker_class, "--threads", str(threads)]
    proc = subprocess.Popen([gunicorn, "-w", str(workers), *threaded, "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", "server.app:create_app()"],
                            cwd=ROOT, env=env, start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit("gunicorn did not answer /healthz")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def run_wrk(port: int, kind: str, key: str, ids: list[str], args, *, connections: int,
            rate: float = 0) -> dict:
    """One wrk run of ``args.seconds``: as fast as the server answers, or at ``rate`` requests/s."""
    threads = min(2, connections)
    script = LUA % {"key": key, "kind": kind, "members": ",".join(ids),
                    "placed": datetime.now(UTC).replace(microsecond=0).isoformat(),
                    "interval": f"{threads * 1000 / rate:.4f}" if rate else "0"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections),
                              "-d", f"{args.seconds}s", "--timeout", "5s", "-s", f.name,
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             timeout=args.seconds + 60)
    finally:
        os.unlink(f.name)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"wrk said: {out.stdout}\n{out.stderr}")
    rps, p95, errors, requests = line.split()[1:]
    return {"rps": float(rps), "p95_ms": float(p95), "errors": int(errors), "requests": int(requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (gthread) when > 1; 1: sync workers, as gunicorn.conf.py")
    parser.add_argument("--worker-class", choices=("sync", "gthread"),
                        help="default: gthread when --threads > 1, else sync (gthread keeps connections alive)")
    parser.add_argument("--rate", type=float, default=400, help="the fixed-rate mix run's requests/s (0: skip it)")
    parser.add_argument("--rate-connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("skipped: wrk is not installed (Debian: apt-get install wrk)")
        return
    # BENCH_DB_SUFFIX: two people's runs at once must not drop each other's database.
    app = make_app(scratch_database("loyalty_bench_http" + os.environ.get("BENCH_DB_SUFFIX", "")))
    key, ids = seed(app)
    port = free_port()
    proc = start_gunicorn(app.config["DATABASE_URL"], port, args.workers, args.threads, args.worker_class)
    try:
        results = {kind: run_wrk(port, kind, key, ids, args, connections=args.connections)
                   for kind in ("healthz", "balance", "mix")}
        if args.rate:
            results[f"mix at {args.rate:g} req/s"] = run_wrk(port, "mix", key, ids, args, rate=args.rate,
                                                             connections=args.rate_connections)
    finally:
        stop(proc)
    base = results["healthz"]["rps"]
    worker_class = args.worker_class or ("gthread" if args.threads > 1 else "sync")
    for kind, r in results.items():
        connections = args.rate_connections if kind.startswith("mix at") else args.connections
        print(f"{kind}: {r['rps']:,.0f} req/s, p95 {r['p95_ms']:.1f} ms, {r['errors']} errors "
              f"of {r['requests']} ({connections} connections, {args.workers} {worker_class} workers × "
              f"{args.threads} threads); "
              f"ratio to /healthz {r['rps'] / base:.2f}")


if __name__ == "__main__":
    main()
