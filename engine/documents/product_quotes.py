"""Points on product cards and listings [001][004]: each product as if bought alone, quantity 1, at its
catalog price, for everyone or for one member (their group, tier and facts apply).

One query reads the products; the compiled accrual policy in force evaluates
each one. The ETag is a hash of everything the answer depends on — the
accrual, tier and settings versions in force, the day in the program's time
zone (rules with active periods and ``weekday``), the member's facts and tier
multiplier, the channel and store, and the products' catalog rows — so a
shop can cache the answer and revalidate it with ``If-None-Match``; the
comparison is done before any rule is evaluated.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import members, policies, terms
from engine.accrual.facts import fact_line
from engine.models import Member, Product
from engine.models.bulk import one_of
from rules.facts import DocumentFacts, MemberFacts
from rules.tiering import tier_catalog

MAX_SKUS = 500
ONE = Decimal(1)


@dataclass(frozen=True)
class ProductQuotes:
    etag: str
    member: Member | None
    currency: str
    policy_version: int | None
    discount_percent: Decimal
    not_modified: bool = False  # the caller's ETag still matches: nothing was evaluated
    items: list[dict] = field(default_factory=list)


def _rows(session: Session, skus: list[str]) -> dict[str, tuple]:
    found = session.execute(select(Product.sku, Product.price, Product.currency, Product.product_group,
                                   Product.brand, Product.points_per_unit, Product.active, Product.updated_at)
                            .where(one_of(session, Product.sku, skus))).all()
    return {row[0]: tuple(row) for row in found}


def quote_products(session: Session, skus: list[str], member_ref: str | None, *, channel: str, store: str,
                   now: datetime, if_none_match=None) -> ProductQuotes:
    """Points per SKU (``if_none_match``: a callable telling whether the caller holds an ETag)."""
    skus = list(dict.fromkeys(skus))
    settings = policies.settings(session, now)
    version = terms.policy_for(session, now)
    compiled = policies.compiled(version, session) if version is not None else None
    tier_ref, tier_policy = policies.active(session, "tier", now)
    member = members.get(session, member_ref) if member_ref else None
    facts, multiplier, discount, earning = MemberFacts(), ONE, Decimal(0), compiled is not None
    if member is not None:
        facts = members.facts(session, member, now, settings, needed=members.variables_used(compiled))
        multiplier = terms.tier_multiplier(session, facts, settings, now)
        spec = tier_catalog(tier_policy).get(member.tier) if member.tier else None
        discount = spec.discount_percent if spec else Decimal(0)
        earning = earning and members.effective_status(member, settings) == "active"
    products = _rows(session, skus)
    settings_ref = policies.active_ref(session, policies.SETTINGS, now)
    key = json.dumps([
        version.id if version else None, tier_ref.id if tier_ref else None,
        settings_ref.id if settings_ref else None, now.astimezone(settings.tz).date().isoformat(),
        member.loyalty_id if member else None, repr(facts), str(multiplier), earning, channel, store,
        [[str(v) for v in products[s]] if s in products else [s] for s in skus]], default=str)
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    matched = if_none_match is not None and if_none_match(etag)
    result = ProductQuotes(etag, member, settings.currency, version.version if version else None, discount,
                           matched)
    if matched:
        return result
    for sku in skus:
        row = products.get(sku)
        if row is None:
            result.items.append({"sku": sku, "points": None, "error": "unknown_sku"})
            continue
        _sku, price, currency, group, brand, per_unit, active, _updated = row
        if not active:
            result.items.append({"sku": sku, "points": None, "error": "inactive"})
            continue
        if price is None:
            result.items.append({"sku": sku, "points": None, "error": "no_price"})
            continue
        points = Decimal(0)
        if earning:
            cart = DocumentFacts(lines=(fact_line(1, sku, group, brand, ONE, price, price, False, per_unit),),
                                 document_type="order", channel=channel, store=store,
                                 currency=(currency or settings.currency).upper(), placed_at=now,
                                 shipping_total=Decimal(0))
            points = rules.evaluate_accrual(compiled, cart, facts, settings, at=now,
                                            tier_multiplier=multiplier).points
        result.items.append({"sku": sku, "points": points, "price": price,
                             "currency": (currency or settings.currency).upper(), "error": None})
    return result
