"""What we owe 1C at `mode=query`: unconfirmed bonus operations and member profiles.

Delivery model
==============
``prepare`` selects what one integration has not confirmed yet, records it as
a pending `DeliveryBatch` and returns the CommerceML answer; ``confirm`` (on
`mode=success`) marks exactly that batch delivered. A session that dies
between the two confirms nothing, so the next `query` selects the same
operations again, plus newer ones; after `success` they are never sent again.

"Not confirmed" is kept per integration by a `DeliveryCursor` and `Delivered`
rows: an entry is owed when its id is above ``entry_watermark`` and it has no
`Delivered` row. A plain "last confirmed id" would be wrong: ledger ids are
taken at insert time but become visible at commit, so a long transaction can
commit entry 100 after entry 120 was already sent, and a cursor at 120 would
skip it forever. Instead the watermark only moves past entries older than
``SETTLE`` (no transaction lives that long; imports commit every few hundred
documents) and never past an entry still owed; `Delivered` rows below the
watermark are then dropped, so the table stays small. Member profiles work
the same way with ``updated_at`` (the version of a profile that was sent).

What travels:
- operations: every ledger entry (accruals, reversals, redemptions, refunds,
  expiries, adjustments, bonuses, transfers…) with the running balance of its
  account, except write-offs made in 1C and their refunds (a `Redemption`
  whose source is "1c"): 1C booked those itself and would count them twice.
  They are still marked delivered, and the member's profile carries the new
  balance;
- profiles: members created or changed here since the last confirmed exchange,
  and every member whose balance moved in this batch, one `Контрагент` per 1C
  card of the member (so 1C updates its own cards), or under the loyalty id
  when the member has no 1C card (1C creates the card under that `Ид`). Each
  card gets the name and e-mail 1C last sent for it (kept on `MemberCard`):
  sending merged cards the member's latest values would make them take each
  other's and flip on every exchange. A value changed on our side (one none
  of the member's cards sent) goes to every card.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, delete, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from engine import ledger
from engine.models import (
    Account,
    Amount,
    Delivered,
    DeliveryBatch,
    DeliveryCursor,
    Document,
    LedgerEntry,
    Member,
    MemberCard,
    Redemption,
    utcnow,
)
from engine.onec import ExchangeConfig
from exporters.onec import BonusOperation, MemberProfile, build_query_document, content_type

SETTLE = timedelta(hours=1)
MAX_OPERATIONS = 5000
MAX_PROFILES = 5000
ZERO = Decimal(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPENDING = ("redemption", "reward_order")


@dataclass
class Prepared:
    batch: DeliveryBatch
    body: bytes
    content_type: str


def cursor(session: Session, integration: str) -> DeliveryCursor:
    """The integration's cursor, locked until commit (one query/success at a time)."""
    row = session.execute(select(DeliveryCursor).where(DeliveryCursor.integration == integration)
                          .with_for_update()).scalar_one_or_none()
    if row is None:
        row = DeliveryCursor(integration=integration, entry_watermark=0)
        session.add(row)
        session.flush()
    return row


def _owed_entries(session: Session, integration: str, watermark: int, limit: int):
    done = and_(Delivered.integration == integration, Delivered.kind == "entry",
                Delivered.object_id == LedgerEntry.id)
    return session.execute(
        select(LedgerEntry, Redemption.source, Redemption.order_external_id)
        .outerjoin(Redemption, Redemption.id == LedgerEntry.redemption_id)
        .outerjoin(Delivered, done)
        .where(LedgerEntry.id > watermark, Delivered.id.is_(None))
        .order_by(LedgerEntry.id).limit(limit)).all()


def _changed_members(session: Session, integration: str, watermark: datetime | None,
                     limit: int) -> list[Member]:
    done = and_(Delivered.integration == integration, Delivered.kind == "member",
                Delivered.object_id == Member.id)
    stmt = (select(Member).outerjoin(Delivered, done)
            .where(Member.merged_into_id.is_(None),
                   or_(Delivered.id.is_(None), Delivered.version_at < Member.updated_at))
            .order_by(Member.updated_at, Member.id).limit(limit))
    if watermark is not None:
        stmt = stmt.where(Member.updated_at > watermark)
    return list(session.execute(stmt).scalars())


def _final(session: Session, member: Member) -> Member:
    while member.merged_into_id is not None:
        member = session.get(Member, member.merged_into_id)
    return member


def _running_balances(session: Session, entry_ids: set[int], accounts: set[int]) -> dict:
    """entry id → the account's total (available + pending − debt) right after it."""
    out: dict[int, Decimal] = {}
    ids = sorted(accounts)
    for start in range(0, len(ids), 500):
        running = type_coerce(func.sum(LedgerEntry.amount).over(
            partition_by=LedgerEntry.account_id, order_by=LedgerEntry.id), Amount())
        rows = session.execute(select(LedgerEntry.id, running)
                               .where(LedgerEntry.account_id.in_(ids[start:start + 500])))
        out.update((entry_id, total) for entry_id, total in rows if entry_id in entry_ids)
    return out


def _totals(session: Session, accounts: set[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """account → (points earned, points spent net of refunds)."""
    earned = func.sum(case((and_(LedgerEntry.amount > 0,
                                 LedgerEntry.kind.not_in(("refund", "transfer"))),
                           LedgerEntry.amount), else_=0))
    spent = func.sum(case((LedgerEntry.kind.in_(_SPENDING), -LedgerEntry.amount),
                          (LedgerEntry.kind == "refund", -LedgerEntry.amount), else_=0))
    rows = session.execute(select(LedgerEntry.account_id, type_coerce(earned, Amount()),
                                  type_coerce(spent, Amount()))
                           .where(LedgerEntry.account_id.in_(sorted(accounts)))
                           .group_by(LedgerEntry.account_id))
    return {account: (e or ZERO, s or ZERO) for account, e, s in rows}


@dataclass(frozen=True)
class _Card:
    card_id: str
    name: str  # what 1C last sent for the card
    email: str | None  # likewise; None when not known (cards received before it was kept)


def _cards(session: Session, member_ids: set[int]) -> dict[int, list[_Card]]:
    """member → the 1C cards that answer for it (its own and those of members merged into it)."""
    rows = session.execute(select(MemberCard.card_id, MemberCard.name, MemberCard.email,
                                  MemberCard.member_id, Member.merged_into_id)
                           .join(Member, Member.id == MemberCard.member_id)
                           .where(or_(MemberCard.member_id.in_(member_ids),
                                      Member.merged_into_id.in_(member_ids)))
                           .order_by(MemberCard.id))
    cards: dict[int, list[_Card]] = defaultdict(list)
    for card_id, name, email, member_id, merged_into in rows:
        for owner in (member_id, merged_into):
            if owner in member_ids:
                cards[owner].append(_Card(card_id, name, email))
    return cards


def _norm(email: str | None) -> str:
    return (email or "").strip().lower()


def _as_sent(member: Member, card: _Card, cards: list[_Card]) -> tuple[str, str | None]:
    """The name and e-mail to send ``card``: what 1C sent for it, so merged cards do not take
    each other's values and flip on every exchange — unless the member was changed on our
    side (its value is none of its cards'), which every card then learns."""
    name = member.name
    if card.name and member.name in {c.name for c in cards}:
        name = card.name
    email = member.email
    if card.email is not None and _norm(member.email) in {_norm(c.email) for c in cards if c.email is not None}:
        email = card.email or None
    return name, email


def prepare(session: Session, integration: str, *, config: ExchangeConfig, now: datetime,
            session_id: int | None = None, limit: int = MAX_OPERATIONS) -> Prepared:
    """Select what ``integration`` has not confirmed, record it as pending, build the answer."""
    cur = cursor(session, integration)
    rows = _owed_entries(session, integration, cur.entry_watermark, limit)
    sent, skipped = [], []
    for entry, red_source, red_order in rows:
        from_1c = red_source == "1c" and entry.kind in ("redemption", "refund")
        (skipped if from_1c else sent).append((entry, red_order))
    entry_members = {e.member_id for e, _ in sent if e.member_id}
    accounts = {row[0].account_id for row in rows}
    holders = {}
    for member in session.execute(select(Member).where(Member.account_id.in_(accounts))
                                  .order_by(Member.id)).scalars():
        holders.setdefault(member.account_id, member)  # the first (oldest) member of an account
    loaded = {m.id: m for m in session.execute(select(Member).where(
        Member.id.in_(entry_members))).scalars()} if entry_members else {}
    changed = _changed_members(session, integration, cur.member_watermark, MAX_PROFILES)
    profile_members: dict[int, Member] = {m.id: m for m in changed}
    for entry, *_ in rows:
        holder = loaded.get(entry.member_id) or holders.get(entry.account_id)
        if holder is not None:
            final = _final(session, holder)
            profile_members.setdefault(final.id, final)
    cards = _cards(session, set(loaded) | set(profile_members))
    docs = dict(session.execute(select(Document.id, Document.external_id).where(
        Document.id.in_({e.document_id for e, _ in sent if e.document_id}))).all()) \
        if any(e.document_id for e, _ in sent) else {}
    running = _running_balances(session, {e.id for e, _ in sent}, {e.account_id for e, _ in sent})
    operations = []
    for entry, red_order in sent:
        member = loaded.get(entry.member_id) or holders.get(entry.account_id)
        card_ids = cards.get(member.id) if member else None
        fallback = member.loyalty_id if member else f"account-{entry.account_id}"
        operations.append(BonusOperation(
            op_id=f"bonus-{entry.id}",
            member_card_id=card_ids[0].card_id if card_ids else fallback,
            member_phone=member.phone if member else None,
            member_name=member.name if member else "", kind=entry.kind, amount=entry.amount,
            document_external_id=docs.get(entry.document_id) or red_order,
            at=entry.created_at, balance_after=running.get(entry.id)))
    totals = _totals(session, {m.account_id for m in profile_members.values()})
    profiles = []
    for member in profile_members.values():
        account = session.get(Account, member.account_id)
        bal = ledger.balance(session, account, now)
        accrued, spent_total = totals.get(member.account_id, (ZERO, ZERO))
        own = cards.get(member.id) or [_Card(member.loyalty_id, member.name, member.email)]
        for card in own:
            name, email = _as_sent(member, card, own)
            profiles.append(MemberProfile(
                card_id=card.card_id, loyalty_id=member.loyalty_id, name=name,
                phone=member.phone, email=email, balance=bal.available,
                accrued_total=accrued, spent_total=spent_total))
    body = build_query_document(operations, profiles, generated_at=now, config=config)
    batch = DeliveryBatch(
        integration=integration, session_id=session_id, status="pending",
        entry_ids=[e.id for e, _ in sent], skipped_ids=[e.id for e, _ in skipped],
        members={str(m.id): m.updated_at.isoformat() for m in profile_members.values()},
        operations=len(operations), profiles=len(profiles), size=len(body),
        sha256=hashlib.sha256(body).hexdigest(), created_at=now)
    session.add(batch)
    session.flush()
    return Prepared(batch, body, content_type(config.encoding))


def confirm(session: Session, integration: str, *, session_id: int | None,
            now: datetime) -> DeliveryBatch | None:
    """`mode=success`: mark the session's last answer delivered; None when there was none."""
    cur = cursor(session, integration)
    pending = list(session.execute(select(DeliveryBatch).where(
        DeliveryBatch.integration == integration, DeliveryBatch.session_id == session_id,
        DeliveryBatch.status == "pending").order_by(DeliveryBatch.id.desc())).scalars())
    if not pending:
        return None
    batch = pending[0]
    for older in pending[1:]:
        older.status = "superseded"  # the last answer holds everything the earlier ones did
    ids = set(batch.entry_ids) | set(batch.skipped_ids)
    known = set(session.execute(select(Delivered.object_id).where(
        Delivered.integration == integration, Delivered.kind == "entry",
        Delivered.object_id.in_(ids))).scalars()) if ids else set()
    session.add_all(Delivered(integration=integration, kind="entry", object_id=i,
                              batch_id=batch.id) for i in sorted(ids - known))
    sent = {int(k): datetime.fromisoformat(v) for k, v in batch.members.items()}
    rows = {d.object_id: d for d in session.execute(select(Delivered).where(
        Delivered.integration == integration, Delivered.kind == "member",
        Delivered.object_id.in_(sent))).scalars()} if sent else {}
    for member_id, version in sent.items():
        row = rows.get(member_id)
        if row is None:
            session.add(Delivered(integration=integration, kind="member", object_id=member_id,
                                  version_at=version, batch_id=batch.id))
        elif row.version_at is None or row.version_at < version:
            row.version_at, row.batch_id = version, batch.id
    batch.status, batch.confirmed_at = "confirmed", now
    cur.confirmed_at = now
    session.flush()
    _advance(session, cur, now)
    return batch


def _advance(session: Session, cur: DeliveryCursor, now: datetime) -> None:
    """Move the watermarks past what is both delivered and settled; drop the rows below."""
    integration = cur.integration
    done = and_(Delivered.integration == integration, Delivered.kind == "entry",
                Delivered.object_id == LedgerEntry.id)
    gap = session.execute(select(func.min(LedgerEntry.id)).outerjoin(Delivered, done).where(
        LedgerEntry.id > cur.entry_watermark, Delivered.id.is_(None))).scalar_one()
    settled = session.execute(select(func.max(LedgerEntry.id)).where(
        LedgerEntry.id > cur.entry_watermark,
        LedgerEntry.created_at < now - SETTLE)).scalar_one() or 0
    mark = min(settled, gap - 1) if gap is not None else settled
    if mark > cur.entry_watermark:
        cur.entry_watermark = mark
        session.execute(delete(Delivered).where(
            Delivered.integration == integration, Delivered.kind == "entry",
            Delivered.object_id <= mark))
    member_done = and_(Delivered.integration == integration, Delivered.kind == "member",
                       Delivered.object_id == Member.id)
    oldest = session.execute(select(func.min(Member.updated_at)).outerjoin(Delivered, member_done)
                             .where(Member.merged_into_id.is_(None),
                                    Member.updated_at > (cur.member_watermark or _EPOCH),
                                    or_(Delivered.id.is_(None),
                                        Delivered.version_at < Member.updated_at))).scalar_one()
    member_mark = utcnow() - SETTLE  # updated_at is the database writer's real time
    if oldest is not None:
        member_mark = min(member_mark, oldest - timedelta(microseconds=1))
    if cur.member_watermark is None or member_mark > cur.member_watermark:
        cur.member_watermark = member_mark
        session.execute(delete(Delivered).where(
            Delivered.integration == integration, Delivered.kind == "member",
            Delivered.version_at <= member_mark))
    session.flush()
