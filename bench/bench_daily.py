"""Nightly jobs benchmark on PostgreSQL: set-based `mature` and `expire` over --lots due lots.

The data: --lots lots of 10 points, five per account, all past their holding
period and their expiry; 1% of the accounts owe 3 points (so `mature` pays
debt). The baseline, measured in the same run on the same kind of data: the
per-lot path (`daily.mature_per_lot`, `daily.expire_per_lot`) over --sample
lots. Each figure includes the COMMIT, where PostgreSQL's deferred trigger
checks the sums of what the transaction changed (migration 0022).

    .venv/bin/python bench/bench_daily.py                      # 1,000,000 lots
    .venv/bin/python bench/bench_daily.py --lots 20000 --sample 2000
"""
from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from common import Timer, make_app, scratch_database

# Every lot is available (and not yet expired) at MATURE, and past its expiry at EXPIRE.
MATURE = datetime(2025, 12, 1, tzinfo=UTC)
EXPIRE = datetime(2027, 1, 1, tzinfo=UTC)
PER_ACCOUNT = 5
# A suffix for the scratch databases' names, so two people can run this benchmark at once.
SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")


def load(url: str, lots: int) -> float:
    """Accounts, one accrual entry and one lot per lot, debts: balanced, server-side."""
    import sqlalchemy as sa
    accounts = max(1, lots // PER_ACCOUNT)
    engine = sa.create_engine(url)
    with Timer() as t, engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        conn.execute(sa.text(
            "INSERT INTO accounts (id, owner_type, debt, created_at) "
            "SELECT g, 'member', CASE WHEN g % 100 = 0 THEN 3 ELSE 0 END, now() "
            "FROM generate_series(1, :n) g"), {"n": accounts})
        conn.execute(sa.text(
            "INSERT INTO ledger_entries (id, account_id, kind, amount, idempotency_key, actor, "
            "effective_at, created_at) "
            "SELECT g, 1 + (g - 1) % :a, 'accrual', 10, 'bench:' || g, 'bench', "
            "timestamptz '2025-01-01 00:00:00.25+00' + (g % 300) * interval '1 day', now() "
            "FROM generate_series(1, :n) g"), {"a": accounts, "n": lots})
        conn.execute(sa.text(
            "INSERT INTO ledger_entries (id, account_id, kind, amount, idempotency_key, actor, effective_at, "
            "created_at) SELECT :n + id, id, 'reversal', -3, 'bench:debt:' || id, 'bench', now(), now() "
            "FROM accounts WHERE debt > 0"), {"n": lots})
        conn.execute(sa.text(
            "INSERT INTO lots (id, account_id, entry_id, amount, remaining, available_at, expires_at) "
            "SELECT id, account_id, id, 10, 10, effective_at, effective_at + interval '365 days' "
            "FROM ledger_entries WHERE kind = 'accrual'"))
        for table in ("accounts", "ledger_entries", "lots"):
            conn.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return t.seconds


def run_jobs(app, per_lot: bool) -> dict:
    """Time mature, then expire, each committed; returns lots/s and the job stats."""
    from engine.ledger import daily
    from server.extensions import db
    out = {}
    with app.app_context():
        session = db.session()
        for job in ("mature", "expire"):
            step = getattr(daily, f"{job}_per_lot" if per_lot else job)
            with Timer() as t:
                stats = step(session, MATURE if job == "mature" else EXPIRE)
                with Timer() as t_commit:
                    session.commit()
            count = stats["matured" if job == "mature" else "lots"]
            out[job] = {"seconds": t.seconds, "commit": t_commit.seconds, "lots": count,
                        "rate": count / t.seconds, "stats": stats}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5000, help="lots for the per-lot baseline")
    args = parser.parse_args()

    baseline_app = make_app(scratch_database("loyalty_bench_daily_base" + SUFFIX))
    load(baseline_app.config["DATABASE_URL"], args.sample)
    baseline = run_jobs(baseline_app, per_lot=True)

    app = make_app(scratch_database("loyalty_bench_daily" + SUFFIX))
    seconds = load(app.config["DATABASE_URL"], args.lots)
    print(f"loaded {args.lots} due lots in {seconds:.0f} s")
    result = run_jobs(app, per_lot=False)
    for job in ("mature", "expire"):
        new, old = result[job], baseline[job]
        print(f"{job}: {new['lots']} lots in {new['seconds']:.1f} s (commit {new['commit']:.1f} s) = "
              f"{new['rate']:,.0f} lots/s set-based "
              f"(debt paid {new['stats'].get('debt_paid', '-')}); per-lot baseline {old['rate']:,.0f} lots/s "
              f"over {old['lots']}; ratio {new['rate'] / old['rate']:.0f}×; "
              f"1M lots ≈ {1_000_000 / new['rate']:.1f} s")


if __name__ == "__main__":
    main()
