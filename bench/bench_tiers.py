"""Benchmark: the nightly tier recalculation over --members members on PostgreSQL, in members per second.

Loads members with two orders each (spread over the last year) and the
default tier policy, then times, in the same run: the two grouped turnover
queries alone (the floor any set-based recalculation pays, the baseline),
the full recalculation (first run: most members change tier, each change
recorded with its event), the same again (nothing changes: the idempotent
re-run of a day), and the per-member path it replaced (facts queried and the
policy evaluated member by member) on a --sample of members, extrapolated.
The machine is shared: compare the ratios, not the absolute figures.

    .venv/bin/python bench/bench_tiers.py [--members 1000000] [--sample 2000]
"""
from __future__ import annotations

import argparse
from datetime import UTC, datetime

from common import Timer, make_app, scratch_database

LOAD = (
    "INSERT INTO accounts (id, owner_type, debt, created_at) SELECT n, 'member', 0, now() "
    "FROM generate_series(1, :n) n",
    "INSERT INTO members (id, loyalty_id, name, member_group, tier, status, registered_at, account_id, "
    "consent_email, consent_sms, attributes, created_at, updated_at) SELECT n, 'L' || n, 'M' || n, '', '', "
    "'active', now() - interval '2 years', n, false, false, '{}'::jsonb, now(), now() "
    "FROM generate_series(1, :n) n",
    "INSERT INTO documents (source, external_id, document_type, number, member_id, account_id, channel, store, "
    "currency, placed_at, status, total, shipping_total, content_hash, earned, absorbed, created_at, updated_at) "
    "SELECT 'shop', 'D' || n || '-' || k, 'order', '', n, n, 'web', '', 'PLN', "
    "now() - ((n * 7 + k * 131) % 360) * interval '1 day', 'fulfilled', (n * 37 + k * 9973) % 40000, 0, '', 0, 0, "
    "now(), now() FROM generate_series(1, :n) n, generate_series(1, 2) k",
    "SELECT setval(pg_get_serial_sequence('members', 'id'), :n)",
    "SELECT setval(pg_get_serial_sequence('accounts', 'id'), :n)",
    "ANALYZE",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()

    import sqlalchemy as sa

    import rules
    from engine import members, policies
    from engine.engagement import tiers, turnover
    from engine.models import Member
    from server.extensions import db

    app = make_app(scratch_database("loyalty_bench_tiers"))
    with app.app_context():
        session = db.session()
        for name in ("tier", "settings"):
            policies.save_draft(session, name, rules.default_policies()[name], author="bench")
            policies.publish(session, name, by="bench", effective_from=datetime(2020, 1, 1, tzinfo=UTC))
        with Timer() as load:
            for statement in LOAD:
                session.execute(sa.text(statement), {"n": args.members})
        session.commit()
        print(f"loaded {args.members:,} members, {2 * args.members:,} orders in {load.seconds:.0f} s")
        now = datetime.now(UTC)
        settings = policies.settings(session, now)
        with Timer() as base:
            totals = turnover.window_turnover(session, now, settings.tz)
        assert len(totals) == args.members
        with Timer() as first:
            stats = tiers.recalculate(session, now)
            session.commit()
        with Timer() as again:
            repeat = tiers.recalculate(session, now)
            session.commit()
        assert repeat["changed"] == 0, repeat
        _ref, compiled = policies.active(session, "tier", now)
        sample = list(session.execute(sa.select(Member).order_by(Member.id).limit(args.sample)).scalars())
        with Timer() as old:
            for member in sample:
                facts = members.facts(session, member, now, settings)
                rules.evaluate_tier(compiled, facts, settings, at=now)
        counts = dict(session.execute(sa.text("SELECT tier, count(*) FROM members GROUP BY tier")).all())
    n = args.members
    per_member = old.seconds / len(sample)
    print(f"tiers now: {counts}; first run changed {stats['changed']:,}")
    rows = [("turnover queries alone (baseline)", base.seconds), ("recalculation, first run", first.seconds),
            ("recalculation, again (no change)", again.seconds),
            (f"per-member path, {len(sample):,} sampled → {n:,}", per_member * n)]
    for name, seconds in rows:
        print(f"  {name:<42} {seconds:9.1f} s  {n / seconds:>10,.0f} members/s  {seconds / base.seconds:6.1f}x base")


if __name__ == "__main__":
    main()
