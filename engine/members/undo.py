"""Undoing a recorded merge (an admin's decision).

- a card link: the card gets its own member again (the phone stays with the
  target), the target's fields the card overwrote are restored unless changed
  since, and documents booked on that card since the link move to the card's
  member together with their net points (transfer entries).
- a member merge: the source stands alone again; documents and redemptions
  moved by the merge move back, documents booked on the source's cards since
  move with their points, and the moved points go back less what expired in
  the meantime (it would have expired for the source too). Points the target
  has spent meanwhile become the target's debt when the program allows a
  negative balance; otherwise the undo is refused and says how much is missing.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine import ledger, members
from engine.members.merges import (
    FIELDS,
    MergeError,
    UnknownMerge,
    fields_of,
    move_card_documents,
    negative_allowed,
    repoint,
)
from engine.models import Allocation, LedgerEntry, Lot, Member, MemberCard, MemberMerge

ZERO = Decimal(0)


def undo_merge(session: Session, merge_id: int, *, actor: str, now: datetime) -> MemberMerge:
    """Reverse a recorded merge (see the module docstring)."""
    merge = session.get(MemberMerge, merge_id)
    if merge is None:
        raise UnknownMerge(f"there is no merge {merge_id}")
    if merge.undone_at is not None:
        raise MergeError(f"merge {merge_id} was already undone on {merge.undone_at:%Y-%m-%d}")
    undo = _undo_card if merge.kind == "card" else _undo_members
    merge.undo_details = undo(session, merge, actor=actor, now=now)
    merge.undone_at, merge.undone_by = now, actor
    session.flush()
    return merge


def _undo_card(session: Session, merge: MemberMerge, *, actor: str, now: datetime) -> dict:
    target = session.get(Member, merge.target_member_id)
    card = session.execute(select(MemberCard).where(
        MemberCard.source == merge.card_source, MemberCard.card_id == merge.card_id)
    ).scalar_one_or_none()
    if card is None or card.member_id != target.id:
        raise MergeError(f"card {merge.card_id} is no longer linked to member {target.loyalty_id}")
    snap = merge.snapshot or {}
    data = snap.get("card") or {}
    member = members.create(session, {"name": data.get("name") or card.name,
                                      "email": data.get("email"),
                                      "registered_at": card.created_at}, now=now)
    card.member_id = member.id
    restored = []
    before, after = snap.get("target_before") or {}, snap.get("target_after") or {}
    for field in FIELDS:
        if before.get(field) != after.get(field) and fields_of(target)[field] == after.get(field):
            value = before.get(field)
            setattr(target, field, date.fromisoformat(value) if field == "birth_date" and value
                    else value)
            restored.append(field)
    moved = move_card_documents(session, [card.card_id], target, member, since=merge.created_at,
                                 key=f"unmerge:{merge.id}", actor=actor, now=now)
    merge.source_member_id = member.id
    return {"member": member.loyalty_id, "restored_fields": restored, **moved}


def _since_merge(session: Session, merge: MemberMerge, account_id: int, snap: dict) -> Decimal:
    """Net of the entries the moved documents and redemptions posted on ``account_id``
    after the merge (accruals, reversals, refunds)."""
    docs, reds = snap.get("documents") or [], snap.get("redemptions") or []
    if not docs and not reds:
        return ZERO
    moved = []
    if docs:
        moved.append(LedgerEntry.document_id.in_(docs)
                     & LedgerEntry.kind.in_(("accrual", "reversal")))
    if reds:
        moved.append(LedgerEntry.redemption_id.in_(reds) & (LedgerEntry.kind == "refund"))
    total = session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account_id == account_id, LedgerEntry.created_at >= merge.created_at,
        or_(*moved))).scalar_one()
    return Decimal(total)


def _undo_members(session: Session, merge: MemberMerge, *, actor: str, now: datetime) -> dict:
    source = session.get(Member, merge.source_member_id)
    target = session.get(Member, merge.target_member_id)
    if source is None or source.merged_into_id != target.id:
        raise MergeError(f"member {source.loyalty_id if source else '?'} is no longer merged "
                         f"into {target.loyalty_id}")
    snap = merge.snapshot or {}
    src, dst = ledger.lock_pair(session, target.account_id, source.account_id)
    source.merged_into_id = None
    repoint(session, snap.get("documents") or [], snap.get("redemptions") or [],
             source=target, target=source)
    cards = list(session.execute(select(MemberCard.card_id).where(
        MemberCard.member_id == source.id)).scalars())
    moved = move_card_documents(session, cards, target, source, since=merge.created_at,
                                 key=f"unmerge:{merge.id}", actor=actor, now=now)
    back, lots = ZERO, []
    if snap.get("credit_entry"):
        lots = list(session.execute(select(Lot).where(Lot.entry_id == snap["credit_entry"]))
                    .scalars())
        expired = session.execute(
            select(func.coalesce(func.sum(Allocation.amount), 0))
            .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
            .where(Allocation.lot_id.in_([l.id for l in lots]),
                   LedgerEntry.kind == "expiry")).scalar_one()
        overdue = sum((l.remaining for l in lots if l.expires_at and l.expires_at <= now), ZERO)
        back = sum((l.amount for l in lots), ZERO) - Decimal(expired) - overdue
    # What the source's moved orders and spends did on the target's account since the
    # merge (a reversal, a refund) belongs to the source as well.
    back += _since_merge(session, merge, target.account_id, snap)
    if back:
        payer, payee = (src, dst) if back > 0 else (dst, src)
        try:
            ledger.transfer(session, payer, payee, abs(back), key=f"unmerge:{merge.id}", actor=actor,
                     now=now, reason=f"merge {merge.id} undone",
                     src_member_id=target.id if back > 0 else source.id,
                     dst_member_id=source.id if back > 0 else target.id,
                     prefer_lot_ids=[l.id for l in lots] if back > 0 else (),
                     allow_debt=negative_allowed(session, now))
        except ledger.InsufficientPoints as exc:
            who = target if back > 0 else source
            raise MergeError(f"member {who.loyalty_id} has already spent the points to move "
                             f"back ({exc.available} of {exc.requested} are left) and the "
                             "program does not allow negative balances; adjust the balance "
                             "first") from None
    debt = Decimal(snap.get("debt") or 0)
    if debt > 0:
        ledger.transfer(session, dst, src, debt, key=f"unmerge:{merge.id}:debt", actor=actor, now=now,
                 reason=f"merge {merge.id} undone: debt", src_member_id=source.id,
                 dst_member_id=target.id, allow_debt=True)
    return {"member": source.loyalty_id, "points": str(back + Decimal(moved["points"])),
            "documents": moved["documents"], "debt": str(debt)}
