"""Members: enrolment, lookup by any of their identities, and the facts rules see."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session

import rules
from engine import clock, config_stamp, ledger
from engine.ledger import balances
from engine.members.phones import normalize_phone
from engine.models import Account, Company, Document, Member, MemberCard, prepared
from engine.models.bulk import is_postgres
from engine.models.prepared import Prepared

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
EDITABLE = ("name", "email", "phone", "birth_date", "group", "ext_id", "erp_code", "status",
            "consent_email", "consent_sms", "attributes", "tier")


class MemberError(Exception):
    code = "member_error"


class UnknownMember(MemberError, LookupError):
    code = "unknown_member"


class DuplicateMember(MemberError):
    code = "duplicate_member"


class InvalidMemberData(MemberError, ValueError):
    code = "invalid_member"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def new_code(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


# One statement per kind of reference, built once (every API call resolves a member).
_BY_REF = {
    None: select(Member).where(Member.loyalty_id == bindparam("value")),
    "ext": select(Member).where(Member.ext_id == bindparam("value")),
    "erp": select(Member).where(Member.erp_code == bindparam("value")),
    "phone": select(Member).where(Member.phone == bindparam("value")),
    "onec": (select(Member).join(MemberCard, MemberCard.member_id == Member.id)
             .where(MemberCard.source == "1c", MemberCard.card_id == bindparam("value"))),
}


def _reference(session: Session, ref: str) -> tuple[str | None, str] | None:
    """(kind, value) of a SPEC §4.1 reference; None when it cannot match anyone."""
    if not ref:
        return None
    kind, sep, value = ref.partition(":")
    if not sep:
        kind, value = None, ref  # a bare loyalty id
    elif kind == "phone":
        value = normalize_phone(value, _regions(session))
        if value is None:
            return None
    return (kind, value) if kind in _BY_REF else None


def resolve(session: Session, ref: str) -> Member | None:
    """Find a member by a SPEC §4.1 reference (loyalty id, ext:, erp:, phone:, onec:)."""
    reference = _reference(session, ref)
    if reference is None:
        return None
    kind, value = reference
    if is_postgres(session):  # one statement on the driver's cursor, which brings the configuration's stamp too
        found = _member_row(session, kind, value, (), {}, lock_account=False)
        member = found[0] if found is not None else None
    else:
        member = session.execute(_BY_REF[kind], {"value": value}).scalar_one_or_none()
    # A merged-away member answers for the member it was merged into.
    while member is not None and member.merged_into_id is not None:
        member = session.get(Member, member.merged_into_id)
    return member


# The statements of `resolve_with`, built once per (reference kind, extras, lock), run on the driver's
# cursor (`Prepared`); their columns: the member's, the stamp, the account's (locked), the extras.
_WITH: dict = {}


def _columns(cls) -> tuple[tuple, tuple]:
    props = inspect(cls).column_attrs
    return tuple(prop.key for prop in props), tuple(prop.columns[0] for prop in props)


_MEMBER_NAMES, _MEMBER_COLUMNS = _columns(Member)
_ACCOUNT_NAMES, _ACCOUNT_COLUMNS = _columns(Account)


def resolve_with(session: Session, ref: str, extras: tuple, params: dict, *,
                 lock_account: bool = False) -> tuple[Member, tuple] | None:
    """`resolve` whose one statement also brings ``extras`` (scalar subqueries of the caller's, their
    parameters in ``params``) and, with ``lock_account``, takes the member's account lock as
    `engine.ledger.lock_account` does, which the next `lock_account` of it in this transaction then
    answers without a round trip. PostgreSQL only. Returns (member, the extras' values), or None when
    the reference matches nobody or a merged-away member: the caller then asks one thing at a time
    (an account locked on the way stays locked until the transaction ends, as any lock does).
    ``extras`` must be a tuple built once (it is part of the cache key)."""
    reference = _reference(session, ref)
    if reference is None:
        return None
    found = _member_row(session, *reference, extras, params, lock_account=lock_account)
    if found is None or found[0].merged_into_id is not None:
        return None
    return found


def _member_row(session: Session, kind: str | None, value: str, extras: tuple, params: dict, *,
                lock_account: bool) -> tuple[Member, tuple] | None:
    """`resolve_with`'s statement for a parsed reference: (member, the extras' values), the member as
    found (merged away or not), or None when no row matched."""
    key = (kind, extras, lock_account)
    stmt = _WITH.get(key)
    if stmt is None:
        core = _BY_REF[kind].with_only_columns(*_MEMBER_COLUMNS, select(config_stamp.STAMP).scalar_subquery())
        if lock_account:
            core = (core.add_columns(*_ACCOUNT_COLUMNS)
                    .join(Account, Account.id == Member.account_id).with_for_update(key_share=True, of=Account))
        stmt = _WITH.setdefault(key, Prepared(core.add_columns(*extras)))
    rows = stmt.rows(session, {**params, "value": value})
    if not rows:
        return None
    row = rows[0]
    # The member and account made from the row as the ORM's loading makes them; the locked row refreshes
    # what the session holds, as ``populate_existing`` would.
    member = prepared.loaded(session, Member, dict(zip(_MEMBER_NAMES, row)), refresh=lock_account)
    config_stamp.note(session, row[len(_MEMBER_NAMES)])
    rest = len(_MEMBER_NAMES) + 1
    if lock_account:
        account = prepared.loaded(session, Account, dict(zip(_ACCOUNT_NAMES, row[rest:])), refresh=True)
        ledger.note_locked(session, account)
        rest += len(_ACCOUNT_NAMES)
    return member, tuple(row[rest:])


def with_balance(session: Session, ref: str, now: datetime, *,
                 expiring_limit: int = 3) -> tuple[Member, ledger.Balance] | None:
    """(member, `ledger.balance_of` its account at ``now``) in the lookup's one statement, which brings the
    account's sums (`ledger.balances.WITH_MEMBER`). PostgreSQL only; None when that statement does not
    answer (nobody matches, a merged-away member): then ask one thing at a time."""
    found = resolve_with(session, ref, balances.WITH_MEMBER, {"now": now, "limit": expiring_limit})
    balance = balances.of_member_columns(found[1]) if found is not None else None
    return (found[0], balance) if balance is not None else None


def get(session: Session, ref: str) -> Member:
    member = resolve(session, ref)
    if member is None:
        raise UnknownMember(f"no member matches {ref!r}")
    return member


def _regions(session: Session) -> tuple[str, ...]:
    from engine import policies
    return tuple(policies.settings(session).phone_regions)


def _clean(session: Session, data: dict) -> dict:
    data = dict(data)
    if data.get("phone"):
        raw = data["phone"]
        data["phone"] = normalize_phone(raw, _regions(session))
        if data["phone"] is None:
            raise InvalidMemberData(f"{raw!r} is not a valid personal phone number", "phone")
    if data.get("email"):
        data["email"] = data["email"].strip().lower()
    for unique in ("ext_id", "erp_code", "phone"):
        value = data.get(unique)
        if value:
            column = getattr(Member, unique)
            clash = session.execute(select(Member.id).where(column == value)).scalar_one_or_none()
            if clash is not None and clash != data.get("_id"):
                raise DuplicateMember(f"another member already has {unique} {value!r}")
    data.pop("_id", None)
    return data


def create(session: Session, data: dict, *, now: datetime | None = None,
           company: Company | None = None) -> Member:
    """Enrol a member. ``data`` holds EDITABLE fields (already schema-checked)."""
    now = now or clock.now()
    fields = _clean(session, {k: v for k, v in data.items() if k in EDITABLE})
    if company is not None:
        account_id = company.account_id
    else:
        account = Account(owner_type="member", created_at=now)
        session.add(account)
        session.flush()
        account_id = account.id
    member = Member(loyalty_id=data.get("loyalty_id") or "L" + new_code(9),
                    referral_code=new_code(8), account_id=account_id,
                    company_id=company.id if company else None,
                    registered_at=data.get("registered_at") or now, created_at=now, **fields)
    session.add(member)
    session.flush()
    return member


def update(session: Session, member: Member, data: dict) -> Member:
    fields = _clean(session, {**{k: v for k, v in data.items() if k in EDITABLE},
                              "_id": member.id})
    for key, value in fields.items():
        setattr(member, key, value)
    session.flush()
    return member


def create_company(session: Session, name: str, *, erp_code: str | None = None,
                   tax_id: str = "", now: datetime | None = None) -> Company:
    now = now or clock.now()
    account = Account(owner_type="company", created_at=now)
    session.add(account)
    session.flush()
    company = Company(name=name, erp_code=erp_code, tax_id=tax_id, account_id=account.id,
                      created_at=now)
    session.add(company)
    session.flush()
    return company


def effective_status(member: Member, settings: rules.ProgramSettings) -> str:
    """active, blocked, or excluded (the member's group is outside the program)."""
    if member.status == "blocked":
        return "blocked"
    if member.group and member.group in settings.excluded_groups:
        return "excluded"
    return "active"


def refusal(member: Member, settings: rules.ProgramSettings, *,
            account_id: int | None = None) -> str | None:
    """Why ``member`` may not act (spend, be credited) on ``account_id``; None when it may.

    The one test every path by which a member acts asks — as the account's
    member, as a company employee spending through a colleague, as a
    referrer — so a refusal cannot be side-stepped by naming someone else.
    """
    status = effective_status(member, settings)
    if status != "active":
        return f"member {member.loyalty_id} is {status}"
    if account_id is not None and member.account_id != account_id:
        return f"member {member.loyalty_id} does not share this account"
    return None


def is_birthday(birth_date: date | None, today: date) -> bool:
    if birth_date is None:
        return False
    if birth_date.month == 2 and birth_date.day == 29:
        leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
        return (today.month, today.day) == ((2, 29) if leap else (2, 28))
    return (today.month, today.day) == (birth_date.month, birth_date.day)


@dataclass(frozen=True)
class History:
    orders_count: int
    turnover_12m: Decimal


def purchase_history(session: Session, member_id: int, at: datetime,
                     exclude_document_id: int | None = None) -> History:
    """Documents before ``at`` (orders and invoices, not cancelled), net of returns."""
    base = [Document.member_id == member_id, Document.placed_at < at,
            Document.document_type.in_(("order", "invoice")),
            Document.status != "cancelled"]
    if exclude_document_id is not None:
        base.append(Document.id != exclude_document_id)
    count = session.execute(select(func.count(Document.id)).where(*base)).scalar_one()
    turnover = session.execute(
        select(func.coalesce(func.sum(Document.total), 0))
        .where(*base, Document.placed_at >= at - timedelta(days=365))).scalar_one()
    return History(orders_count=int(count), turnover_12m=Decimal(turnover))


MEMBER_VARIABLES = ("member_group", "tier", "days_since_registration", "orders_count",
                    "turnover_12m", "is_birthday", "referral_count", "points_balance")


def variables_used(*compiled_policies) -> frozenset[str]:
    """The member variables any of these policies' conditions read."""
    names: set[str] = set()
    for compiled in compiled_policies:
        if compiled is None:
            continue
        for rule in compiled.document.rules:
            if rule.conditions is not None:
                names.update(rule.conditions.variables())
    return frozenset(names & set(MEMBER_VARIABLES))


def facts(session: Session, member: Member, at: datetime, settings: rules.ProgramSettings,
          *, exclude_document_id: int | None = None,
          needed: frozenset[str] | None = None) -> rules.facts.MemberFacts:
    """The member as rules see it at ``at``. With ``needed``, only those variables
    that cost a query are computed (the others keep their neutral defaults)."""
    from rules.facts import MemberFacts

    def wanted(*names):
        return needed is None or any(name in needed for name in names)

    history = purchase_history(session, member.id, at, exclude_document_id) \
        if wanted("orders_count", "turnover_12m") else History(0, Decimal(0))
    referrals = session.execute(select(func.count(Member.id)).where(
        Member.referred_by_id == member.id)).scalar_one() if wanted("referral_count") else 0
    balance = ledger.balance(session, member.account, at).available \
        if wanted("points_balance") else Decimal(0)
    today = at.astimezone(settings.tz).date()
    registered = member.registered_at.astimezone(settings.tz).date()
    return MemberFacts(member_group=member.group or "", tier=member.tier or "",
                       days_since_registration=max((today - registered).days, 0),
                       orders_count=history.orders_count, turnover_12m=history.turnover_12m,
                       is_birthday=is_birthday(member.birth_date, today),
                       referral_count=int(referrals), points_balance=balance)
