"""Merging members by phone, recorded and reversible: 1C cards and the members behind them.

Design
======
The phone (E.164) is the key that makes several 1C customer cards one member
[004]. When a 1C card arrives (`upsert_card`), two kinds of merge can happen,
and both are recorded as a `MemberMerge` row (what, into what, when, by what,
and a snapshot that undoing needs):

- *card link* (kind "card"): a card we have not seen carries the phone of an
  existing member. `customers.upsert` links the card to that member (no new
  member) and writes the card's name and e-mail onto it; the snapshot keeps
  the member's fields before and after.
- *member merge* (kind "members"): a card we know, whose member is not the
  phone's owner, now carries that phone: two existing members turn out to be
  one person. The card's member (the source) is merged into the phone's owner
  (the target). ``merged_into_id`` makes every reference to the source (its
  cards, ext/erp ids) answer for the target. The source's documents and
  redemptions are re-pointed to the target's account, so later reversals and
  refunds land where the points now are. Its points move through two ledger
  entries of kind "transfer": one consuming every open lot of the source
  (pending ones too), one creating mirror lots on the target with the same
  ``available_at`` and ``expires_at`` — holding periods and expiry dates
  survive, and no lot is ever edited. A debt of the source moves the same way.
  Company accounts are never merged automatically.

Undoing is `engine.members.undo`.
An undone merge is remembered: the same card (or member) and target are not
merged again automatically by a later exchange.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import ledger, members, policies
from engine.domain import CustomerDoc
from engine.members import customers
from engine.models import (
    Document,
    DocumentCard,
    Member,
    MemberMerge,
    Redemption,
)

ZERO = Decimal(0)
FIELDS = ("name", "email", "group", "birth_date")


class MergeError(Exception):
    code = "merge_error"


class UnknownMerge(MergeError, LookupError):
    code = "unknown_merge"


@dataclass(frozen=True)
class CardResult:
    outcome: str  # applied | duplicate
    merge: MemberMerge | None = None
    note: str | None = None  # why a phone match was not merged


def fields_of(member: Member) -> dict:
    return {f: (v.isoformat() if isinstance(v := getattr(member, f), date) else v) for f in FIELDS}


def _phone_owner(session: Session, phone: str | None) -> Member | None:
    """The member who answers for ``phone`` (past merges followed)."""
    if not phone:
        return None
    member = session.execute(select(Member).where(Member.phone == phone)).scalar_one_or_none()
    while member is not None and member.merged_into_id is not None:
        member = session.get(Member, member.merged_into_id)
    return member


def was_undone(session: Session, target_id: int, *, card_id: str | None = None,
               source_id: int | None = None) -> bool:
    """Whether an admin already separated this card (or member) from ``target_id``."""
    match = [MemberMerge.card_id == card_id] if card_id else []
    if source_id is not None:
        match.append(MemberMerge.source_member_id == source_id)
    if not match:
        return False
    return session.execute(select(MemberMerge.id).where(
        MemberMerge.target_member_id == target_id, MemberMerge.undone_at.is_not(None),
        or_(*match)).limit(1)).first() is not None


def upsert_card(session: Session, doc: CustomerDoc, *, actor: str, now: datetime,
                import_run_id: int | None = None) -> CardResult:
    """Upsert a 1C card through `customers.upsert`, recording any merge by phone."""
    member = customers.find_by_card(session, doc.source, doc.external_id)
    owner = _phone_owner(session, doc.phone)
    common = dict(card_source=doc.source, card_id=doc.external_id, phone=doc.phone, actor=actor,
                  import_run_id=import_run_id, created_at=now)
    if member is None:
        if owner is not None and was_undone(session, owner.id, card_id=doc.external_id):
            outcome = customers.upsert(session, doc, now=now, link_by_phone=False)
            return CardResult(outcome, note=f"card {doc.external_id} was separated from member "
                                            f"{owner.loyalty_id} by an admin; not linked again")
        before = fields_of(owner) if owner is not None else None
        outcome = customers.upsert(session, doc, now=now)
        if owner is None:
            return CardResult(outcome)
        merge = MemberMerge(
            kind="card", target_member_id=owner.id,
            reason=f"card {doc.external_id} has the phone {doc.phone} of member {owner.loyalty_id}",
            snapshot={"card": {"name": doc.name, "email": doc.email, "phone_raw": doc.phone_raw},
                      "target_before": before, "target_after": fields_of(owner)}, **common)
        session.add(merge)
        session.flush()
        return CardResult(outcome, merge)
    outcome = customers.upsert(session, doc, now=now)
    if owner is None or owner.id == member.id:
        return CardResult(outcome)
    if was_undone(session, owner.id, card_id=doc.external_id, source_id=member.id):
        return CardResult(outcome, note=f"member {member.loyalty_id} was separated from "
                                        f"{owner.loyalty_id} by an admin; not merged again")
    try:
        merge = merge_members(session, member, owner, now=now, reason=(
            f"card {doc.external_id} of member {member.loyalty_id} now has the phone "
            f"{doc.phone} of member {owner.loyalty_id}"), **common)
    except MergeError as exc:
        return CardResult(outcome, note=str(exc))
    return CardResult("applied", merge)


def negative_allowed(session: Session, now: datetime) -> bool:
    return policies.settings(session, now).negative_balance_allowed


def merge_members(session: Session, source: Member, target: Member, *, actor: str,
                  now: datetime, reason: str, card_source: str | None = None,
                  card_id: str | None = None, phone: str | None = None,
                  import_run_id: int | None = None, created_at: datetime | None = None
                  ) -> MemberMerge:
    """Merge ``source`` into ``target``, moving its points by transfer entries."""
    if source.id == target.id or source.merged_into_id is not None:
        raise MergeError(f"member {source.loyalty_id} cannot be merged into {target.loyalty_id}")
    if source.company_id or target.company_id or source.account_id == target.account_id:
        raise MergeError(f"members {source.loyalty_id} and {target.loyalty_id} share the phone "
                         f"{phone or target.phone} but use a company account; merge them by hand")
    settings = policies.settings(session, now)
    for who in (source, target):
        # A blocked member merged with an active one would spend again through the other's
        # cards, and its points would too: such a merge is an operator's decision.
        refused = members.refusal(who, settings)
        if refused:
            raise MergeError(f"members {source.loyalty_id} and {target.loyalty_id} share the phone "
                             f"{phone or target.phone}, but {refused}; merge them by hand")
    src, dst = ledger.lock_pair(session, source.account_id, target.account_id)
    ledger.settle_debt(session, src, now)
    lots = ledger.open_lots(session, src.id, now)
    amount = sum((lot.remaining for lot in lots), ZERO)
    debt = src.debt
    merge = MemberMerge(kind="members", source_member_id=source.id, target_member_id=target.id,
                        card_source=card_source, card_id=card_id, phone=phone, reason=reason,
                        actor=actor, import_run_id=import_run_id, created_at=created_at or now)
    session.add(merge)
    session.flush()
    docs = list(session.execute(select(Document.id).where(Document.account_id == src.id)).scalars())
    reds = list(session.execute(select(Redemption.id).where(Redemption.account_id == src.id))
                .scalars())
    snapshot = {"source_before": fields_of(source), "moved": str(amount), "debt": str(debt),
                "documents": docs, "redemptions": reds, "credit_entry": None}
    note = f"merged into {target.loyalty_id} (merge {merge.id})"
    if amount > 0:
        _debit, credit = ledger.transfer(session, src, dst, amount, key=f"merge:{merge.id}", actor=actor,
                                  now=now, reason=note, src_member_id=source.id,
                                  dst_member_id=target.id, prefer_lot_ids=[l.id for l in lots],
                                  allow_debt=True)
        snapshot["credit_entry"] = credit.id
    if debt > 0:  # the source's debt becomes the target's
        ledger.transfer(session, dst, src, debt, key=f"merge:{merge.id}:debt", actor=actor, now=now,
                 reason=note + ": debt", src_member_id=target.id, dst_member_id=source.id,
                 allow_debt=True)
    repoint(session, docs, reds, source=source, target=target)
    source.merged_into_id = target.id
    merge.snapshot = snapshot
    session.flush()
    return merge


def repoint(session: Session, docs: list[int], reds: list[int], *, source: Member,
             target: Member) -> None:
    """Documents and redemptions of ``source``'s account now belong to ``target``'s."""
    if docs:
        session.execute(update(Document).where(Document.id.in_(docs),
                                               Document.account_id == source.account_id)
                        .values(member_id=target.id, account_id=target.account_id)
                        .execution_options(synchronize_session="fetch"))
    if reds:
        session.execute(update(Redemption).where(Redemption.id.in_(reds),
                                                 Redemption.account_id == source.account_id)
                        .values(account_id=target.account_id)
                        .execution_options(synchronize_session="fetch"))


def move_card_documents(session: Session, card_ids: list[str], src: Member, dst: Member, *,
                         since: datetime, key: str, actor: str, now: datetime) -> dict:
    """Documents booked on ``card_ids`` since a merge move to ``dst`` with their net points."""
    if not card_ids:
        return {"documents": [], "points": "0"}
    docs = list(session.execute(
        select(Document).join(DocumentCard, DocumentCard.document_id == Document.id)
        .where(DocumentCard.card_id.in_(card_ids), Document.account_id == src.account_id,
               DocumentCard.created_at >= since).order_by(Document.id)).scalars())
    src_acc, dst_acc = ledger.lock_pair(session, src.account_id, dst.account_id)
    moved = ZERO
    for doc in docs:
        if doc.earned > 0:
            try:
                ledger.transfer(session, src_acc, dst_acc, doc.earned, key=f"{key}:doc:{doc.id}",
                         actor=actor, now=now, reason=f"order {doc.external_id} moves back to "
                         f"{dst.loyalty_id}", src_member_id=src.id, dst_member_id=dst.id,
                         prefer_lot_ids=ledger.document_lot_ids(session, doc.id),
                         allow_debt=negative_allowed(session, now))
            except ledger.InsufficientPoints as exc:
                raise MergeError(f"member {src.loyalty_id} has already spent points of order "
                                 f"{doc.external_id} ({exc.available} of {exc.requested} are "
                                 "left) and the program does not allow negative balances; "
                                 "adjust the balance first") from None
            moved += doc.earned
        doc.member_id, doc.account_id = dst.id, dst.account_id
    session.flush()
    return {"documents": [d.external_id for d in docs], "points": str(moved)}
