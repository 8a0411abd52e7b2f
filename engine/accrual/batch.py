"""Set-based posting of new ERP invoices: the ledger `orders.record_purchase` would write, in bulk.

The per-document path (record_purchase → accrual.accrue → ledger.credit) runs
a dozen queries per invoice. Here a whole chunk of new invoices of accounts
without debt is planned with a handful: members, catalog and (only when a
policy in force reads them) member history, open lots and referrals are
fetched once per chunk (`chunk`); each document is evaluated with the
compiled rules; `engine.documents.invoices` writes the documents it plans and
hands the entries and lots, built by the ledger's own row builder, to
`engine.ledger.rows`.
The rows are the ledger the per-document path writes when it takes the same
documents in the same order: member facts include the chunk's earlier
documents, amounts are quantised as the ORM quantises them, keys, dates, lots
and expiry are computed by the same functions. The caller locks the chunk's
accounts first and sends anything unusual (debt, corrections, documents
already known) through the per-document path.

One thing is lighter on purpose: the entry's trace is compact (totals, the
document rules, and how many lines each line rule matched; not every line's
path, nor why the other rules did not match, nor the member snapshot, which
is on the document). `engine.accrual.explain` rebuilds the full explanation
from the pinned version and member snapshot on demand.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _js
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import members
from engine.accrual import chunk
from engine.accrual.facts import FactLine
from engine.engagement import missions
from engine.ledger import rows
from engine.members.lookup import MemberRow
from engine.models import Document, Product
from engine.models.base import SCALE
from engine.models.bulk import NULL, JsonText, batches, esc, one_of, reserve_ids, run
from rules.facts import DocumentFacts

ZERO = Decimal(0)
_QUANT = Decimal(1).scaleb(-SCALE)


class BulkInvoice(NamedTuple):
    """A new ERP invoice (``cancelled``: SAP CANCELED=Y, stored but earning nothing).

    ``lines``: objects with ``line_no, sku, quantity, unit_price, line_total, name, product_group,
    brand`` (the SAP importer passes its parsed rows as they are).
    """

    external_id: str
    number: str
    member: MemberRow
    member_ref: str
    placed_at: datetime
    currency: str
    cancelled: bool
    lines: list


class Postings(NamedTuple):
    """Rows to write: documents and lines (`engine.documents.store`; each line is its COPY text already),
    entries and lots (`engine.ledger.rows`)."""

    documents: list
    lines: list
    entries: list
    lots: list
    missions: list = []  # mission progress rows (`engine.engagement.missions.record_batch`); never mutated


def amount(value: Decimal) -> Decimal:
    """What an Amount column stores: 4 places, rounded as the ORM rounds (the same NUMERIC value)."""
    return value.quantize(_QUANT)


def _product(found: tuple | None) -> tuple:
    """What the catalog adds to a SKU's lines: name, group, brand, points per unit, tags (for the rules), and
    the COPY text of the line's columns after ``line_total`` up to ``points`` and after ``points``
    (`engine.documents.store.LINE_COLUMNS`)."""
    name, group, brand, per_unit, tags = found or ("", "", "", None, None)
    after_total = f"\tf\t{NULL if per_unit is None else per_unit}\t0\t0\t"
    after_points = f"\t{NULL if not tags else esc(json.dumps(tags))}\n"
    return name, group, brand, per_unit, tuple(tags or ()), after_total, after_points


def _catalog(session: Session, skus: set[str]) -> dict[str, tuple]:
    out = {}
    for part in batches(skus):
        stmt = select(Product.sku, Product.name, Product.product_group, Product.brand, Product.points_per_unit,
                      Product.tags) \
            .where(one_of(session, Product.sku, part))
        out.update({row[0]: tuple(row)[1:] for row in run(session, stmt)})
    return out


def _snapshot_json(s: dict) -> JsonText:
    return JsonText(
        f'{{"member_group":{_js(s["member_group"])},"tier":{_js(s["tier"])},'
        f'"days_since_registration":{s["days_since_registration"]},"orders_count":{s["orders_count"]},'
        f'"turnover_12m":"{s["turnover_12m"]}","is_birthday":{"true" if s["is_birthday"] else "false"},'
        f'"referral_count":{s["referral_count"]},"points_balance":"{s["points_balance"]}"}}')


def _trace_json(version: int, result, multiplier: Decimal) -> JsonText:
    """The compact trace: totals, the document rules, and how many lines each line rule matched (the
    member snapshot is on the document)."""
    counts: dict[str, int] = {}
    for line in result.lines:
        for rule in line.rules:
            counts[rule] = counts.get(rule, 0) + 1
    matched = ",".join(f"{_js(rule)}:{n}" for rule, n in counts.items())
    return JsonText(
        f'{{"policy":"accrual","policy_version":{version},"points":"{result.points}",'
        f'"unrounded":"{result.unrounded}","tier_multiplier":"{multiplier}",'
        f'"document_rules":[{",".join(map(_js, result.document_rules))}],"line_rules":{{{matched}}},'
        f'"compact":true}}')


def plan_invoices(session: Session, invoices: list[BulkInvoice], fingerprints: list[str], *, source: str,
                  actor: str, now: datetime, channel: str = "erp",
                  debts: dict[int, Decimal] | None = None) -> Postings:
    """The rows the per-document path would write for ``invoices``, taken in this order (``fingerprints``:
    each one's `engine.documents.fingerprint`)."""
    if not invoices:
        return Postings([], [], [], [])
    terms = chunk.Terms(session)
    per_doc = [terms.at(inv.placed_at) for inv in invoices]
    needed = frozenset().union(*(t.needed for t in per_doc))
    catalog = _catalog(session, {line.sku for inv in invoices for line in inv.lines})
    facts_of = chunk.ChunkFacts(session, invoices, needed, debts or {})
    mission_plan = missions.Chunk(session, {inv.member.id for inv in invoices})
    documents, lines, entries, lots = [], [], [], []
    products: dict[str, tuple] = {}  # per SKU: what the catalog adds to its lines, worked out once
    # Quantities and prices repeat: each quantised and written once. Decimals go in as ``!s``: the same
    # text as ``format(d, "")`` (tests/unit/importers/test_decimal_text.py) at half the cost.
    texts: dict[Decimal, str] = {}
    new_line = tuple.__new__
    doc_ids = reserve_ids(session, Document.__tablename__, len(invoices))
    for inv, t, doc_id, fingerprint in zip(invoices, per_doc, doc_ids, fingerprints, strict=True):
        member, placed_at, settings = inv.member, inv.placed_at, t.settings
        active = not inv.cancelled and t.version is not None and \
            members.effective_status(member, settings) == "active"
        filled, facts_lines, total = [], [], ZERO
        for l in inv.lines:
            sku, quantity, price, line_total = l.sku, l.quantity, l.unit_price, l.line_total
            product = products.get(sku)
            if product is None:
                product = products[sku] = _product(catalog.get(sku))
            name, group, brand, per_unit, tags, after_total, after_points = product
            line_id, group, brand, name = str(l.line_no), l.product_group or group, l.brand or brand, l.name or name
            total += line_total
            if active and (quantity > 0 or line_total > 0):
                facts_lines.append(new_line(FactLine, (line_id, sku, group, brand, quantity, price, line_total,
                                                       False, per_unit, tags)))
            quantity_text, price_text = texts.get(quantity), texts.get(price)
            if quantity_text is None:
                quantity_text = texts[quantity] = str(quantity.quantize(_QUANT))
            if price_text is None:
                price_text = texts[price] = str(price.quantize(_QUANT))
            texts_in = sku + name + group + brand  # `needs_escape`, inlined: a million lines per import
            if "\\" in texts_in or "\t" in texts_in or "\n" in texts_in or "\r" in texts_in:
                sku, name, group, brand = esc(sku), esc(name), esc(group), esc(brand)
            filled.append((line_id, f"{doc_id}\t{l.line_no}\t{sku}\t{name}\t{group}\t{brand}\t{quantity_text}\t"
                                    f"{price_text}\t{line_total.quantize(_QUANT)!s}{after_total}", after_points))
        total = amount(total)
        points_of: dict[str, Decimal] = {}
        earned, version_id, snapshot, accrued_at = ZERO, None, None, None
        if not inv.cancelled:
            facts, values = facts_of.facts(member, placed_at, settings, t.needed if active else chunk.FREE_FACTS)
            snapshot, accrued_at = _snapshot_json(values), now
            if active:
                version_id = t.version.id
                doc_facts = DocumentFacts(lines=tuple(facts_lines), document_type="invoice", channel=channel,
                                          store="", currency=inv.currency, placed_at=placed_at,
                                          shipping_total=ZERO)
                doc_facts = mission_plan.plan(doc_id, member.id, doc_facts, facts, settings)
                multiplier = terms.multiplier(t, facts, placed_at)
                result = rules.evaluate_accrual(t.compiled, doc_facts, facts, settings, at=placed_at,
                                                tier_multiplier=multiplier)
                points_of = {r.line_id: r.points for r in result.lines}
                if result.points > 0:
                    earned = result.points
                    available_at = placed_at + timedelta(days=settings.holding_days)
                    expires_at = terms.expires(t, available_at, facts)
                    entries.append(rows.entry_row(
                        account_id=member.account_id, kind="accrual", amount=amount(earned),
                        key=f"{source}:{inv.external_id}:accrual", actor=actor, now=now, effective_at=placed_at,
                        member_id=member.id, document_id=doc_id, policy_version_id=version_id,
                        trace=_trace_json(t.version.version, result, multiplier)))
                    lots.append(rows.lot_row(account_id=member.account_id, entry_id=0, amount=amount(earned),
                                             available_at=available_at, expires_at=expires_at))
                    facts_of.record_lot(member.account_id, available_at, expires_at, amount(earned))
            facts_of.record_document(member, placed_at, total)
        documents.append((doc_id, inv.external_id, inv.number, member.id, member.account_id, inv.currency,
                          placed_at, "cancelled" if inv.cancelled else "fulfilled", total, fingerprint,
                          amount(earned), accrued_at, version_id, snapshot))
        for line_id, head, after_points in filled:  # the line's COPY text (`engine.documents.store`)
            points = points_of.get(line_id)
            lines.append(f"{head}\\N{after_points}" if points is None else
                         f"{head}{points.quantize(_QUANT)!s}{after_points}")
    for entry_id, entry, lot in zip(rows.reserve_entry_ids(session, len(entries)), entries, lots):
        entry["id"] = lot["entry_id"] = entry_id
    return Postings(documents, lines, entries, lots, mission_plan.rows)
