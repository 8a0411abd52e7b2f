"""What a member's admin page shows beyond the ledger: redemptions, the merges into or out of the member,
the company's employees. Read-only presentation queries (``engine.reports`` has the dashboard's and the
search's)."""
from __future__ import annotations

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, aliased

from engine.models import Member, MemberMerge, Redemption


def redemptions(session: Session, account_id: int, *, limit: int = 20) -> list:
    """The account's redemptions, newest first (a company's include every employee's)."""
    return list(session.execute(select(Redemption).where(Redemption.account_id == account_id)
                                .order_by(Redemption.created_at.desc(), Redemption.id.desc())
                                .limit(limit)).scalars())


def merges(session: Session, member_id: int) -> list[tuple]:
    """(merge, the other member or None) for every recorded merge into or out of this member, newest first."""
    other = aliased(Member)
    partner = case((MemberMerge.target_member_id == member_id, MemberMerge.source_member_id),
                   else_=MemberMerge.target_member_id)
    return list(session.execute(
        select(MemberMerge, other).outerjoin(other, other.id == partner)
        .where(or_(MemberMerge.target_member_id == member_id, MemberMerge.source_member_id == member_id))
        .order_by(MemberMerge.created_at.desc(), MemberMerge.id.desc())).all())


def employees(session: Session, company_id: int) -> list[Member]:
    return list(session.execute(select(Member).where(Member.company_id == company_id)
                                .order_by(Member.name, Member.id)).scalars())


def redemption_orders(session: Session, ids) -> dict[int, str | None]:
    """The order each of these redemptions paid for."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Redemption.id, Redemption.order_external_id)
                                .where(Redemption.id.in_(ids))).all())

