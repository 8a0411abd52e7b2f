"""API benchmark on PostgreSQL.

1. Accrual requests per second: POST /api/v1/orders (fulfilled, so the rules
   run and the ledger posts an entry and a lot) against a baseline measured in
   the same run: a bare Flask endpoint doing one INSERT on the same database.
   Both go through the same WSGI stack (Flask's test client), sequentially.
2. Balance lookups with --members members and --entries ledger entries:
   p50/p99 latency of GET /api/v1/members/{id}/balance for random members.

    .venv/bin/python bench/bench_api.py                 # 1M members, 10M entries
    .venv/bin/python bench/bench_api.py --members 100000 --entries 1000000
"""
from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from common import Timer, make_app, percentile, publish_defaults, scratch_database

ROUND = 100  # requests a side per round


def bench_accrual(app, requests: int) -> dict:
    import sqlalchemy as sa
    from flask import Flask, request

    from server.auth import create_key
    from server.extensions import db

    with app.app_context():
        session = db.session()
        publish_defaults(session)
        _row, key = create_key(session, "bench-shop", "shop")
        from engine import members
        member_ids = [members.create(session, {"name": f"M{i}"}).loyalty_id for i in range(200)]
        session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    placed = datetime.now(UTC).replace(microsecond=0).isoformat()

    def body(i):
        return {"order_id": f"B{i}", "member": member_ids[i % len(member_ids)],
                "placed_at": placed, "currency": "PLN", "status": "fulfilled",
                "lines": [{"line_no": n, "sku": f"SKU{n}", "quantity": 2, "unit_price": "34.80",
                           "product_group": ("110", "120", "130")[n % 3]} for n in range(1, 6)]}

    # Baseline: a bare Flask app, one INSERT per request, same database, same stack.
    engine = sa.create_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_bare "
                             "(id bigserial primary key, order_id text, body jsonb)"))
    bare = Flask("bare")

    @bare.post("/orders")
    def bare_order():
        data = request.get_json()
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO bench_bare (order_id, body) VALUES (:o, :b)"),
                         {"o": data["order_id"], "b": request.get_data(as_text=True)})
        return {"ok": True}, 201

    bare_client = bare.test_client()
    for i in range(20):  # warm-up: caches, compiled policy, connection pool
        assert client.post("/api/v1/orders", json=body(-i - 1), headers=headers).status_code == 201
        bare_client.post("/orders", json=body(-i - 1))
    # In alternating rounds: a drift of the machine's speed during the run weighs on both sides alike.
    t_api = t_bare = cpu_api = cpu_bare = 0.0
    for first in range(0, requests, ROUND):
        numbers = range(first, min(first + ROUND, requests))
        with Timer() as t:
            for i in numbers:
                response = client.post("/api/v1/orders", json=body(i), headers=headers)
                assert response.status_code == 201, response.get_json()
        t_api, cpu_api = t_api + t.seconds, cpu_api + t.cpu
        with Timer() as t:
            for i in numbers:
                assert bare_client.post("/orders", json=body(i)).status_code == 201
        t_bare, cpu_bare = t_bare + t.seconds, cpu_bare + t.cpu
    engine.dispose()
    api_rps, bare_rps = requests / t_api, requests / t_bare
    # This process's CPU per request beside the rates: the machine's speed moves the two sides' rates
    # unequally (the bare one waits on the WAL flush, the order mostly computes), its CPU figures less.
    return {"accrual_rps": api_rps, "bare_insert_rps": bare_rps, "ratio": api_rps / bare_rps,
            "accrual_cpu_ms": 1000 * cpu_api / requests, "bare_cpu_ms": 1000 * cpu_bare / requests}


def load_ledger(url: str, members: int, entries: int) -> float:
    """Fill members, accounts, entries and lots server-side (generate_series)."""
    import sqlalchemy as sa
    per_member = max(1, entries // members)
    engine = sa.create_engine(url)
    with Timer() as t, engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        # Fixture data, not a ledger: a third of the lots are spent without their spending entries,
        # so the load skips the triggers (the deferred sum check, and foreign keys checked 10M times).
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(
            "INSERT INTO accounts (id, owner_type, debt, created_at) "
            "SELECT g, 'member', 0, now() FROM generate_series(1, :n) g"), {"n": members})
        conn.execute(sa.text(
            "INSERT INTO members (id, loyalty_id, name, member_group, tier, status, registered_at, "
            "account_id, consent_email, consent_sms, attributes, created_at, updated_at) "
            "SELECT g, 'L' || lpad(g::text, 9, '0'), 'Member ' || g, '100', '', 'active', "
            "now() - interval '400 days', g, false, false, '{}'::jsonb, now(), now() "
            "FROM generate_series(1, :n) g"), {"n": members})
        conn.execute(sa.text(
            "INSERT INTO ledger_entries (id, account_id, kind, amount, idempotency_key, actor, "
            "effective_at, created_at) "
            "SELECT g, 1 + (g - 1) / :k, 'accrual', 10, 'bench:' || g, 'bench', "
            "now() - ((g % 300) || ' days')::interval, now() FROM generate_series(1, :e) g"),
            {"k": per_member, "e": members * per_member})
        conn.execute(sa.text(
            "INSERT INTO lots (id, account_id, entry_id, amount, remaining, available_at, expires_at) "
            "SELECT id, account_id, id, 10, CASE WHEN id % 3 = 0 THEN 0 ELSE 10 END, effective_at, "
            "effective_at + interval '365 days' FROM ledger_entries"))
        for table in ("accounts", "members", "ledger_entries", "lots"):
            conn.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return t.seconds


def bench_balance(app, members: int, lookups: int, key_name: str = "bench-reader") -> dict:
    from server.auth import create_key
    from server.extensions import db
    with app.app_context():
        _row, key = create_key(db.session(), key_name, "shop")
        db.session().commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(7)
    timings = []
    for i in range(lookups + 50):
        member = f"L{rng.randint(1, members):09d}"
        start = time.perf_counter()
        response = client.get(f"/api/v1/members/{member}/balance", headers=headers)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.get_json()
        if i >= 50:  # the first ones warm the caches
            timings.append(elapsed * 1000)
    return {"p50_ms": percentile(timings, 50), "p99_ms": percentile(timings, 99),
            "lookups": lookups}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--only", choices=("accrual", "balance"), help="run one of the two parts")
    args = parser.parse_args()

    if args.only != "balance":
        app = make_app(scratch_database("loyalty_bench_api"))
        accrual = bench_accrual(app, args.requests)
        print(f"accrual: {accrual['accrual_rps']:.0f} orders/s with rules and ledger; "
              f"bare insert: {accrual['bare_insert_rps']:.0f} req/s; "
              f"ratio {accrual['ratio']:.2f}; CPU in this process {accrual['accrual_cpu_ms']:.2f} vs "
              f"{accrual['bare_cpu_ms']:.2f} ms a request")
    if args.only == "accrual":
        return
    app = make_app(scratch_database("loyalty_bench_balance"))
    seconds = load_ledger(app.config["DATABASE_URL"], args.members, args.entries)
    print(f"loaded {args.members} members / {args.entries} entries and lots in {seconds:.0f} s")
    balance = bench_balance(app, args.members, args.lookups)
    print(f"balance lookups ({balance['lookups']}): p50 {balance['p50_ms']:.2f} ms, "
          f"p99 {balance['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
