"""New credit notes a chunk at a time: what `orders.record_purchase` writes for each, planned in memory.

The per-document path (record_purchase → apply_correction → accrual.recompute
→ ledger.debit) runs about thirty statements per credit note. Here a chunk's
base documents with their lines, the open lots of its accounts
(`engine.ledger.reversals`), the catalog and the keys already used are read
once; each credit note is checked as `orders.apply_correction` checks it,
its base's net lines are re-evaluated under the pinned rule version and
member snapshot and the difference is planned as
the same reversal; then documents, lines and the ledger are written in a few
statements. Like the set-based invoices, a reversal stores the compact trace
(totals, the document rules, how many lines each line rule matched): each
line's points are on the base's lines and the member snapshot on the base, and
the full explanation of every line costs more than the rest of the planning.

Only the usual case is planned: a credit note naming existing lines of an
earned-for invoice of its own customer, on an account without debt, with no
points spent on the invoice, no missions defined, a program that lets
balances go negative, and a recompute that takes points back (or changes
nothing). Everything else — and every credit note of an account that has one
such document in the chunk, so an account's documents keep their order —
is declined and goes the per-document way, which gives the exact outcome or
refusal. The ledger is the per-document path's, which a test compares.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from engine import policies, terms
from engine.accrual.facts import fact_line
from engine.documents import orders, states
from engine.domain import PurchaseDoc
from engine.ledger.reversals import ReversalBook
from engine.models import Document, DocumentLine, LedgerEntry, Mission, PolicyVersion, Product, Redemption
from engine.models.bulk import batches, insert_rows, new_ids, one_of, run, update_rows
from rules.facts import DocumentFacts, MemberFacts

ZERO = Decimal(0)
_LINE = ("id", "line_no", "sku", "product_group", "brand", "quantity", "unit_price", "line_total", "is_promo",
         "points_per_unit", "returned_quantity", "returned_total", "points", "tags")


class Decline(Exception):
    """This account's credit notes go the per-document way."""


class _Line:
    __slots__ = _LINE + ("dirty",)

    def __init__(self, values):
        """``values``: the `_LINE` columns in that order."""
        (self.id, self.line_no, self.sku, self.product_group, self.brand, self.quantity, self.unit_price,
         self.line_total, self.is_promo, self.points_per_unit, self.returned_quantity, self.returned_total,
         self.points, self.tags) = values
        self.dirty = False


class _Base:
    __slots__ = ("id", "external_id", "document_type", "member_id", "channel", "store", "currency", "placed_at",
                 "status", "shipping_total", "total", "earned", "absorbed", "accrued_at", "policy_version_id",
                 "member_snapshot", "codes", "lines")

    def __init__(self, row):
        for name in self.__slots__[:-1]:
            setattr(self, name, getattr(row, name))
        self.lines: list[_Line] = []


class _Chunk:
    """What the chunk's credit notes read once."""

    def __init__(self, session: Session, source: str, notes: list):
        self.session, self.source = session, source
        d = Document.__table__.c
        wanted = sorted({doc.base_external_id for doc, _m in notes if doc.base_external_id})
        self.bases: dict[str, _Base] = {}
        for part in batches(wanted):
            stmt = select(*(d[name] for name in _Base.__slots__[:-1])).where(
                d.source == source, one_of(session, d.external_id, part))
            self.bases.update({row.external_id: _Base(row) for row in run(session, stmt)})
        by_id = {base.id: base for base in self.bases.values()}
        l = DocumentLine.__table__.c
        for part in batches(sorted(by_id)):
            stmt = select(l.document_id, *(l[name] for name in _LINE)).where(
                one_of(session, l.document_id, part)).order_by(l.document_id, l.line_no)
            for row in run(session, stmt):
                by_id[row.document_id].lines.append(_Line(row[1:]))  # the row is (document_id, *_LINE)
        r = Redemption.__table__.c
        self.redeemed = set()
        for part in batches(list(self.bases)):
            self.redeemed.update(run(session, select(r.order_external_id).where(
                r.source == source, r.status == "active", one_of(session, r.order_external_id, part))).scalars())
        keys = [self.key(base, doc) for doc, _m in notes if (base := self.bases.get(doc.base_external_id or ""))]
        e = LedgerEntry.__table__.c
        self.used_keys = set()
        for part in batches(keys):
            self.used_keys.update(run(session, select(e.idempotency_key).where(
                one_of(session, e.idempotency_key, part))).scalars())
        p = Product.__table__.c
        self.catalog = {}
        for part in batches({line.sku for doc, _m in notes for line in doc.lines}):
            stmt = select(p.sku, p.name, p.product_group, p.brand, p.points_per_unit, p.tags).where(
                one_of(session, p.sku, part))
            self.catalog.update({row.sku: row for row in run(session, stmt)})
        self.versions: dict[int, tuple] = {}

    def key(self, base: _Base, doc: PurchaseDoc) -> str:
        return f"{self.source}:{base.external_id}:correction:{doc.external_id}"

    def version(self, version_id: int) -> tuple:
        found = self.versions.get(version_id)
        if found is None:
            row = self.session.get(PolicyVersion, version_id)
            found = self.versions[version_id] = (row, policies.compiled(row, self.session))
        return found


class _Plan:
    def __init__(self):
        self.documents: list[dict] = []
        self.lines: list[tuple[int, dict]] = []  # (index of the document, row)
        self.bases: dict[int, _Base] = {}


def post_credit_notes(session: Session, notes: list[tuple[PurchaseDoc, object]], *, source: str, actor: str,
                      now: datetime, debts: dict[int, Decimal]) -> tuple[int, set[int]]:
    """Store new credit notes (``(document, MemberRow)`` in file order) of locked accounts (``debts``: each
    one's debt) with what they take back; returns (how many were stored, the accounts declined)."""
    by_account: dict[int, list] = {}
    for doc, member in notes:
        by_account.setdefault(member.account_id, []).append((doc, member))
    if not notes or session.execute(select(Mission.id).limit(1)).first() is not None:
        return 0, set(by_account)  # mission progress is replaced per document: `missions.on_document`
    chunk = _Chunk(session, source, notes)
    book = ReversalBook(session, {account_id: debts.get(account_id, ZERO) for account_id in by_account}, now)
    plan, declined = _Plan(), set()
    for account_id, items in by_account.items():
        if debts.get(account_id, ZERO) > 0:
            declined.add(account_id)
            continue
        ledger = book.account(account_id)
        documents, lines, touched = [], [], {}
        try:
            for doc, member in items:
                _plan_one(chunk, doc, member, ledger, documents, lines, touched, actor=actor, now=now)
        except Decline:
            declined.add(account_id)
            continue
        book.keep(ledger)
        offset = len(plan.documents)
        plan.documents.extend(documents)
        plan.lines.extend((offset + index, row) for index, row in lines)
        plan.bases.update(touched)
    _write(session, plan, now)
    book.write(session)
    return len(plan.documents), declined


def _plan_one(chunk: _Chunk, doc: PurchaseDoc, member, ledger, documents: list, lines: list, touched: dict, *,
              actor: str, now: datetime) -> None:
    base = chunk.bases.get(doc.base_external_id or "")
    if base is None or base.member_id != member.id or not states.allows(base, "correct") \
            or base.external_id in chunk.redeemed or any(line.base_line_no is None for line in doc.lines):
        raise Decline
    key = chunk.key(base, doc)
    if key in chunk.used_keys:
        raise Decline
    by_no = {line.line_no: line for line in base.lines}
    for line in doc.lines:
        target = by_no.get(line.base_line_no)
        if target is None or target.returned_quantity + line.quantity > target.quantity \
                or target.returned_total + line.line_total > target.line_total:
            raise Decline  # the per-document path refuses it, with its reason
        target.returned_quantity += line.quantity
        target.returned_total += line.line_total
        target.dirty = True
    touched[base.id] = base
    base.total = sum((l.line_total - l.returned_total for l in base.lines), ZERO)
    if all(l.returned_total >= l.line_total and l.returned_quantity >= l.quantity for l in base.lines):
        base.status = "returned"
    index = len(documents)
    documents.append(_document_row(doc, member, base, now))
    for line in doc.lines:
        product = chunk.catalog.get(line.sku)
        lines.append((index, {
            "line_no": line.line_no, "sku": line.sku, "name": line.name or (product.name if product else ""),
            "product_group": line.product_group or (product.product_group if product else ""),
            "brand": line.brand or (product.brand if product else ""), "quantity": line.quantity,
            "unit_price": line.unit_price, "line_total": line.line_total, "is_promo": line.is_promo,
            "points_per_unit": product.points_per_unit if product else None, "base_line_no": line.base_line_no,
            "tags": (product.tags or None) if product else None,
            "returned_quantity": ZERO, "returned_total": ZERO}))
    if base.accrued_at is not None:
        _recompute(chunk, base, ledger, key=key, reason=f"correction {doc.number or doc.external_id}", actor=actor)


def _document_row(doc: PurchaseDoc, member, base: _Base, now: datetime) -> dict:
    return {"source": doc.source, "external_id": doc.external_id, "document_type": doc.document_type,
            "number": doc.number, "member_id": member.id, "account_id": member.account_id, "channel": doc.channel,
            "store": doc.store, "currency": doc.currency, "placed_at": doc.placed_at, "status": "fulfilled",
            "total": sum((line.line_total for line in doc.lines), ZERO), "shipping_total": doc.shipping_total,
            "base_document_id": base.id, "version": doc.version, "content_hash": orders.content_hash(doc),
            "earned": ZERO, "absorbed": ZERO, "accrued_at": now, "created_at": now, "updated_at": now}


def _net_facts(base: _Base) -> DocumentFacts:
    """`accrual.facts.document_facts` of the base with its returns so far."""
    lines = []
    for line in base.lines:
        quantity, total = line.quantity - line.returned_quantity, line.line_total - line.returned_total
        if quantity <= 0 and total <= 0:
            continue
        lines.append(fact_line(line.line_no, line.sku, line.product_group, line.brand, quantity, line.unit_price,
                               total, line.is_promo, line.points_per_unit, line.tags))
    return DocumentFacts(lines=tuple(lines), document_type=base.document_type, channel=base.channel,
                         store=base.store, currency=base.currency, placed_at=base.placed_at,
                         shipping_total=base.shipping_total, codes=tuple(base.codes or ()))


def _recompute(chunk: _Chunk, base: _Base, ledger, *, key: str, reason: str, actor: str) -> None:
    """`accrual.recompute` of a base that earned, for a difference that takes points back (else Decline)."""
    session = chunk.session
    settings = policies.settings(session, base.placed_at)
    member_facts = MemberFacts.from_dict(base.member_snapshot)
    version = None
    if base.policy_version_id is None:
        target, trace = ZERO, {"policy": "accrual", "note": "no rule version was applied"}
    else:
        version, compiled = chunk.version(base.policy_version_id)
        multiplier = terms.tier_multiplier(session, member_facts, settings, base.placed_at)
        result = rules.evaluate_accrual(compiled, _net_facts(base), member_facts, settings, explain=False,
                                        at=base.placed_at, tier_multiplier=multiplier)
        points = {line.line_id: line.points for line in result.lines}
        for line in base.lines:
            if str(line.line_no) in points:
                line.points, line.dirty = points[str(line.line_no)], True
        target, trace = result.points, _compact_trace(result, version, multiplier)
    entitled = base.earned - base.absorbed
    diff = target - entitled
    trace.update({"reason": reason, "earned_before": str(entitled), "earned_after": str(target)})
    if diff == 0:
        return
    if diff > 0 or not settings.negative_balance_allowed:
        raise Decline  # a credit, or what the program absorbs: the per-document path
    ledger.debit(amount=-diff, key=key, actor=actor, document_id=base.id, member_id=base.member_id,
                 reason=reason, trace=trace, policy_version_id=version.id if version else None)
    base.earned += diff


def _compact_trace(result, version, multiplier: Decimal) -> dict:
    """The set-based path's trace (`engine.accrual.batch`): totals, the document rules, and how many lines each
    line rule matched; each line's points are on the base's lines, the member snapshot on the base."""
    counts: dict[str, int] = {}
    for line in result.lines:
        for rule in line.rules:
            counts[rule] = counts.get(rule, 0) + 1
    return {"policy": "accrual", "policy_version": version.version, "points": str(result.points),
            "unrounded": str(result.unrounded), "tier_multiplier": str(multiplier),
            "document_rules": list(result.document_rules), "line_rules": counts, "compact": True}


def _write(session: Session, plan: _Plan, now: datetime) -> None:
    if not plan.documents:
        return
    documents, lines = Document.__table__, DocumentLine.__table__
    for row, doc_id in zip(plan.documents, new_ids(session, documents, len(plan.documents)), strict=True):
        row["id"] = doc_id
    insert_rows(session, documents, plan.documents)
    insert_rows(session, lines, [{**row, "document_id": plan.documents[index]["id"]} for index, row in plan.lines])
    update_rows(session, documents, [{"id": b.id, "total": b.total, "status": b.status, "earned": b.earned,
                                      "updated_at": now} for b in plan.bases.values()])
    update_rows(session, lines, [
        {"id": l.id, "returned_quantity": l.returned_quantity, "returned_total": l.returned_total, "points": l.points}
        for base in plan.bases.values() for l in base.lines if l.dirty])
