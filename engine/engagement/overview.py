"""Presentation queries of the engagement programs for the admin UI: reward orders by status, members
per tier, recent tier changes, missions with their participants. Read-only, set-based."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, aliased

from engine.models import (
    Member,
    Mission,
    MissionAward,
    MissionMember,
    MissionProgress,
    RewardOrder,
    TierChange,
    TierState,
)


def reward_orders(session: Session, status: str | None = None, limit: int = 200) -> list[tuple]:
    """The newest reward orders (optionally in one status) with the payer's and recipient's loyalty ids."""
    payer, recipient = aliased(Member), aliased(Member)
    query = (select(RewardOrder, payer.loyalty_id, recipient.loyalty_id)
             .join(payer, payer.id == RewardOrder.member_id).join(recipient, recipient.id == RewardOrder.recipient_id)
             .order_by(RewardOrder.id.desc()).limit(limit))
    if status:
        query = query.where(RewardOrder.status == status)
    return list(session.execute(query).all())


def members_per_tier(session: Session) -> dict[str, int]:
    """How many members hold each tier ("" for none)."""
    rows = session.execute(select(Member.tier, func.count()).group_by(Member.tier))
    return {tier or "": n for tier, n in rows}


def members_in_tier(session: Session, tier: str, *, page: int = 1, per_page: int = 50) -> tuple[list[tuple], int]:
    """A page of the members holding ``tier`` by loyalty id: (loyalty id, name, pinned until, pinned by),
    and how many hold it."""
    total = session.execute(select(func.count()).select_from(Member).where(Member.tier == tier)).scalar_one()
    rows = session.execute(select(Member.loyalty_id, Member.name, TierState.pinned_until, TierState.pinned_by)
                           .outerjoin(TierState, TierState.member_id == Member.id).where(Member.tier == tier)
                           .order_by(Member.loyalty_id).offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def pinned(session: Session, limit: int = 200) -> list[tuple]:
    """Members an admin pinned or invited: (loyalty id, tier, until, by whom, note)."""
    return list(session.execute(
        select(Member.loyalty_id, Member.tier, TierState.pinned_until, TierState.pinned_by, TierState.note)
        .join(Member, Member.id == TierState.member_id).where(TierState.pinned_by != "")
        .order_by(TierState.member_id).limit(limit)).all())


def recent_tier_changes(session: Session, limit: int = 50) -> list[tuple[TierChange, str]]:
    """The latest recorded tier changes, newest first, with the member's loyalty id."""
    return list(session.execute(select(TierChange, Member.loyalty_id).join(Member, Member.id == TierChange.member_id)
                                .order_by(TierChange.id.desc()).limit(limit)).all())


@dataclass(frozen=True)
class MissionCounts:
    mission: Mission
    joined: int  # members who joined (missions with enrolment "join")
    progressing: int  # members with any progress recorded
    completed: int  # members holding a completion reward not taken back


def _per_mission(session: Session, column, *where) -> dict[int, int]:
    table = column.class_
    rows = session.execute(select(table.mission_id, func.count(distinct(column))).where(*where)
                           .group_by(table.mission_id))
    return dict(rows.all())


def missions(session: Session) -> list[MissionCounts]:
    """Every mission with its participant and completion counts (over all periods)."""
    joined = _per_mission(session, MissionMember.member_id)
    progressing = _per_mission(session, MissionProgress.member_id)
    completed = _per_mission(session, MissionAward.member_id, MissionAward.reversed_at.is_(None))
    return [MissionCounts(m, joined.get(m.id, 0), progressing.get(m.id, 0), completed.get(m.id, 0))
            for m in session.execute(select(Mission).order_by(Mission.id)).scalars()]
