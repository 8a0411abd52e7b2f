"""Balance lookups at scale on PostgreSQL: --members members, --entries ledger entries and lots.

GET /api/v1/members/{id}/balance for random members, p50/p99, with the
covering open-lots index of migration 0009 (an index-only scan) and, as the
baseline on the same data in the same run, with the index as it was before
(account_id, expires_at only: every open lot's heap page is read).

    .venv/bin/python bench/bench_balance.py                       # 1M members, 10M entries
    .venv/bin/python bench/bench_balance.py --members 100000 --entries 1000000
    .venv/bin/python bench/bench_balance.py --reuse       # again on the data the last run loaded
"""
from __future__ import annotations

import argparse
import os

import sqlalchemy as sa
from bench_api import bench_balance, load_ledger
from common import database_url, make_app, scratch_database

NAME = "loyalty_bench_balance"
COVERING = ("CREATE INDEX ix_lots_open ON lots (account_id, expires_at) INCLUDE (remaining, available_at) "
            "WHERE remaining > 0")
PLAIN = "CREATE INDEX ix_lots_open ON lots (account_id, expires_at) WHERE remaining > 0"


def use_index(url: str, ddl: str, account: int) -> str:
    """Rebuild ix_lots_open as ``ddl``; returns the plan of one balance query."""
    engine = sa.create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_lots_open"))
        conn.execute(sa.text(ddl))
        conn.execute(sa.text("VACUUM ANALYZE lots"))
        plan = conn.execute(sa.text(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT remaining, available_at, expires_at FROM lots "
            "WHERE account_id = :a AND remaining > 0 AND (expires_at IS NULL OR expires_at > now())"),
            {"a": account}).scalars()
        text = "\n".join("    " + line for line in plan)
    engine.dispose()
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--reuse", action="store_true", help="the database of an earlier run, as it was loaded")
    args = parser.parse_args()

    if args.reuse:
        app = make_app(database_url(NAME))
    else:
        app = make_app(scratch_database(NAME))
        seconds = load_ledger(app.config["DATABASE_URL"], args.members, args.entries)
        print(f"loaded {args.members} members / {args.entries} entries and lots in {seconds:.0f} s")
    url = app.config["DATABASE_URL"]
    runs = (("covering index (0009)", COVERING), ("plain index (before)", PLAIN),
            ("covering index (0009), again", COVERING))
    for run, (name, ddl) in enumerate(runs):
        print(f"{name}:\n{use_index(url, ddl, args.members // 2)}")
        r = bench_balance(app, args.members, args.lookups, key_name=f"bench-reader-{run}-{os.getpid()}")
        print(f"  balance lookups ({r['lookups']}): p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
