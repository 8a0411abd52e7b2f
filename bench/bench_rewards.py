"""Benchmark: reward orders over HTTP on PostgreSQL, against plain redemptions of the same points in the same run.

Sequential ``POST /api/v1/reward-orders`` (one item with counted stock: the
conditional stock UPDATE, the redemption with its account lock, the order, its
item, its status row and webhook event) against ``POST /api/v1/redemptions``
of the same points, interleaved one by one, each through the Flask test
client with the shop key (no network in either). Then a burst: ``--threads`` parallel orders for
``--stock`` items, which must sell exactly that many. Prints orders/s, the
ratio, and the burst's time.

    .venv/bin/python bench/bench_rewards.py [--orders 300] [--threads 20] [--stock 3] [--keep]
"""
from __future__ import annotations

import argparse
import io
import sys
import threading
import time

from common import make_app, scratch_database  # sets sys.path too

ADDRESS = {"name": "Bench", "line1": "ul. Prosta 1", "postal_code": "00-001", "city": "Warszawa", "country": "PL"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--stock", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    import sqlalchemy as sa

    from server.auth import create_key
    from server.extensions import db

    url = scratch_database("loyalty_bench_rewards")
    app = make_app(url)
    with app.app_context():
        keys = {kind: create_key(db.session(), f"bench-{kind}", kind)[1] for kind in ("shop", "admin", "erp")}
        db.session().commit()
    client = app.test_client()

    def call(method, path, key="shop", **kw):
        response = client.open(path, method=method, headers={"Authorization": f"Bearer {keys[key]}"}, **kw)
        assert response.status_code < 400, (path, response.get_json())
        return response.get_json()

    catalog = "ItemCode;ItemName;ItmsGrpCod;Price;Currency;PictureURL;RedeemableForPoints\r\nR1;Mug;900;;PLN;;10\r\n" \
              "R2;Scooter;900;;PLN;;10\r\n"
    client.post("/api/v1/imports", headers={"Authorization": f"Bearer {keys['erp']}"},
                content_type="multipart/form-data",
                data={"file": (io.BytesIO(catalog.encode()), "OITM.csv"), "kind": "catalog", "source": "sap_b1"})
    rewards = {r["sku"]: r["id"] for r in call("GET", "/api/v1/rewards")["rewards"]}
    call("PATCH", f"/api/v1/rewards/{rewards['R1']}", key="admin", json={"stock": args.orders})
    call("PATCH", f"/api/v1/rewards/{rewards['R2']}", key="admin", json={"stock": args.stock})
    member = call("POST", "/api/v1/members", json={"name": "bench", "ext_id": "bench"})["loyalty_id"]
    call("POST", f"/api/v1/members/{member}/adjustments", key="admin",
         json={"points": str(30 * args.orders), "reason": "bench", "kind": "bonus", "adjustment_id": "bench"})

    # Interleaved one by one, so a load change on the shared machine hits both sides alike.
    redemption_s = order_s = 0.0
    for n in range(args.orders):
        started = time.perf_counter()
        call("POST", "/api/v1/redemptions", json={"redemption_id": f"RD-{n}", "member": member, "points": "10"})
        middle = time.perf_counter()
        call("POST", "/api/v1/reward-orders", json={"reward_order_id": f"RO-{n}", "member": member,
                                                    "items": [{"sku": "R1"}], "address": ADDRESS})
        redemption_s += middle - started
        order_s += time.perf_counter() - middle

    people = [call("POST", "/api/v1/members", json={"name": f"p{n}", "ext_id": f"p{n}"})["loyalty_id"]
              for n in range(args.threads)]
    for person in people:
        call("POST", f"/api/v1/members/{person}/adjustments", key="admin",
             json={"points": "10", "reason": "bench", "kind": "bonus", "adjustment_id": f"b-{person}"})
    gate, answers = threading.Barrier(args.threads + 1), []

    def attempt(n: int, person: str) -> None:
        own = app.test_client()
        gate.wait()
        answers.append(own.post("/api/v1/reward-orders", headers={"Authorization": f"Bearer {keys['shop']}"},
                                json={"reward_order_id": f"BURST-{n}", "member": person,
                                      "items": [{"sku": "R2"}], "address": ADDRESS}).status_code)
    threads = [threading.Thread(target=attempt, args=(n, p)) for n, p in enumerate(people)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    burst_s = time.perf_counter() - started
    with app.app_context():
        left = db.session().execute(sa.text("SELECT stock FROM rewards WHERE sku = 'R2'")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    if not args.keep:
        admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS "loyalty_bench_rewards"'))
        admin.dispose()
    sold = answers.count(201)
    print(f"reward orders: {args.orders} in {order_s:.2f} s = {args.orders / order_s:,.1f} orders/s")
    print(f"redemptions:   {args.orders} in {redemption_s:.2f} s = {args.orders / redemption_s:,.1f} req/s")
    print(f"ratio orders/s ÷ redemptions/s: {redemption_s / order_s:.2f}")
    print(f"burst: {args.threads} parallel orders for {args.stock} items in {burst_s:.2f} s: {sold} sold, "
          f"{answers.count(409)} out of stock, stock left {left}")
    return 0 if sold == args.stock and left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
