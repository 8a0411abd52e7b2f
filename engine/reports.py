"""What the admin UI shows: set-based summaries of the ledger, members and imports.

The dashboard's figures read the ledger's summaries (``engine.ledger.rollup``: totals per
hour and kind, each account's last activity, the grand total) plus the entries appended
since their refresh, and only the lots that are pending or expire soon, so the page costs
a handful of index scans however long the ledger grows. The member search and a
member's page read here too, so the admin UI and any other reader get the same
numbers. Nothing here writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from engine import policies
from engine.ledger import rollup
from engine.members.phones import normalize_phone
from engine.models import AccountActivity, Document, ImportRun, LedgerEntry, LedgerHourTotal, Lot, Member

ZERO = Decimal(0)
BUCKETS = ("day", "week", "month")
# What counts as issued, spent and expired: kinds, not signs, so a return's
# reversal or a negative correction is neither "spent" nor "expired".
SPENT_KINDS = ("redemption", "reward_order", "refund")  # a refund gives spent points back
ISSUED_EXCLUDED = ("refund", "transfer", "expiry", "redemption", "reward_order", "reversal")


@dataclass(frozen=True)
class Period:
    start: date
    issued: Decimal
    spent: Decimal
    expired: Decimal


def points_by_period(session: Session, since: datetime, until: datetime, *, bucket: str = "day"
                     ) -> list[Period]:
    """Issued, spent and expired points per day/week/month (in the program's time zone) of every period
    that [since, until) touches, each counted whole from its start: the first may begin before ``since``.

    Read from the hourly totals (``engine.ledger.rollup``) plus the entries appended since their last
    refresh, so the cost does not grow with the ledger."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    settings = policies.settings(session, until)
    since = datetime.combine(_first_of(since.astimezone(settings.tz).date(), bucket), time(0), settings.tz)
    state = rollup.state(session)
    rolled = session.execute(select(LedgerHourTotal.hour, LedgerHourTotal.kind, LedgerHourTotal.credit,
                                    LedgerHourTotal.debit, LedgerHourTotal.entries)
                             .where(LedgerHourTotal.hour >= _hour_floor(since), LedgerHourTotal.hour < until)).all()
    tail = rollup.hour_totals(session, (LedgerEntry.id > state.last_entry_id) & (LedgerEntry.effective_at >= since)
                              & (LedgerEntry.effective_at < until))
    sums: dict[date, list[Decimal]] = {}
    for hour, kind, credit, debit, _entries in [*rolled, *tail]:
        hour = hour if hour.tzinfo else hour.replace(tzinfo=UTC)
        if hour < _hour_floor(since) or hour >= until:
            continue
        start = _first_of(hour.astimezone(settings.tz).date(), bucket)
        issued, spent, expired = sums.setdefault(start, [ZERO, ZERO, ZERO])
        if kind not in ISSUED_EXCLUDED:
            issued += credit
        if kind in SPENT_KINDS:
            spent -= credit + debit
        if kind == "expiry":
            expired -= credit + debit
        sums[start] = [issued, spent, expired]
    periods, cursor = [], _first_of(since.astimezone(settings.tz).date(), bucket)
    last = (until - timedelta(microseconds=1)).astimezone(settings.tz).date()
    while cursor <= last:
        periods.append(Period(cursor, *sums.get(cursor, (ZERO, ZERO, ZERO))))
        cursor = _next(cursor, bucket)
    return periods


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _first_of(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next(day: date, bucket: str) -> date:
    if bucket == "day":
        return day + timedelta(days=1)
    if bucket == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Liability:
    available: Decimal
    pending: Decimal
    points: Decimal
    money: Decimal
    currency: str
    expiring: dict[int, Decimal]  # days ahead → points expiring by then


def liability(session: Session, now: datetime, *, horizons: tuple[int, ...] = (30, 60, 90)) -> Liability:
    """Outstanding points, their value, and what expires within each horizon.

    Every account's entries add up to its lots' remainders less its debt (the ledger's invariant, checked
    by the database), so what is owed — the live lots less the debt — is the sum of all entries (the
    rollup's total plus its tail) less what sits in lots past their expiry that the nightly job has not
    swept yet. Only the pending lots and those expiring within the horizons are read, by their indexes."""
    settings = policies.settings(session, now)
    state = rollup.state(session)
    entries = state.total + Decimal(session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.id > state.last_entry_id)
    ).scalar_one())
    unswept = Decimal(session.execute(select(func.coalesce(func.sum(Lot.remaining), 0)).where(
        Lot.remaining > 0, Lot.expires_at <= now)).scalar_one())
    pending = Decimal(session.execute(select(func.coalesce(func.sum(Lot.remaining), 0)).where(
        Lot.matured_at.is_(None), Lot.available_at > now, Lot.remaining > 0,
        or_(Lot.expires_at.is_(None), Lot.expires_at > now))).scalar_one())
    soon = session.execute(select(*[func.coalesce(func.sum(Lot.remaining).filter(
        Lot.expires_at <= now + timedelta(days=d)), 0) for d in horizons]).where(
        Lot.remaining > 0, Lot.expires_at > now, Lot.expires_at <= now + timedelta(days=max(horizons)))).one()
    total = entries - unswept
    return Liability(total - pending, pending, total, (total * settings.point_value).quantize(Decimal("0.01")),
                     settings.currency, {d: Decimal(v) for d, v in zip(horizons, soon)})


@dataclass(frozen=True)
class MemberCounts:
    enrolled: int
    blocked: int
    active: int  # with a ledger entry in the activity window
    window_days: int


def member_counts(session: Session, now: datetime, *, window_days: int = 90) -> MemberCounts:
    """Enrolled and blocked members; active: accounts with an entry in the window (the rollup's last
    activity per account, plus the accounts of the entries appended since its refresh)."""
    enrolled, blocked = session.execute(
        select(func.count(Member.id), func.count(Member.id).filter(Member.status == "blocked"))
        .where(Member.merged_into_id.is_(None))).one()
    cutoff = now - timedelta(days=window_days)
    rolled = select(AccountActivity.account_id).where(AccountActivity.last_at >= cutoff)
    active = session.execute(select(func.count()).select_from(rolled.subquery())).scalar_one()
    active += session.execute(select(func.count(func.distinct(LedgerEntry.account_id))).where(
        LedgerEntry.id > rollup.state(session).last_entry_id, LedgerEntry.effective_at >= cutoff,
        LedgerEntry.account_id.not_in(rolled))).scalar_one()
    return MemberCounts(enrolled, blocked, active, window_days)


def recent_imports(session: Session, *, limit: int = 10, offset: int = 0) -> list[ImportRun]:
    return list(session.execute(select(ImportRun).order_by(ImportRun.id.desc())
                                .offset(offset).limit(limit)).scalars())


def count_imports(session: Session) -> int:
    return session.execute(select(func.count(ImportRun.id))).scalar_one()


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_members(session: Session, query: str, *, page: int = 1, per_page: int = 25) -> Page:
    """Members matching a name fragment, any spelling of a phone, an e-mail, an ERP code,
    a shop id or a loyalty id; exact identities first, then by name."""
    query = (query or "").strip()
    stmt = select(Member).where(Member.merged_into_id.is_(None))
    exact = literal(False)
    if query:
        phone = normalize_phone(query, tuple(policies.settings(session).phone_regions))
        exact = or_(Member.loyalty_id == query.upper(), Member.ext_id == query, Member.erp_code == query,
                    func.lower(Member.email) == query.lower(),
                    *([Member.phone == phone] if phone else []))
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(exact, func.lower(Member.name).like(pattern, escape="\\")))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    page = max(page, 1)
    rows = session.execute(stmt.order_by(case((exact, 0), else_=1), Member.name, Member.id)
                           .offset((page - 1) * per_page).limit(per_page)).scalars()
    return Page(list(rows), total, page, per_page)


def open_lots(session: Session, account_id: int, now: datetime, *, limit: int = 200) -> list[Lot]:
    """Lots with points left, the soonest to expire first (how they are spent)."""
    return list(session.execute(
        select(Lot).where(Lot.account_id == account_id, Lot.remaining > 0,
                          or_(Lot.expires_at.is_(None), Lot.expires_at > now))
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id).limit(limit)).scalars())


def entries(session: Session, account_id: int, *, limit: int = 50, before: int | None = None
            ) -> list[LedgerEntry]:
    stmt = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    if before:
        stmt = stmt.where(LedgerEntry.id < before)
    return list(session.execute(stmt.order_by(LedgerEntry.id.desc()).limit(limit)).scalars())


def orders(session: Session, member_id: int, *, limit: int = 20) -> list[Document]:
    return list(session.execute(select(Document).where(Document.member_id == member_id)
                                .order_by(Document.placed_at.desc(), Document.id.desc())
                                .limit(limit)).scalars())


def documents_by_id(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Document.id, Document.external_id).where(Document.id.in_(ids))).all())


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    change: str  # added | removed | changed | same
    old: dict | None
    new: dict | None


def rule_diff(old: dict | None, new: dict | None) -> list[RuleChange]:
    """Two versions of a rule document compared rule by rule (by id), in the newer one's order."""
    before = {r.get("id"): r for r in (old or {}).get("rules") or [] if isinstance(r, dict)}
    after = [r for r in (new or {}).get("rules") or [] if isinstance(r, dict)]
    changes = []
    for rule in after:
        previous = before.pop(rule.get("id"), None)
        kind = "added" if previous is None else ("same" if previous == rule else "changed")
        changes.append(RuleChange(str(rule.get("id")), kind, previous, rule))
    changes += [RuleChange(str(rule_id), "removed", rule, None) for rule_id, rule in before.items()]
    return changes


CATALOG_CHOICES = 500  # per variable: enough for a wholesaler's groups, bounded for the page


def catalog_choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    """The values the rule editor offers for ``product_group`` and ``brand``: (value, label) from the catalog
    (product groups with their names, and the groups and brands products carry)."""
    from engine.models import Product, ProductGroup
    groups = dict(session.execute(select(ProductGroup.code, ProductGroup.name).order_by(ProductGroup.code)
                                  .limit(CATALOG_CHOICES)).all())
    for (code,) in session.execute(select(Product.product_group).where(Product.product_group != "").distinct()
                                   .limit(CATALOG_CHOICES)):
        groups.setdefault(code, "")
    brands = session.execute(select(Product.brand).where(Product.brand != "").distinct().order_by(Product.brand)
                             .limit(CATALOG_CHOICES)).scalars()
    return {"product_group": [(code, f"{code} · {name}" if name else code) for code, name in sorted(groups.items())],
            "brand": [(brand, brand) for brand in brands]}
