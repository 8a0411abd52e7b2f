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

One thing is lighter on purpose: the entry's trace is compact (totals, the
document rules, and how many lines each line rule matched; not every line's
path, nor why the other rules did not match, nor the member snapshot, which
is on the document). `explain` rebuilds the full explanation from the
pinned version and member snapshot on demand.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _js
from typing import NamedTuple

from sqlalchemy import ARRAY, any_, bindparam, func, select, text
from sqlalchemy.orm import Session

import rules
from engine import members, policies
from engine.accrual.document import document_facts
from engine.models import Account, Document, Lot, Member, PolicyVersion, Product
from engine.models.base import SCALE, tidy
from engine.terms import lot_expiry, policy_for, tier_multiplier
from rules.facts import DocumentFacts, MemberFacts

ZERO = Decimal(0)
ONE = Decimal(1)
_QUANT = Decimal(1).scaleb(-SCALE)
FREE_FACTS = frozenset(("member_group", "tier", "days_since_registration", "is_birthday"))
MEMBER_FACTS = FREE_FACTS | {"orders_count", "turnover_12m", "referral_count", "points_balance"}
_BATCH = 5000

# What `plan_invoices` varies per row; every other column is the same for all (see bulk_copy).
DOCUMENT_FIELDS = ("id", "external_id", "number", "member_id", "account_id", "currency", "placed_at", "status",
                   "total", "content_hash", "earned", "accrued_at", "policy_version_id", "member_snapshot")
LINE_FIELDS = ("document_id", "line_no", "sku", "name", "product_group", "brand", "quantity", "unit_price",
               "line_total", "points_per_unit", "points")
ENTRY_FIELDS = ("id", "account_id", "amount", "idempotency_key", "member_id", "document_id", "policy_version_id",
                "trace", "effective_at")
LOT_FIELDS = ("account_id", "entry_id", "amount", "available_at", "expires_at")


class MemberRow(NamedTuple):
    id: int
    account_id: int
    group: str
    tier: str
    status: str
    registered_at: datetime
    birth_date: object
    # A referred member's first purchase fires the referral policy: per-document path.
    referred_by_id: int | None = None


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
    """Rows to write (see importers/bulk_copy.py for the columns): documents, lines, entries, lots."""

    documents: list
    lines: list
    entries: list
    lots: list


def amount(value: Decimal) -> Decimal:
    """What an Amount column stores: 4 places, rounded as the ORM rounds (the same NUMERIC value)."""
    return value.quantize(_QUANT)


def _batches(values: Iterable) -> Iterable[list]:
    values = list(values)
    for start in range(0, len(values), _BATCH):
        yield values[start:start + _BATCH]


def _one_of(session: Session, column, values: list):
    """``column IN values``: one array parameter on PostgreSQL (thousands of keys stay one bind)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _run(session: Session, statement):
    """Core execution on the session's connection (no ORM row machinery for plain column rows)."""
    return session.connection().execute(statement)


def find_members(session: Session, codes: Iterable[str]) -> dict[str, MemberRow]:
    """Members by ERP code (``erp:<code>``), following merges as `members.resolve` does."""
    cols = (Member.id, Member.account_id, Member.group.label("group"), Member.tier, Member.status, Member.registered_at,
            Member.birth_date, Member.merged_into_id, Member.referred_by_id)
    found: dict[str, MemberRow] = {}
    for part in _batches(set(codes)):
        for row in _run(session, select(Member.erp_code, *cols).where(_one_of(session, Member.erp_code, part))):
            target, seen = row, set()
            while target.merged_into_id is not None and target.merged_into_id not in seen:
                seen.add(target.merged_into_id)
                target = _run(session, select(Member.erp_code, *cols)
                              .where(Member.id == target.merged_into_id)).one()
            found[row.erp_code] = MemberRow(target.id, target.account_id, target.group or "",
                                            target.tier or "", target.status, target.registered_at,
                                            target.birth_date, target.referred_by_id)
    return found


def lock_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, Decimal]:
    """Row-lock the accounts in id order (chunks never deadlock); returns each one's debt."""
    debts: dict[int, Decimal] = {}
    for part in _batches(sorted(set(account_ids))):
        stmt = select(Account.id, Account.debt).where(_one_of(session, Account.id, part)).order_by(Account.id)
        for row in _run(session, stmt.with_for_update()):
            debts[row.id] = row.debt
    return debts


def existing_documents(session: Session, source: str, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """external_id → (content_hash, status) of the documents already stored."""
    out: dict[str, tuple[str, str]] = {}
    for part in _batches(keys):
        stmt = select(Document.external_id, Document.content_hash, Document.status).where(
            Document.source == source, _one_of(session, Document.external_id, part))
        out.update({row.external_id: (row.content_hash, row.status) for row in _run(session, stmt)})
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
            version = policy_for(session, when)
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
            found = self._tiers[key] = tier_multiplier(self.session, facts, terms.settings, when)
        return found

    def expires(self, terms: _Terms, available_at: datetime, facts: MemberFacts) -> datetime | None:
        key = (available_at,) + tuple(getattr(facts, n) for n in terms.expiry_names)
        if key not in self._expiry:
            self._expiry[key] = lot_expiry(self.session, "accrual", available_at, facts,
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
                    _one_of(session, Member.referred_by_id, part)).group_by(Member.referred_by_id)
                self.referrals.update({ref: int(n) for ref, n in _run(session, stmt)})
        if "points_balance" in needed:
            for part in _batches(account_ids):
                stmt = select(Lot.account_id, Lot.available_at, Lot.expires_at, Lot.remaining).where(
                    _one_of(session, Lot.account_id, part), Lot.remaining > 0)
                for row in _run(session, stmt):
                    self.lots[row.account_id].append((row.available_at, row.expires_at, row.remaining))

    def _load_history(self, session: Session, member_ids: list[int], first: datetime) -> None:
        since = first - timedelta(days=365)
        counted = (Document.document_type.in_(("order", "invoice")), Document.status != "cancelled")
        for part in _batches(member_ids):
            stmt = select(Document.member_id, func.count(Document.id)).where(
                _one_of(session, Document.member_id, part), Document.placed_at < since, *counted) \
                .group_by(Document.member_id)
            self.base_count.update({m: int(n) for m, n in _run(session, stmt)})
            stmt = select(Document.member_id, Document.placed_at, Document.total).where(
                _one_of(session, Document.member_id, part), Document.placed_at >= since, *counted)
            for row in _run(session, stmt):
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
            .where(_one_of(session, Product.sku, part))
        out.update({row[0]: tuple(row)[1:] for row in _run(session, stmt)})
    return out


class JsonText(str):
    """JSON already serialised (the COPY writer passes it through)."""


class _Line(NamedTuple):
    """A line as the rules see it: the attribute names of `rules.facts.LineFacts` (the vocabulary),
    as a tuple, because a frozen dataclass per line costs more than evaluating it."""

    line_id: str
    sku: str
    product_group: str
    brand: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    is_promo: bool
    product_points_per_unit: Decimal | None


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


def content_hash(member_ref: str, placed_at: datetime | str, currency: str, lines: Iterable,
                 channel: str = "erp") -> str:
    """`orders.content_hash` of a new invoice: the bytes its ``json.dumps(body, sort_keys=True)`` hashes,
    written by hand (a test holds the two equal); ``placed_at`` may be given in ISO form already."""
    if isinstance(placed_at, datetime):
        placed_at = placed_at.isoformat()
    body = ", ".join(f'[{l.line_no}, {_js(l.sku)}, "{l.quantity}", "{l.unit_price}", "{l.line_total}", '
                     f'{_js(l.product_group)}, {_js(l.brand)}, false, null]' for l in lines)
    text_ = (f'{{"base": null, "channel": {_js(channel)}, "currency": {_js(currency)}, "lines": [{body}], '
             f'"member": {_js(member_ref)}, "placed_at": {_js(placed_at)}, "shipping": "0", "store": "", '
             f'"type": "invoice"}}')
    return hashlib.sha256(text_.encode()).hexdigest()


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
    new_line = tuple.__new__
    moments: dict[datetime, str] = {}
    for inv, t, doc_id in zip(invoices, per_doc, reserve_ids(session, "documents", len(invoices))):
        member, placed_at, settings = inv.member, inv.placed_at, t.settings
        active = not inv.cancelled and t.version is not None and \
            members.effective_status(member, settings) == "active"
        filled, facts_lines, total = [], [], ZERO
        for l in inv.lines:
            name, group, brand, per_unit = catalog.get(l.sku, no_product)
            line_id, group, brand = str(l.line_no), l.product_group or group, l.brand or brand
            filled.append((l, line_id, l.name or name, group, brand, per_unit))
            total += l.line_total
            if active and (l.quantity > 0 or l.line_total > 0):
                facts_lines.append(new_line(_Line, (line_id, l.sku, group, brand, l.quantity, l.unit_price,
                                                    l.line_total, False, per_unit)))
        total = amount(total)
        moment = moments.get(placed_at) or moments.setdefault(placed_at, placed_at.isoformat())
        fingerprint = content_hash(inv.member_ref, moment, inv.currency, inv.lines, channel)
        points_of: dict[str, Decimal] = {}
        earned, version_id, snapshot, accrued_at = ZERO, None, None, None
        if not inv.cancelled:
            facts, values = facts_of.facts(member, placed_at, settings, t.needed if active else FREE_FACTS)
            snapshot, accrued_at = _snapshot_json(values), now
            if active:
                version_id = t.version.id
                doc_facts = DocumentFacts(lines=tuple(facts_lines), document_type="invoice", channel=channel,
                                          store="", currency=inv.currency, placed_at=placed_at,
                                          shipping_total=ZERO)
                multiplier = terms.multiplier(t, facts, placed_at)
                result = rules.evaluate_accrual(t.compiled, doc_facts, facts, settings, at=placed_at,
                                                tier_multiplier=multiplier)
                points_of = {r.line_id: r.points for r in result.lines}
                if result.points > 0:
                    earned = result.points
                    available_at = placed_at + timedelta(days=settings.holding_days)
                    expires_at = terms.expires(t, available_at, facts)
                    entries.append((member.account_id, amount(earned), f"{source}:{inv.external_id}:accrual",
                                    member.id, doc_id, version_id,
                                    _trace_json(t.version.version, result, multiplier), placed_at))
                    lots.append((member.account_id, amount(earned), available_at, expires_at))
                    facts_of.record_lot(member.account_id, available_at, expires_at, amount(earned))
            facts_of.record_document(member, placed_at, total)
        documents.append((doc_id, inv.external_id, inv.number, member.id, member.account_id, inv.currency,
                          placed_at, "cancelled" if inv.cancelled else "fulfilled", total, fingerprint,
                          amount(earned), accrued_at, version_id, snapshot))
        for l, line_id, name, group, brand, per_unit in filled:
            points = points_of.get(line_id)
            lines.append((doc_id, l.line_no, l.sku, name, group, brand, l.quantity.quantize(_QUANT),
                          l.unit_price.quantize(_QUANT), l.line_total.quantize(_QUANT), per_unit,
                          points.quantize(_QUANT) if points is not None else None))
    entry_ids = reserve_ids(session, "ledger_entries", len(entries))
    return Postings(documents, lines, [(entry_id,) + row for entry_id, row in zip(entry_ids, entries)],
                    [(acc, entry_id, amt, avail, exp) for entry_id, (acc, amt, avail, exp) in zip(entry_ids, lots)])


def explain(session: Session, document: Document) -> dict | None:
    """The full explanation of a document's first accrual (pinned version and member snapshot)."""
    if document.policy_version_id is None:
        return None
    version = session.get(PolicyVersion, document.policy_version_id)
    settings = policies.settings(session, document.placed_at)
    facts = MemberFacts.from_dict(document.member_snapshot)
    multiplier = tier_multiplier(session, facts, settings, document.placed_at)
    result = rules.evaluate_accrual(policies.compiled(version), document_facts(document, net=False),
                                    facts, settings, explain=True, at=document.placed_at,
                                    tier_multiplier=multiplier)
    return {**(result.trace or {}), "policy": "accrual", "policy_version": version.version,
            "member": document.member_snapshot}
