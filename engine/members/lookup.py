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
