"""Demo program and data for a newcomer's first run: the [000] wholesaler, a few
members, a catalog with two rewards, orders in every state, an admin user and an API key."""
from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, members, policies
from engine.documents import orders
from engine.domain import LineDoc, ProductDoc, PurchaseDoc
from engine.engagement import rewards
from engine.models import ApiKey, Product, User
from server import demo_programs

DEMO_KEY_NAME = "demo-shop"

PRODUCTS = [
    # sku, name, group, price, points price (reward), points per unit
    ("KR-100", "Ball valve 1/2\"", "110", "34.80", None, None),
    ("RU-200", "PEX pipe 16 mm, 100 m", "120", "249.00", None, None),
    ("PO-300", "Circulation pump", "130", "899.00", None, "20"),
    ("NAG-1", "Cordless drill (reward)", "900", "450.00", "4500", None),
    ("NAG-2", "Weekend trip to Zakopane (reward)", "900", "2400.00", "24000", None),
]

MEMBERS = [
    ("Hydro-Mont Sp. z o.o.", "C0001", "+48601234567", "biuro@hydro-mont.example", "110"),
    ("Instal-Pol", "C0002", "+48602345678", "kontakt@instal-pol.example", "100"),
    ("Jan Kowalski", "C0003", "+48603456789", "jan.kowalski@example.com", "100"),
]


def seed(session: Session, base_url: str = "http://127.0.0.1:5000") -> dict:
    """Idempotent: a second run changes nothing and only reprints the logins."""
    from werkzeug.security import generate_password_hash

    from server.auth import create_key

    report: dict = {"logins": []}
    now = clock.now()
    report["policies_loaded"] = policies.load_defaults(session, by="demo")
    if session.execute(select(ApiKey).where(ApiKey.name == DEMO_KEY_NAME)).scalar_one_or_none():
        report["logins"].append("demo data already present; keys are shown only when created")
        session.commit()
        return report

    for sku, name, group, price, points_price, per_unit in PRODUCTS:
        session.add(Product(sku=sku, name=name, product_group=group, price=Decimal(price),
                            currency="PLN", points_price=Decimal(points_price) if points_price else None,
                            points_per_unit=Decimal(per_unit) if per_unit else None, source="demo"))
        if points_price:  # the catalog's rewards, as the daily file would offer them
            rewards.from_catalog(session, ProductDoc(source="demo", sku=sku, name=name, price=Decimal(price),
                                                     currency="PLN", redeemable_for_points=Decimal(points_price),
                                                     reward=True, stock=10 if sku == "NAG-1" else None), now=now)
    created = []
    for name, code, phone, email, group in MEMBERS:
        created.append(members.create(session, {"name": name, "erp_code": code, "phone": phone,
                                                "email": email, "group": group},
                                      now=now - timedelta(days=400)))
    session.flush()
    demo_programs.prepare(session, now)
    for i, member in enumerate(created, start=1):
        for n, (days_ago, status) in enumerate([(40, "fulfilled"), (3, "fulfilled"),
                                                (1, "paid"), (0, "placed")], start=1):
            lines = (
                LineDoc(1, "KR-100", Decimal(10 * i), Decimal("34.80"), Decimal("34.80") * 10 * i,
                        product_group="110"),
                LineDoc(2, "RU-200", Decimal(2), Decimal("249.00"), Decimal("498.00"),
                        product_group="120"),
                LineDoc(3, "PO-300", Decimal(1), Decimal("899.00"), Decimal("899.00"),
                        product_group="130"),
            )
            doc = PurchaseDoc(source="shop", external_id=f"DEMO-{i}-{n}", document_type="order",
                              member_ref=member.loyalty_id, placed_at=now - timedelta(days=days_ago),
                              currency="PLN", lines=lines, status=status)
            orders.record_purchase(session, doc, actor="demo", now=now - timedelta(days=days_ago))

    programs = demo_programs.finish(session, created, now)
    password = secrets.token_urlsafe(12)
    session.add(User(email="admin@example.com", password_hash=generate_password_hash(password),
                     role="admin"))
    _row, shop_key = create_key(session, DEMO_KEY_NAME, "shop")
    _row, admin_key = create_key(session, "demo-admin", "admin")
    session.commit()
    report["logins"] += [
        f"Admin login: admin@example.com / {password}",
        f"Shop API key:  {shop_key}",
        f"Admin API key: {admin_key}",
        f"Try: curl -H 'Authorization: Bearer {shop_key}' "
        f"{base_url}/api/v1/members/erp:C0001/balance",
    ]
    report["logins"] += programs
    report["members"] = [m.loyalty_id for m in created]
    return report
