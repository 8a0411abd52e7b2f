"""Set-based posting of new ERP invoices: the ledger `orders.record_purchase` would write, in bulk.

The per-document path (record_purchase → accrual.accrue → ledger.credit) runs
a dozen queries per invoice. Here a whole chunk of new invoices of accounts
without debt is planned with a handful: members, catalog and (only when a
policy in force reads them) member history, open lots and referrals are
fetched once per chunk; each document is evaluated with the compiled rules;
`plan_invoices` returns the rows (documents, lines, accrual entries, lots)
for the caller to write with COPY. The rows are the ledger the per-document
path writes when it takes the same documents in the same order: member
facts include the chunk's earlier documents, amounts are quantised as the
ORM quantises them, keys, dates, lots and expiry are computed by the same
functions. The caller locks the chunk's accounts first (`lock_accounts`, in
id order) and sends anything unusual (debt, corrections, documents already
known) through the per-document path.

One thing is lighter on purpose: the entry's trace is compact (the rules each
line matched, not the reasons the others did not). `explain` rebuilds the
full explanation from the pinned version and member snapshot on demand.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import rules
from engine.models import Account, Document, Lot, Member, PolicyVersion, Product
from engine.models.base import SCALE, tidy
from engine.services import accrual, members, policies
from rules.facts import DocumentFacts, LineFacts, MemberFacts

ZERO = Decimal(0)
ONE = Decimal(1)
_QUANT = Decimal(1).scaleb(-SCALE)
FREE_FACTS = frozenset(("member_group", "tier", "days_since_registration", "is_birthday"))
MEMBER_FACTS = FREE_FACTS | {"orders_count", "turnover_12m", "referral_count", "points_balance"}
_BATCH = 5000

DOCUMENT_COLUMNS = ("id", "source", "external_id", "document_type", "number", "member_id", "account_id",
                    "channel", "store", "currency", "placed_at", "status", "total", "shipping_total",
                    "content_hash", "earned", "absorbed", "accrued_at", "policy_version_id",
                    "member_snapshot", "created_at", "updated_at")
LINE_COLUMNS = ("document_id", "line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
                "line_total", "is_promo", "points_per_unit", "returned_quantity", "returned_total", "points")
ENTRY_COLUMNS = ("id", "account_id", "kind", "amount", "idempotency_key", "actor", "member_id", "document_id",
                 "policy_version_id", "trace", "effective_at", "created_at")
LOT_COLUMNS = ("account_id", "entry_id", "amount", "remaining", "available_at", "expires_at")


class MemberRow(NamedTuple):
    id: int
    account_id: int
    group: str
    tier: str
    status: str
    registered_at: datetime
    birth_date: object


class BulkLine(NamedTuple):
    line_no: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    name: str
    product_group: str
    brand: str


class BulkInvoice(NamedTuple):
    """A new ERP invoice (``cancelled``: SAP CANCELED=Y, stored but earning nothing)."""

    external_id: str
    number: str
    member: MemberRow
    member_ref: str
    placed_at: datetime
    currency: str
    cancelled: bool
    lines: list


class Postings(NamedTuple):
    """Rows to COPY, in the column order of the ``*_COLUMNS`` tuples."""

    documents: list
    lines: list
    entries: list
    lots: list


def amount(value: Decimal) -> Decimal:
    """What an Amount column stores: at most 4 places, rounded as the ORM rounds them."""
    return value.quantize(_QUANT) if value.as_tuple().exponent < -SCALE else value


def content_hash(document_type: str, member_ref: str, placed_at: datetime, currency: str,
                 lines: Iterable[BulkLine], *, channel: str = "erp") -> str:
    """`orders.content_hash` of an invoice without building a PurchaseDoc (tests prove them equal)."""
    body = {"type": document_type, "member": member_ref, "placed_at": placed_at.isoformat(),
            "currency": currency, "channel": channel, "store": "", "shipping": "0", "base": None,
            "lines": [[l.line_no, l.sku, str(l.quantity), str(l.unit_price), str(l.line_total),
                       l.product_group, l.brand, False, None] for l in lines]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _batches(values: Iterable) -> Iterable[list]:
    values = list(values)
    for start in range(0, len(values), _BATCH):
        yield values[start:start + _BATCH]


def find_members(session: Session, codes: Iterable[str]) -> dict[str, MemberRow]:
    """Members by ERP code (``erp:<code>``), following merges as `members.resolve` does."""
    cols = (Member.id, Member.account_id, Member.group, Member.tier, Member.status, Member.registered_at,
            Member.birth_date, Member.merged_into_id)
    found: dict[str, MemberRow] = {}
    for part in _batches(set(codes)):
        for row in session.execute(select(Member.erp_code, *cols).where(Member.erp_code.in_(part))):
            target, seen = row, set()
            while target.merged_into_id is not None and target.merged_into_id not in seen:
                seen.add(target.merged_into_id)
                target = session.execute(select(Member.erp_code, *cols)
                                         .where(Member.id == target.merged_into_id)).one()
            found[row.erp_code] = MemberRow(target.id, target.account_id, target.group or "",
                                            target.tier or "", target.status, target.registered_at,
                                            target.birth_date)
    return found


def lock_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, Decimal]:
    """Row-lock the accounts in id order (chunks never deadlock); returns each one's debt."""
    debts: dict[int, Decimal] = {}
    for part in _batches(sorted(set(account_ids))):
        stmt = select(Account.id, Account.debt).where(Account.id.in_(part)).order_by(Account.id)
        for row in session.execute(stmt.with_for_update()):
            debts[row.id] = row.debt
    return debts


def existing_documents(session: Session, source: str, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """external_id → (content_hash, status) of the documents already stored."""
    out: dict[str, tuple[str, str]] = {}
    for part in _batches(keys):
        stmt = select(Document.external_id, Document.content_hash, Document.status).where(
            Document.source == source, Document.external_id.in_(part))
        out.update({row.external_id: (row.content_hash, row.status) for row in session.execute(stmt)})
    return out


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """``count`` fresh primary keys from the table's sequence (PostgreSQL)."""
    if count <= 0:
        return []
    rows = session.execute(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                                "FROM generate_series(1, :n)"), {"n": count})
    return [row[0] for row in rows]


class _Terms(NamedTuple):
    """What the document date decides: settings, the rule versions in force, the facts they read."""

    settings: rules.ProgramSettings
    version: PolicyVersion | None
    compiled: object
    tier: object
    expiry_names: tuple
    tier_names: tuple
    needed: frozenset


def _member_names(policy) -> tuple:
    return tuple(sorted(n for n in policy.static_names if n in MEMBER_FACTS)) if policy is not None else ()


class Terms:
    """Per-date policy lookups, and tier multipliers and lot expiry cached on what they read."""

    def __init__(self, session: Session):
        self.session = session
        self._dates: dict[datetime, _Terms] = {}
        self._expiry: dict = {}
        self._tiers: dict = {}

    def at(self, when: datetime) -> _Terms:
        terms = self._dates.get(when)
        if terms is None:
            session = self.session
            settings = policies.settings(session, when)
            version = accrual.policy_for(session, when)
            compiled = policies.compiled(version, session) if version is not None else None
            _row, tier = policies.active(session, "tier", when)
            _row, expiry = policies.active(session, "expiry", when + timedelta(days=settings.holding_days))
            tier_names = _member_names(tier) + ("tier",) if tier is not None else ()
            needed = FREE_FACTS.union(_member_names(compiled), tier_names, _member_names(expiry))
            terms = self._dates[when] = _Terms(settings, version, compiled, tier, _member_names(expiry),
                                               tier_names, needed)
        return terms

    def multiplier(self, terms: _Terms, facts: MemberFacts, when: datetime) -> Decimal:
        if terms.tier is None or not facts.tier:
            return ONE
        key = (when,) + tuple(getattr(facts, n) for n in terms.tier_names)
        found = self._tiers.get(key)
        if found is None:
            found = self._tiers[key] = accrual.tier_multiplier(self.session, facts, terms.settings, when)
        return found

    def expires(self, terms: _Terms, available_at: datetime, facts: MemberFacts) -> datetime | None:
        key = (available_at,) + tuple(getattr(facts, n) for n in terms.expiry_names)
        if key not in self._expiry:
            self._expiry[key] = accrual.lot_expiry(self.session, "accrual", available_at, facts,
                                                   terms.settings, document=_EXPIRY_DOC)
        return self._expiry[key]


class _ExpiryDoc(NamedTuple):
    channel: str = "erp"
    document_type: str = "invoice"


_EXPIRY_DOC = _ExpiryDoc()


class _Facts:
    """Member facts as `members.facts` computes them at each document, the chunk's earlier ones included."""

    def __init__(self, session: Session, invoices: list[BulkInvoice], needed: frozenset,
                 debts: dict[int, Decimal]):
        self.needed = needed
        self.debts = {k: tidy(v) for k, v in debts.items()}
        member_ids = sorted({inv.member.id for inv in invoices})
        account_ids = sorted({inv.member.account_id for inv in invoices})
        self.base_count: dict[int, int] = {}
        self.history: dict[int, list] = {m: [] for m in member_ids}
        self.referrals: dict[int, int] = {}
        self.lots: dict[int, list] = {a: [] for a in account_ids}
        if needed & {"orders_count", "turnover_12m"}:
            self._load_history(session, member_ids, min(inv.placed_at for inv in invoices))
        if "referral_count" in needed:
            for part in _batches(member_ids):
                stmt = select(Member.referred_by_id, func.count(Member.id)).where(
                    Member.referred_by_id.in_(part)).group_by(Member.referred_by_id)
                self.referrals.update({ref: int(n) for ref, n in session.execute(stmt)})
        if "points_balance" in needed:
            for part in _batches(account_ids):
                stmt = select(Lot.account_id, Lot.available_at, Lot.expires_at, Lot.remaining).where(
                    Lot.account_id.in_(part), Lot.remaining > 0)
                for row in session.execute(stmt):
                    self.lots[row.account_id].append((row.available_at, row.expires_at, row.remaining))

    def _load_history(self, session: Session, member_ids: list[int], first: datetime) -> None:
        since = first - timedelta(days=365)
        counted = (Document.document_type.in_(("order", "invoice")), Document.status != "cancelled")
        for part in _batches(member_ids):
            stmt = select(Document.member_id, func.count(Document.id)).where(
                Document.member_id.in_(part), Document.placed_at < since, *counted).group_by(Document.member_id)
            self.base_count.update({m: int(n) for m, n in session.execute(stmt)})
            stmt = select(Document.member_id, Document.placed_at, Document.total).where(
                Document.member_id.in_(part), Document.placed_at >= since, *counted)
            for row in session.execute(stmt):
                self.history[row.member_id].append((row.placed_at, row.total))

    def facts(self, member: MemberRow, at: datetime, settings, needed: frozenset) -> tuple[MemberFacts, dict]:
        """The facts (and their snapshot, as `MemberFacts.to_dict` writes it) that `members.facts` gives
        with ``needed``: what costs a query is computed only when needed, the rest keeps its default."""
        today = at.astimezone(settings.tz).date()
        orders, turnover, referrals, balance = 0, ZERO, 0, ZERO
        if "orders_count" in needed or "turnover_12m" in needed:
            earlier = [(placed, total) for placed, total in self.history[member.id] if placed < at]
            year_ago = at - timedelta(days=365)
            orders = self.base_count.get(member.id, 0) + len(earlier)
            turnover = tidy(sum((t for p, t in earlier if p >= year_ago), ZERO))
        if "referral_count" in needed:
            referrals = self.referrals.get(member.id, 0)
        if "points_balance" in needed:
            for available_at, expires_at, remaining in self.lots[member.account_id]:
                if available_at <= at and (expires_at is None or expires_at > at):
                    balance += remaining
            balance -= self.debts.get(member.account_id, ZERO)
        days = max((today - member.registered_at.astimezone(settings.tz).date()).days, 0)
        birthday = members.is_birthday(member.birth_date, today)
        facts = MemberFacts(member.group, member.tier, days, orders, turnover, birthday, referrals, balance)
        snapshot = {"member_group": member.group, "tier": member.tier, "days_since_registration": days,
                    "orders_count": orders, "turnover_12m": str(turnover), "is_birthday": birthday,
                    "referral_count": referrals, "points_balance": str(balance)}
        return facts, snapshot

    def record_document(self, member: MemberRow, at: datetime, total: Decimal) -> None:
        self.history[member.id].append((at, total))

    def record_lot(self, account_id: int, available_at: datetime, expires_at, points: Decimal) -> None:
        self.lots[account_id].append((available_at, expires_at, tidy(points)))


def _catalog(session: Session, skus: set[str]) -> dict[str, tuple]:
    out = {}
    for part in _batches(skus):
        stmt = select(Product.sku, Product.name, Product.product_group, Product.brand, Product.points_per_unit) \
            .where(Product.sku.in_(part))
        out.update({row.sku: tuple(row)[1:] for row in session.execute(stmt)})
    return out


def plan_invoices(session: Session, invoices: list[BulkInvoice], *, source: str, actor: str, now: datetime,
                  channel: str = "erp", debts: dict[int, Decimal] | None = None) -> Postings:
    """The rows the per-document path would write for ``invoices``, taken in this order."""
    if not invoices:
        return Postings([], [], [], [])
    terms = Terms(session)
    per_doc = [terms.at(inv.placed_at) for inv in invoices]
    needed = frozenset().union(*(t.needed for t in per_doc))
    catalog = _catalog(session, {line.sku for inv in invoices for line in inv.lines})
    facts_of = _Facts(session, invoices, needed, debts or {})
    documents, lines, entries, lots = [], [], [], []
    no_product = ("", "", "", None)
    for inv, t, doc_id in zip(invoices, per_doc, reserve_ids(session, "documents", len(invoices))):
        member, placed_at = inv.member, inv.placed_at
        filled = []
        for line in inv.lines:
            name, group, brand, per_unit = catalog.get(line.sku, no_product)
            filled.append((line, line.name or name, line.product_group or group, line.brand or brand, per_unit))
        total = amount(sum((line.line_total for line in inv.lines), ZERO))
        fingerprint = content_hash("invoice", inv.member_ref, placed_at, inv.currency, inv.lines, channel=channel)
        points_of: dict[str, Decimal] = {}
        earned, version_id, snapshot, accrued_at = ZERO, None, None, None
        status = "cancelled" if inv.cancelled else "fulfilled"
        if not inv.cancelled:
            settings = t.settings
            active = t.version is not None and members.effective_status(member, settings) == "active"
            facts, snapshot = facts_of.facts(member, placed_at, settings, t.needed if active else FREE_FACTS)
            accrued_at = now
            if active:
                version_id = t.version.id
                doc_facts = DocumentFacts(
                    lines=tuple(LineFacts(str(l.line_no), l.sku, group, brand, l.quantity, l.unit_price,
                                          l.line_total, False, per_unit)
                                for l, _name, group, brand, per_unit in filled
                                if l.quantity > 0 or l.line_total > 0),
                    document_type="invoice", channel=channel, store="", currency=inv.currency,
                    placed_at=placed_at, shipping_total=ZERO)
                multiplier = terms.multiplier(t, facts, placed_at)
                result = rules.evaluate_accrual(t.compiled, doc_facts, facts, settings, at=placed_at,
                                                tier_multiplier=multiplier)
                points_of = {r.line_id: r.points for r in result.lines}
                if result.points > 0:
                    earned = result.points
                    available_at = placed_at + timedelta(days=settings.holding_days)
                    expires_at = terms.expires(t, available_at, facts)
                    trace = {"policy": "accrual", "policy_version": t.version.version, "member": snapshot,
                             "points": str(earned), "unrounded": str(result.unrounded),
                             "tier_multiplier": str(multiplier), "document_rules": list(result.document_rules),
                             "lines": {r.line_id: list(r.rules) for r in result.lines if r.rules},
                             "compact": True}
                    entries.append((member.account_id, "accrual", amount(earned),
                                    f"{source}:{inv.external_id}:accrual", actor, member.id, doc_id,
                                    version_id, trace, placed_at, now))
                    lots.append((member.account_id, amount(earned), available_at, expires_at))
                    facts_of.record_lot(member.account_id, available_at, expires_at, amount(earned))
            facts_of.record_document(member, placed_at, total)
        documents.append((doc_id, source, inv.external_id, "invoice", inv.number, member.id, member.account_id,
                          channel, "", inv.currency, placed_at, status, total, ZERO, fingerprint, amount(earned),
                          ZERO, accrued_at, version_id, snapshot, now, now))
        for l, name, group, brand, per_unit in filled:
            points = points_of.get(str(l.line_no))
            lines.append((doc_id, l.line_no, l.sku, name, group, brand, amount(l.quantity), amount(l.unit_price),
                          amount(l.line_total), False, per_unit, ZERO, ZERO,
                          amount(points) if points is not None else None))
    entry_ids = reserve_ids(session, "ledger_entries", len(entries))
    entries = [(entry_id,) + row for entry_id, row in zip(entry_ids, entries)]
    lots = [(acc, entry_id, amt, amt, avail, exp) for entry_id, (acc, amt, avail, exp) in zip(entry_ids, lots)]
    return Postings(documents, lines, entries, lots)


def explain(session: Session, document: Document) -> dict | None:
    """The full explanation of a document's first accrual (pinned version and member snapshot)."""
    if document.policy_version_id is None:
        return None
    version = session.get(PolicyVersion, document.policy_version_id)
    settings = policies.settings(session, document.placed_at)
    facts = MemberFacts.from_dict(document.member_snapshot)
    multiplier = accrual.tier_multiplier(session, facts, settings, document.placed_at)
    result = rules.evaluate_accrual(policies.compiled(version), accrual.document_facts(document, net=False),
                                    facts, settings, explain=True, at=document.placed_at,
                                    tier_multiplier=multiplier)
    return {**(result.trace or {}), "policy": "accrual", "policy_version": version.version,
            "member": document.member_snapshot}
