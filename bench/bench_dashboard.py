"""The admin dashboard on a big PostgreSQL ledger: --members members, --entries entries and lots.

GET /admin/ (issued/spent/expired per day, liability and what expires in 30/60/90 days, member counts,
the last imports) as a logged-in admin, p50/p95 over --requests requests, beside two baselines measured
in the same run on the same app: the login page (a template, no query) and /healthz. The ledger is built
server-side like bench_balance.py (generate_series, then VACUUM ANALYZE); kinds are mixed afterwards so
the chart has issued, spent and expired points. The summaries (engine.ledger.rollup) are refreshed once
after the load, as the nightly run or the first visit would, and that time is printed too.

    .venv/bin/python bench/bench_dashboard.py                                 # 1M members, 10M entries
    .venv/bin/python bench/bench_dashboard.py --members 200000 --entries 2000000
    .venv/bin/python bench/bench_dashboard.py --reuse                         # the database of the last run
"""
from __future__ import annotations

import argparse
import re
import time

import sqlalchemy as sa
from bench_api import load_ledger
from common import make_app, percentile, scratch_database

DATABASE = "loyalty_bench_dashboard"
PASSWORD = "bench-password"


def mix_kinds(url: str) -> None:
    """Every 7th entry a redemption and every 23rd an expiry (negative, without lots), like a real ledger."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("DELETE FROM lots WHERE entry_id % 7 = 0 OR entry_id % 23 = 0"))
        conn.execute(sa.text("UPDATE ledger_entries SET kind = CASE WHEN id % 7 = 0 THEN 'redemption' "
                             "ELSE 'expiry' END, amount = -amount WHERE id % 7 = 0 OR id % 23 = 0"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE ledger_entries"))
        conn.execute(sa.text("VACUUM ANALYZE lots"))
    engine.dispose()


def timed(client, path: str, requests: int, warmup: int = 5) -> dict:
    timings = []
    for i in range(requests + warmup):
        start = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (path, response.status_code)
        if i >= warmup:
            timings.append(elapsed)
    return {"p50": percentile(timings, 50), "p95": percentile(timings, 95), "max": max(timings)}


SCANS = (  # the dashboard's figures the way its first version read them: straight from entries and lots
    "SELECT date_trunc('day', timezone('Europe/Warsaw', effective_at)) d, "
    "sum(amount) FILTER (WHERE amount > 0 AND kind NOT IN ('refund','transfer','expiry','redemption',"
    "'reward_order','reversal')), -sum(amount) FILTER (WHERE kind IN ('redemption','reward_order','refund')), "
    "-sum(amount) FILTER (WHERE kind = 'expiry') FROM ledger_entries "
    "WHERE effective_at >= now() - interval '30 days' GROUP BY d",
    "SELECT sum(remaining) FILTER (WHERE available_at <= now()), sum(remaining) FILTER (WHERE available_at > now()), "
    "sum(remaining) FILTER (WHERE expires_at <= now() + interval '30 days'), "
    "sum(remaining) FILTER (WHERE expires_at <= now() + interval '90 days') "
    "FROM lots WHERE remaining > 0 AND (expires_at IS NULL OR expires_at > now())",
    "SELECT count(DISTINCT account_id) FROM ledger_entries WHERE effective_at >= now() - interval '90 days'",
)


def scan_baseline(url: str, runs: int = 3) -> list[float]:
    """Seconds for the scanned figures (the page before the summaries), ``runs`` times."""
    engine = sa.create_engine(url)
    timings = []
    with engine.connect() as conn:
        for _ in range(runs):
            start = time.perf_counter()
            for statement in SCANS:
                conn.execute(sa.text(statement)).all()
            timings.append(time.perf_counter() - start)
    engine.dispose()
    return timings


def login(app):
    from werkzeug.security import generate_password_hash

    from engine.models import User
    from server.extensions import db
    with app.app_context():
        session = db.session()
        if session.execute(sa.select(User).where(User.email == "bench@example.com")).scalar_one_or_none() is None:
            session.add(User(email="bench@example.com", password_hash=generate_password_hash(PASSWORD), role="admin"))
            session.commit()
    client = app.test_client()
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/admin/login", data={"email": "bench@example.com", "password": PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302, response.text
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run (no load)")
    args = parser.parse_args()

    if args.reuse:
        from common import ADMIN_URL
        url = ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0] + "/" + DATABASE
        app = make_app(url)
    else:
        app = make_app(scratch_database(DATABASE))
        url = app.config["DATABASE_URL"]
        seconds = load_ledger(url, args.members, args.entries)
        start = time.perf_counter()
        mix_kinds(url)
        print(f"loaded {args.members:,} members / {args.entries:,} entries and lots in {seconds:.0f} s "
              f"(+{time.perf_counter() - start:.0f} s mixing kinds)")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = conn.execute(sa.text("SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM ledger_entries), "
                                      "(SELECT count(*) FROM lots)")).one()
    engine.dispose()
    print(f"database: {counts[0]:,} members, {counts[1]:,} entries, {counts[2]:,} lots")
    from engine import clock
    from engine.ledger import rollup
    from server.extensions import db
    with app.app_context():
        start = time.perf_counter()
        # The fixture's entries were all written just now: fold them as the refresh an hour later would.
        folded = rollup.refresh(db.session(), clock.now() + rollup.FOLD_LAG)
        db.session().commit()
        print(f"rollup refresh (the first dashboard visit or nightly run after the load): {folded['entries']:,} "
              f"entries in {time.perf_counter() - start:.1f} s")
    engine = sa.create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does to freshly written tables: the visibility map makes the counts index-only.
        for table in ("account_activity", "ledger_hour_totals", "members"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    engine.dispose()
    client = login(app)
    results = {}
    for name, path in (("/healthz", "/healthz"), ("login page", "/admin/login"),
                       ("dashboard", "/admin/"), ("dashboard per week", "/admin/?view=week"),
                       ("dashboard per month", "/admin/?view=month")):
        results[name] = r = timed(client, path, args.requests if path.startswith("/admin/?") or path == "/admin/"
                                  else args.requests * 3)
        print(f"  {name:22} p50 {r['p50']:8.1f} ms   p95 {r['p95']:8.1f} ms   max {r['max']:8.1f} ms")
    scans = scan_baseline(url)
    print(f"  the same figures scanned from entries and lots (the first dashboard's queries): "
          f"{min(scans) * 1000:,.0f}–{max(scans) * 1000:,.0f} ms over {len(scans)} runs")
    base = results["login page"]["p50"]
    for name in ("dashboard", "dashboard per week", "dashboard per month"):
        print(f"  {name}: p50 {results[name]['p50'] / base:.1f}× the login page (target: p95 ≤ 300 ms)")


if __name__ == "__main__":
    main()
