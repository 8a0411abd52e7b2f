"""Benchmark: POST /api/v1/quote/products (points on product cards) in SKUs per second, on PostgreSQL.

The app runs in-process (Flask test client, no network) on a scratch database
with --products catalog rows and the default accrual and tier policies.
Per round: a listing of --skus SKUs for everyone, the same for a gold member
(tier multiplier and facts), a revalidation with If-None-Match (304, nothing
evaluated); and, as the same-run baseline, GET /healthz through the same
client (what any request costs here). Prints SKUs/s, ms per call, and each
call's ratio to the baseline. The machine is shared: compare ratios, not
absolute figures.

    .venv/bin/python bench/bench_quote_products.py [--products 20000] [--skus 200] [--rounds 40]
"""
from __future__ import annotations

import argparse
import random
from decimal import Decimal

from common import Timer, make_app, percentile, publish_defaults, scratch_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    import sqlalchemy as sa

    from engine import members
    from server.auth import create_key
    from server.extensions import db

    app = make_app(scratch_database("loyalty_bench_quote_products"))
    with app.app_context():
        session = db.session()
        publish_defaults(session, ("accrual", "tier", "settings"))
        session.execute(sa.text("INSERT INTO products (sku, name, product_group, brand, price, currency, "
                                "picture_url, source, active, updated_at) SELECT 'SKU' || n, 'Product ' || n, "
                                "(100 + n % 50)::text, 'B' || (n % 20), 5 + n % 900, 'PLN', '', 'bench', true, "
                                "now() FROM generate_series(1, :n) n"), {"n": args.products})
        member = members.create(session, {"name": "Gold"})
        member.tier = "gold"
        _row, key = create_key(session, "bench-shop", "shop")
        session.commit()
        ref = member.loyalty_id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(7)

    def listing():
        return [f"SKU{rng.randint(1, args.products)}" for _ in range(args.skus)]

    def timed(call) -> list[float]:
        out = []
        for _ in range(args.rounds):
            with Timer() as t:
                call()
            out.append(t.seconds)
        return out

    def anonymous():
        r = client.post("/api/v1/quote/products", json={"skus": listing()}, headers=headers)
        assert r.status_code == 200, r.get_json()

    def tiered():
        r = client.post("/api/v1/quote/products", json={"skus": listing(), "member": ref}, headers=headers)
        assert r.status_code == 200, r.get_json()

    fixed = {"skus": listing()}
    etag = client.post("/api/v1/quote/products", json=fixed, headers=headers).headers["ETag"]

    def revalidate():
        r = client.post("/api/v1/quote/products", json=fixed, headers={**headers, "If-None-Match": etag})
        assert r.status_code == 304

    def healthz():
        assert client.get("/healthz").status_code == 200

    anonymous(), tiered(), healthz()  # warm the caches (compiled policies, statements)
    runs = [("healthz (baseline)", timed(healthz), 0), ("quote/products, everyone", timed(anonymous), args.skus),
            ("quote/products, gold member", timed(tiered), args.skus),
            ("quote/products, 304", timed(revalidate), args.skus),
            ("healthz (baseline, again)", timed(healthz), 0)]
    base = (percentile(runs[0][1], 50) + percentile(runs[-1][1], 50)) / 2
    print(f"{args.products:,} products, {args.skus} SKUs per call, {args.rounds} calls per run")
    for name, seconds, skus in runs:
        p50 = percentile(seconds, 50)
        rate = f"{Decimal(skus / p50).quantize(Decimal(1)):>8,} SKUs/s" if skus else " " * 15
        print(f"  {name:<30} p50 {p50 * 1000:7.2f} ms  p90 {percentile(seconds, 90) * 1000:7.2f} ms  {rate}  "
              f"{p50 / base:6.1f}x healthz")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
