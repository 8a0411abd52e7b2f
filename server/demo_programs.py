"""The demo's engagement programs, on top of server/demo.py's members and orders: catalog tags, a running
mission, a batch of promo codes, an order that carried a promo code, and tiers recalculated.

Each piece is a call to the same engine function the API, the CLI or the nightly job would make, with the
default policies of ``rules/defaults/`` (the eco tag rule, the LATO2026 code rule, the reward-bundle price,
the eco-count mission rule, the turnover tiers) doing the work.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.documents import orders
from engine.domain import LineDoc, PurchaseDoc
from engine.engagement import missions, promo_codes, tiers
from engine.models import Member, Product

TAGS = {"KR-100": ["eco"], "PO-300": ["energy-saving", "bestseller"]}
BUNDLE = ("PE-10", "Paint brush 50 mm: free for 3 points per 2", "900", "12.90", ["reward-bundle"])
MISSION = {"code": "eco-3000", "name": "Buy 3 000 PLN of eco products", "rule_id": "eco-count",
           "metric": "amount", "target": Decimal(3000), "reward_points": Decimal(300), "enrolment": "auto"}
PROMO_BATCH = ("Lato 2026 stickers", "LATO-####-??", 50, Decimal(50))
ORDER_CODE = "LATO2026"


def prepare(session: Session, now: datetime) -> None:
    """Before the demo orders: tags on the catalog, the bundle product, and a mission everyone is in
    (counting from when the default mission policy was published, a moment ago)."""
    for product in session.execute(select(Product).where(Product.sku.in_(TAGS))).scalars():
        product.tags = TAGS[product.sku]
    sku, name, group, price, tags = BUNDLE
    session.add(Product(sku=sku, name=name, product_group=group, price=Decimal(price), currency="PLN",
                        tags=tags, source="demo"))
    session.flush()
    missions.define(session, {**MISSION, "starts_at": now - timedelta(days=60)}, now=clock.now())


def finish(session: Session, members: list[Member], now: datetime) -> list[str]:
    """After the demo orders: an order with the summer code that moves the mission and a tier, a promo
    batch, tiers recalculated; what to try, as text. Dated now: the default policies start now."""
    at = clock.now()
    big = PurchaseDoc(source="shop", external_id="DEMO-LATO-1", document_type="order",
                      member_ref=members[0].loyalty_id, placed_at=at, currency="PLN",
                      lines=(LineDoc(1, "KR-100", Decimal(40), Decimal("34.80"), Decimal("1392.00"),
                                     product_group="110"),
                             LineDoc(2, "PO-300", Decimal(22), Decimal("899.00"), Decimal("19778.00"),
                                     product_group="130")),
                      status="fulfilled", codes=(ORDER_CODE,))
    orders.record_purchase(session, big, actor="demo", now=at)
    name, pattern, count, points = PROMO_BATCH
    batch = promo_codes.generate(session, name, pattern, count, points=points, actor="demo", now=at)
    rows = promo_codes.export_csv(session, batch)
    next(rows)  # the header
    sample = next(rows).split(",")[0]
    tiers.recalculate(session, clock.now())  # turnover counts documents before the moment asked
    session.flush()
    return [f"Promo codes: '{name}', {count} codes of {points} points each, e.g. {sample} "
            f"(POST /api/v1/promo-codes/redeem); orders carrying the code {ORDER_CODE} earn 100 bonus points",
            f"Mission '{MISSION['code']}' in progress; SKU {BUNDLE[0]} is free for 3 points per 2 units in a cart"]
