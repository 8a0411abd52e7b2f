"""Demo program and data for a newcomer's first run: the [000] wholesaler, its catalog, ninety days of
history (server.demo_history), the engagement programs at work (server.demo_programs: rewards, a mission,
promo codes, tiers), admin and marketer logins and two API keys."""
from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import clock, policies
from engine.domain import ProductDoc
from engine.engagement import rewards
from engine.models import ApiKey, Product, User
from server import demo_history, demo_programs

DEMO_KEY_NAME = "demo-shop"

PRODUCTS = [
    # sku, name, group, price, points price (reward), points per unit
    ("KR-100", "Ball valve 1/2\"", "110", "34.80", None, None),
    ("RU-200", "PEX pipe 16 mm, 100 m", "120", "249.00", None, None),
    ("PO-300", "Circulation pump", "130", "899.00", None, "20"),
    ("ZK-150", "Check valve 1/2\"", "110", "18.90", None, None),
    ("GR-400", "Bathroom radiator", "140", "1299.00", None, None),
    ("NAG-1", "Cordless drill (reward)", "900", "450.00", "4500", None),
    ("NAG-2", "Weekend trip to Zakopane (reward)", "900", "2400.00", "24000", None),
]

def seed(session: Session, base_url: str = "http://127.0.0.1:5000", *, members_count: int = 300,
         upload_folder: str | None = None) -> dict:
    """Idempotent: a second run changes nothing and only reprints the logins. ``upload_folder``: where the
    demo SAP file is stored for its import run (none without it)."""
    from werkzeug.security import generate_password_hash

    from server.auth import create_key

    report: dict = {"logins": []}
    now = clock.now()
    report["policies_loaded"] = _load_policies(session, now - timedelta(days=demo_history.DAYS + 10))
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
    session.flush()
    demo_programs.prepare(session, now)
    passwords = {role: secrets.token_urlsafe(12) for role in ("admin", "marketer")}
    for role, password in passwords.items():
        session.add(User(email=f"{role}@example.com", password_hash=generate_password_hash(password), role=role))
    _row, shop_key = create_key(session, DEMO_KEY_NAME, "shop")
    _row, admin_key = create_key(session, "demo-admin", "admin")
    session.flush()
    created = demo_history.build(session, now, members=members_count)
    programs = demo_programs.finish(session, created, now)
    session.commit()  # one transaction: the keys mark the demo as loaded only with all its history
    if upload_folder:
        report["import_run"] = demo_history.import_file(upload_folder)
    report["logins"] += [
        f"Admin UI:      {base_url}/admin",
        f"Admin login:   admin@example.com / {passwords['admin']}",
        f"Marketer login: marketer@example.com / {passwords['marketer']}",
        f"Shop API key:  {shop_key}",
        f"Admin API key: {admin_key}",
        f"Try: curl -H 'Authorization: Bearer {shop_key}' "
        f"{base_url}/api/v1/members/erp:C0001/balance",
    ] + programs
    report["members"] = len(created)
    report["example_member"] = created[0].loyalty_id
    return report


def _load_policies(session: Session, since) -> list[str]:
    """The default program, in force from before the demo history starts (so its orders earn)."""
    loaded = []
    for name, document in sorted(rules.default_policies().items()):
        if name not in policies.POLICY_NAMES or policies.latest(session, name) is not None:
            continue
        row = policies.save_draft(session, name, document, author="demo", comment="default policy")
        policies.publish(session, name, by="demo", version=row.version, effective_from=since)
        loaded.append(name)
    return loaded
