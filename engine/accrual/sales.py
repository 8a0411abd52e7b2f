"""Set-based planning of new orders (1C): the rows `orders.record_purchase` writes for each, in bulk.

The per-document path stores an order, applies its status (`orders.set_status`) and, when the status
earns (fulfilled, or the program's ``accrue_on``), accrues it (`accrual.accrue` → `ledger.credit`).
Here a chunk of new orders of accounts without debt is planned with what `chunk` reads once per chunk
(terms per date, member facts with the chunk's earlier documents, the catalog); each earning order is
evaluated with the compiled rules, exactly as the per-document path evaluates it: the order's own
channel, store, shipping and document type, its points held from the moment of the import (``now``,
the per-document path's ``available_from``) and expiring as the expiry policy says for that moment.
Orders that do not earn yet (placed, or paid under ``accrue_on=fulfilled``) are stored as they are,
without snapshot or rule version, as the per-document path stores them.

Like the set-based invoices, an accrual stores the compact trace (`engine.accrual.batch`); the member
snapshot is on the document. The caller declines what this cannot plan (missions, referrals, codes,
write-offs, documents already known, debt) and sends it the per-document way.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import rules
from engine import members
from engine.accrual import batch, chunk
from engine.accrual.facts import FactLine
from engine.ledger import rows
from engine.members.lookup import MemberRow
from engine.models.base import SCALE
from engine.models.bulk import new_ids
from engine.terms import lot_expiry
from rules.facts import DocumentFacts

ZERO = Decimal(0)
_QUANT = Decimal(1).scaleb(-SCALE)
EARNING = ("paid", "fulfilled")


class BulkOrder(NamedTuple):
    """A new order; ``lines`` are `engine.domain.LineDoc`s, ``fingerprint`` its `orders.content_hash`."""

    external_id: str
    number: str
    member: MemberRow
    placed_at: datetime
    currency: str
    channel: str
    store: str
    status: str  # placed, paid or fulfilled
    shipping_total: Decimal
    version: str | None
    lines: tuple
    fingerprint: str
    card_id: str | None  # the 1C card it was booked on (`DocumentCard`)


class OrderPostings(NamedTuple):
    documents: list  # dicts of the documents table (ids set)
    lines: list  # dicts of the document lines table
    entries: list  # `rows.entry_row`s with their ids
    lots: list  # `rows.lot_row`s pointing at them


class _ExpiryDoc(NamedTuple):
    channel: str
    document_type: str = "order"


def earns(status: str, settings) -> bool:
    """Whether a new order stored with ``status`` accrues at once (`orders.set_status` from placed)."""
    return status in EARNING and (status == settings.accrue_on or status == "fulfilled")


def _trace(version: int, result, multiplier: Decimal) -> dict:
    counts: dict[str, int] = {}
    for line in result.lines:
        for rule in line.rules:
            counts[rule] = counts.get(rule, 0) + 1
    return {"policy": "accrual", "policy_version": version, "points": str(result.points),
            "unrounded": str(result.unrounded), "tier_multiplier": str(multiplier),
            "document_rules": list(result.document_rules), "line_rules": counts, "compact": True}


def plan_orders(session, orders: list[BulkOrder], doc_ids: list[int], *, source: str, actor: str,
                now: datetime) -> OrderPostings:
    """The rows the per-document path writes for ``orders`` taken in this order, at ``now``."""
    if not orders:
        return OrderPostings([], [], [], [])
    terms = chunk.Terms(session)
    per_doc = [terms.at(o.placed_at) for o in orders]
    needed = frozenset().union(*(t.needed for t in per_doc))
    catalog = batch._catalog(session, {line.sku for o in orders for line in o.lines})
    facts_of = chunk.ChunkFacts(session, orders, needed, {})
    expiry: dict = {}
    documents, lines, entries, lots = [], [], [], []
    no_product = ("", "", "", None, None)
    for o, t, doc_id in zip(orders, per_doc, doc_ids, strict=True):
        member, placed_at, settings = o.member, o.placed_at, t.settings
        accrues = earns(o.status, settings)
        active = accrues and t.version is not None and members.effective_status(member, settings) == "active"
        filled, facts_lines, total = [], [], ZERO
        for l in o.lines:
            name, group, brand, per_unit, tags = catalog.get(l.sku, no_product)
            line_id, group, brand = str(l.line_no), l.product_group or group, l.brand or brand
            filled.append((l, l.name or name, group, brand, per_unit, tags or None))
            total += l.line_total
            if active and (l.quantity > 0 or l.line_total > 0):
                facts_lines.append(FactLine(line_id, l.sku, group, brand, l.quantity, l.unit_price, l.line_total,
                                            l.is_promo, per_unit, tuple(tags or ())))
        points_of: dict[str, Decimal] = {}
        earned, version_id, snapshot, accrued_at = ZERO, None, None, None
        if accrues:
            facts, snapshot = facts_of.facts(member, placed_at, settings, t.needed if active else chunk.FREE_FACTS)
            accrued_at = now
            if active:
                version_id = t.version.id
                doc_facts = DocumentFacts(lines=tuple(facts_lines), document_type="order", channel=o.channel,
                                          store=o.store, currency=o.currency, placed_at=placed_at,
                                          shipping_total=o.shipping_total)
                multiplier = terms.multiplier(t, facts, placed_at)
                result = rules.evaluate_accrual(t.compiled, doc_facts, facts, settings, at=placed_at,
                                                tier_multiplier=multiplier)
                points_of = {r.line_id: r.points for r in result.lines}
                if result.points > 0:
                    earned = result.points
                    available_at = now + timedelta(days=settings.holding_days)
                    key = (available_at, o.channel, facts)
                    if key not in expiry:
                        expiry[key] = lot_expiry(session, "accrual", available_at, facts, settings,
                                                 document=_ExpiryDoc(o.channel))
                    entries.append(rows.entry_row(
                        account_id=member.account_id, kind="accrual", amount=batch.amount(earned),
                        key=f"{source}:{o.external_id}:accrual", actor=actor, now=now, effective_at=placed_at,
                        member_id=member.id, document_id=doc_id, policy_version_id=version_id,
                        trace=_trace(t.version.version, result, multiplier)))
                    lots.append(rows.lot_row(account_id=member.account_id, entry_id=0, amount=batch.amount(earned),
                                             available_at=available_at, expires_at=expiry[key]))
                    facts_of.record_lot(member.account_id, available_at, expiry[key], batch.amount(earned))
        facts_of.record_document(member, placed_at, batch.amount(total))
        documents.append({
            "id": doc_id, "source": source, "external_id": o.external_id, "document_type": "order",
            "number": o.number, "member_id": member.id, "account_id": member.account_id, "channel": o.channel,
            "store": o.store, "currency": o.currency, "placed_at": placed_at, "status": o.status,
            "total": batch.amount(total), "shipping_total": batch.amount(o.shipping_total), "base_document_id": None,
            "version": o.version, "content_hash": o.fingerprint, "earned": batch.amount(earned),
            "absorbed": ZERO, "accrued_at": accrued_at, "policy_version_id": version_id,
            "member_snapshot": snapshot, "codes": None, "created_at": now, "updated_at": now})
        for l, name, group, brand, per_unit, tags in filled:
            points = points_of.get(str(l.line_no))
            lines.append({
                "document_id": doc_id, "line_no": l.line_no, "sku": l.sku, "name": name, "product_group": group,
                "brand": brand, "quantity": batch.amount(l.quantity), "unit_price": batch.amount(l.unit_price),
                "line_total": batch.amount(l.line_total), "is_promo": l.is_promo, "points_per_unit": per_unit,
                "base_line_no": None, "returned_quantity": ZERO, "returned_total": ZERO,
                "points": batch.amount(points) if points is not None else None, "tags": tags})
    for entry_id, entry, lot in zip(new_ids(session, rows.ENTRY_TABLE, len(entries)), entries, lots, strict=True):
        entry["id"] = lot["entry_id"] = entry_id
    return OrderPostings(documents, lines, entries, lots)
