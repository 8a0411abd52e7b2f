"""Orders, redemptions and balances on accounts with a long history (a wholesale customer's years of
invoices, each with its open lot) on PostgreSQL.

POST /api/v1/orders (fulfilled: rules, document, entry and lot, idempotency record, COMMIT), POST
/api/v1/redemptions of 1 point and GET …/balance for a member whose account holds --history entries
with their open lots, against the same requests for a new member in the same run (the baseline),
interleaved one by one so both see the same machine. Prints each one's median and p95 milliseconds
and the ratio of the medians: near 1 when a request costs the same whatever the account's history.

    .venv/bin/python bench/bench_wholesale.py                     # 100,000 and 10,000 entries
    .venv/bin/python bench/bench_wholesale.py --history 1000000 --orders 200
"""
from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from common import make_app, percentile, publish_defaults, scratch_database


def seed(app, histories: list[int]) -> tuple[str, str, dict[int, str]]:
    """Policies, a shop key, a new member and one member per history size, its entries balanced by lots
    (written through the triggers, as an import would)."""
    import sqlalchemy as sa

    from engine import members
    from server.auth import create_key
    from server.extensions import db
    with app.app_context():
        session = db.session()
        publish_defaults(session)
        _row, key = create_key(session, "bench-wholesale", "shop")
        fresh = members.create(session, {"name": "New customer"}).loyalty_id
        long = {}
        for size in histories:
            member = members.create(session, {"name": f"Wholesale {size}"})
            session.execute(sa.text(
                "WITH e AS (INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, actor, "
                "member_id, effective_at, created_at) SELECT :a, 'accrual', 10, 'history:' || :a || ':' || g, "
                "'bench', :m, now() - interval '700 days' + g * interval '1 minute', now() "
                "FROM generate_series(1, :n) g RETURNING id, effective_at) "
                "INSERT INTO lots (account_id, entry_id, amount, remaining, available_at, expires_at) "
                "SELECT :a, id, 10, 10, effective_at, effective_at + interval '3650 days' FROM e"),
                {"a": member.account_id, "m": member.id, "n": size})
            long[size] = member.loyalty_id
        session.commit()
    engine = sa.create_engine(app.config["DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return key, fresh, long


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, nargs="+", default=[100_000, 10_000],
                        help="entries already on the long accounts")
    parser.add_argument("--orders", type=int, default=300, help="requests of each kind per member")
    args = parser.parse_args()
    app = make_app(scratch_database("loyalty_bench_wholesale"))
    started = time.perf_counter()
    key, fresh, long = seed(app, args.history)
    print(f"seeded {', '.join(f'{n:,}' for n in args.history)} entries in {time.perf_counter() - started:.0f} s")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    placed = datetime.now(UTC).replace(microsecond=0).isoformat()

    def timed(method: str, path: str, status: int, body: dict | None = None) -> float:
        start = time.perf_counter()
        response = client.open(path, method=method, json=body, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == status, response.get_json()
        return elapsed

    def order(member: str, n: str) -> float:
        return timed("POST", "/api/v1/orders", 201, {
            "order_id": f"W{n}", "member": member, "placed_at": placed, "currency": "PLN", "status": "fulfilled",
            "lines": [{"line_no": i, "sku": f"SKU{i}", "quantity": 2, "unit_price": "34.80",
                       "product_group": ("110", "120", "130")[i % 3]} for i in range(1, 4)]})

    def redeem(member: str, n: str) -> float:
        return timed("POST", "/api/v1/redemptions", 201, {"redemption_id": f"R{n}", "member": member, "points": "1"})

    def balance(member: str, _n: str) -> float:
        return timed("GET", f"/api/v1/members/{member}/balance", 200)

    members = {"new account": fresh, **{f"{n:,} entries": ref for n, ref in long.items()}}
    for what, call in (("order", order), ("redemption of 1 point", redeem), ("balance", balance)):
        for name, ref in members.items():  # warm-up: caches, compiled policy, the accounts' pages
            for i in range(10):
                call(ref, f"warm-{name}-{i}")
        timings: dict[str, list[float]] = {name: [] for name in members}
        for i in range(args.orders):
            for name, ref in members.items():
                timings[name].append(call(ref, f"{name}-{i}"))
        base = percentile(timings["new account"], 50)
        for name, values in timings.items():
            p50 = percentile(values, 50)
            print(f"{what}, {name}: p50 {p50:.2f} ms, p95 {percentile(values, 95):.2f} ms; "
                  f"ratio to a new account {p50 / base:.2f}")


if __name__ == "__main__":
    main()
