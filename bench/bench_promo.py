"""Benchmark: generating a batch of 1,000,000 promo codes on PostgreSQL, against a raw COPY of as many rows.

Times `engine.engagement.promo_codes.generate` (draw without replacement from
the pattern's index space, render each code with its check character, COPY
into a scratch table, one ``INSERT … ON CONFLICT`` into ``promo_codes``, commit)
and, in the same run, a plain COPY of the same number of pre-built
``(batch_id, code)`` rows into a table of the same shape (unique index on
the code). Prints codes per second, seconds and the ratio; the target is
≤ 30 s for a million codes.

    .venv/bin/python bench/bench_promo.py [--count 1000000] [--pattern MAL-####-????] [--keep]
"""
from __future__ import annotations

import argparse
import sys
import time

from common import make_app, scratch_database  # sets sys.path too

TARGET_SECONDS = 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--pattern", default="MAL-####-????")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    import sqlalchemy as sa

    from engine import clock
    from engine.engagement import promo_codes
    from engine.models.bulk import copy_text
    from server.extensions import db

    url = scratch_database("loyalty_bench_promo")
    app = make_app(url)
    with app.app_context():
        session = db.session()
        started = time.perf_counter()
        batch = promo_codes.generate(session, "bench", args.pattern, args.count, points=10,
                                     actor="bench", now=clock.now())
        session.commit()
        generate_s = time.perf_counter() - started
        stored = session.execute(sa.text("SELECT count(*) FROM promo_codes WHERE batch_id = :b"),
                                 {"b": batch.id}).scalar_one()
        assert stored == args.count, (stored, args.count)

        # The baseline: the same number of rows of the same shape, already built, COPYed raw.
        lines = [f"{batch.id}\tRAW-{n:012d}\n" for n in range(args.count)]
        session.execute(sa.text("CREATE TABLE raw_codes (id bigserial PRIMARY KEY, batch_id bigint, "
                                "code varchar(64) UNIQUE)"))
        session.commit()
        started = time.perf_counter()
        copy_text(session, "raw_codes", ("batch_id", "code"), lines)
        session.commit()
        raw_s = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    if not args.keep:
        admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS "loyalty_bench_promo"'))
        admin.dispose()
    rate = args.count / generate_s
    print(f"promo generate: {args.count:,} codes ({args.pattern}) in {generate_s:.1f} s = {rate:,.0f} codes/s")
    print(f"raw COPY:       {args.count:,} rows in {raw_s:.1f} s = {args.count / raw_s:,.0f} rows/s")
    print(f"ratio generate / raw COPY: {generate_s / raw_s:.2f}x   target ≤ {TARGET_SECONDS} s: "
          f"{'met' if generate_s <= TARGET_SECONDS else 'MISSED'}")
    return 0 if generate_s <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
