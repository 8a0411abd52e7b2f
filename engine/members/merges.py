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

Undoing (`undo_merge`, an admin's decision):
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
An undone merge is remembered: the same card (or member) and target are not
merged again automatically by a later exchange.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from engine import ledger, members, policies, terms
from engine.documents.domain import CustomerDoc
from engine.members import customers
from engine.models import (
    Account,
    Allocation,
    Document,
    DocumentCard,
    LedgerEntry,
    Lot,
    Member,
    MemberCard,
    MemberMerge,
    Redemption,
)
from rules.facts import MemberFacts

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


def _fields(member: Member) -> dict:
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
        before = _fields(owner) if owner is not None else None
        outcome = customers.upsert(session, doc, now=now)
        if owner is None:
            return CardResult(outcome)
        merge = MemberMerge(
            kind="card", target_member_id=owner.id,
            reason=f"card {doc.external_id} has the phone {doc.phone} of member {owner.loyalty_id}",
            snapshot={"card": {"name": doc.name, "email": doc.email, "phone_raw": doc.phone_raw},
                      "target_before": before, "target_after": _fields(owner)}, **common)
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


def _lock_pair(session: Session, a: int, b: int) -> tuple[Account, Account]:
    """Lock two accounts in id order (no deadlock between opposite merges)."""
    locked = {i: ledger.lock_account(session, i) for i in sorted({a, b})}
    return locked[a], locked[b]


def _open_lots(session: Session, account_id: int, now: datetime) -> list[Lot]:
    return list(session.execute(select(Lot).where(
        Lot.account_id == account_id, Lot.remaining > 0,
        or_(Lot.expires_at.is_(None), Lot.expires_at > now)).order_by(Lot.id)).scalars())


def transfer(session: Session, src: Account, dst: Account, amount: Decimal, *, key: str,
             actor: str, now: datetime, reason: str, src_member_id: int | None = None,
             dst_member_id: int | None = None, prefer_lot_ids=(),
             allow_debt: bool = False) -> tuple[LedgerEntry, LedgerEntry]:
    """Move points between locked accounts: a "transfer" debit and a credit whose lots
    mirror the lots taken (same available_at and expires_at)."""
    debit = ledger.debit(session, src, kind="transfer", amount=amount, key=f"{key}:out",
                         actor=actor, now=now, allow_debt=allow_debt,
                         prefer_lot_ids=list(prefer_lot_ids), member_id=src_member_id,
                         reason=reason, trace={"to_account": dst.id})
    specs: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for alloc, lot in ledger.allocations_of(session, debit.id):
        specs[(lot.available_at, lot.expires_at)] += alloc.amount
    rest = amount - sum(specs.values(), ZERO)
    if rest > 0:  # the source went into debt for it: a fresh lot with the default life
        settings = policies.settings(session, now)
        expires = terms.lot_expiry(session, "transfer", now, MemberFacts(), settings)
        specs[(now, expires)] += rest
    credit = ledger.credit(
        session, dst, kind="transfer", key=f"{key}:in", actor=actor, now=now,
        lots=[ledger.LotSpec(a, at, exp) for (at, exp), a in sorted(
            specs.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1] or now))],
        member_id=dst_member_id, reason=reason,
        trace={"from_account": src.id, "debit_entry": debit.id})
    return debit, credit


def _allow_debt(session: Session, now: datetime) -> bool:
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
    src, dst = _lock_pair(session, source.account_id, target.account_id)
    ledger.settle_debt(session, src, now)
    lots = _open_lots(session, src.id, now)
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
    snapshot = {"source_before": _fields(source), "moved": str(amount), "debt": str(debt),
                "documents": docs, "redemptions": reds, "credit_entry": None}
    note = f"merged into {target.loyalty_id} (merge {merge.id})"
    if amount > 0:
        _debit, credit = transfer(session, src, dst, amount, key=f"merge:{merge.id}", actor=actor,
                                  now=now, reason=note, src_member_id=source.id,
                                  dst_member_id=target.id, prefer_lot_ids=[l.id for l in lots],
                                  allow_debt=True)
        snapshot["credit_entry"] = credit.id
    if debt > 0:  # the source's debt becomes the target's
        transfer(session, dst, src, debt, key=f"merge:{merge.id}:debt", actor=actor, now=now,
                 reason=note + ": debt", src_member_id=target.id, dst_member_id=source.id,
                 allow_debt=True)
    _repoint(session, docs, reds, source=source, target=target)
    source.merged_into_id = target.id
    merge.snapshot = snapshot
    session.flush()
    return merge


def _repoint(session: Session, docs: list[int], reds: list[int], *, source: Member,
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


def _move_card_documents(session: Session, card_ids: list[str], src: Member, dst: Member, *,
                         since: datetime, key: str, actor: str, now: datetime) -> dict:
    """Documents booked on ``card_ids`` since a merge move to ``dst`` with their net points."""
    if not card_ids:
        return {"documents": [], "points": "0"}
    docs = list(session.execute(
        select(Document).join(DocumentCard, DocumentCard.document_id == Document.id)
        .where(DocumentCard.card_id.in_(card_ids), Document.account_id == src.account_id,
               DocumentCard.created_at >= since).order_by(Document.id)).scalars())
    src_acc, dst_acc = _lock_pair(session, src.account_id, dst.account_id)
    moved = ZERO
    for doc in docs:
        if doc.earned > 0:
            try:
                transfer(session, src_acc, dst_acc, doc.earned, key=f"{key}:doc:{doc.id}",
                         actor=actor, now=now, reason=f"order {doc.external_id} moves back to "
                         f"{dst.loyalty_id}", src_member_id=src.id, dst_member_id=dst.id,
                         prefer_lot_ids=ledger.document_lot_ids(session, doc.id),
                         allow_debt=_allow_debt(session, now))
            except ledger.InsufficientPoints as exc:
                raise MergeError(f"member {src.loyalty_id} has already spent points of order "
                                 f"{doc.external_id} ({exc.available} of {exc.requested} are "
                                 "left) and the program does not allow negative balances; "
                                 "adjust the balance first") from None
            moved += doc.earned
        doc.member_id, doc.account_id = dst.id, dst.account_id
    session.flush()
    return {"documents": [d.external_id for d in docs], "points": str(moved)}


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
        if before.get(field) != after.get(field) and _fields(target)[field] == after.get(field):
            value = before.get(field)
            setattr(target, field, date.fromisoformat(value) if field == "birth_date" and value
                    else value)
            restored.append(field)
    moved = _move_card_documents(session, [card.card_id], target, member, since=merge.created_at,
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
    src, dst = _lock_pair(session, target.account_id, source.account_id)
    source.merged_into_id = None
    _repoint(session, snap.get("documents") or [], snap.get("redemptions") or [],
             source=target, target=source)
    cards = list(session.execute(select(MemberCard.card_id).where(
        MemberCard.member_id == source.id)).scalars())
    moved = _move_card_documents(session, cards, target, source, since=merge.created_at,
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
            transfer(session, payer, payee, abs(back), key=f"unmerge:{merge.id}", actor=actor,
                     now=now, reason=f"merge {merge.id} undone",
                     src_member_id=target.id if back > 0 else source.id,
                     dst_member_id=source.id if back > 0 else target.id,
                     prefer_lot_ids=[l.id for l in lots] if back > 0 else (),
                     allow_debt=_allow_debt(session, now))
        except ledger.InsufficientPoints as exc:
            who = target if back > 0 else source
            raise MergeError(f"member {who.loyalty_id} has already spent the points to move "
                             f"back ({exc.available} of {exc.requested} are left) and the "
                             "program does not allow negative balances; adjust the balance "
                             "first") from None
    debt = Decimal(snap.get("debt") or 0)
    if debt > 0:
        transfer(session, dst, src, debt, key=f"unmerge:{merge.id}:debt", actor=actor, now=now,
                 reason=f"merge {merge.id} undone: debt", src_member_id=source.id,
                 dst_member_id=target.id, allow_debt=True)
    return {"member": source.loyalty_id, "points": str(back + Decimal(moved["points"])),
            "documents": moved["documents"], "debt": str(debt)}
