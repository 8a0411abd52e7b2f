"""Members by ERP code a chunk at a time (merges followed), as plain rows for set-based imports."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Member
from engine.models.bulk import batches, one_of, run


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


def find_members(session: Session, codes: Iterable[str]) -> dict[str, MemberRow]:
    """Members by ERP code (``erp:<code>``), following merges as `members.resolve` does."""
    cols = (Member.id, Member.account_id, Member.group.label("group"), Member.tier, Member.status, Member.registered_at,
            Member.birth_date, Member.merged_into_id, Member.referred_by_id)
    found: dict[str, MemberRow] = {}
    for part in batches(set(codes)):
        for row in run(session, select(Member.erp_code, *cols).where(one_of(session, Member.erp_code, part))):
            target, seen = row, set()
            while target.merged_into_id is not None and target.merged_into_id not in seen:
                seen.add(target.merged_into_id)
                target = run(session, select(Member.erp_code, *cols)
                              .where(Member.id == target.merged_into_id)).one()
            found[row.erp_code] = MemberRow(target.id, target.account_id, target.group or "",
                                            target.tier or "", target.status, target.registered_at,
                                            target.birth_date, target.referred_by_id)
    return found


def find_by_refs(session: Session, refs: Iterable[str], regions: tuple[str, ...]) -> dict[str, MemberRow]:
    """Members by the references 1C documents carry (``onec:<card>``, ``phone:<number>``, a loyalty id),
    as `members.resolve` finds them; merged-away members and other kinds of reference are left out
    (the caller resolves those one by one)."""
    from engine.members.phones import normalize_phone
    from engine.models import MemberCard
    cols = (Member.id, Member.account_id, Member.group.label("group"), Member.tier, Member.status,
            Member.registered_at, Member.birth_date, Member.merged_into_id, Member.referred_by_id)
    cards, phones, loyalty = {}, {}, {}
    for ref in set(refs):
        kind, sep, value = ref.partition(":")
        if not sep:
            loyalty[ref] = ref
        elif kind == "onec":
            cards[value] = ref
        elif kind == "phone":
            e164 = normalize_phone(value, regions)
            if e164 is not None:
                phones.setdefault(e164, []).append(ref)
    found: dict[str, MemberRow] = {}

    def keep(refs_of, row) -> None:
        if row.merged_into_id is None:
            member = MemberRow(row.id, row.account_id, row.group or "", row.tier or "", row.status,
                               row.registered_at, row.birth_date, row.referred_by_id)
            for ref in refs_of:
                found[ref] = member

    for part in batches(cards):
        stmt = select(MemberCard.card_id.label("key"), *cols).join(MemberCard, MemberCard.member_id == Member.id) \
            .where(MemberCard.source == "1c", one_of(session, MemberCard.card_id, part))
        for row in run(session, stmt):
            keep([cards[row.key]], row)
    for part in batches(phones):
        for row in run(session, select(Member.phone.label("key"), *cols).where(one_of(session, Member.phone, part))):
            keep(phones[row.key], row)
    for part in batches(loyalty):
        stmt = select(Member.loyalty_id.label("key"), *cols).where(one_of(session, Member.loyalty_id, part))
        for row in run(session, stmt):
            keep([row.key], row)
    return found
