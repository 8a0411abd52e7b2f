"""Missions: their definitions, who joined, what each document contributed, and the rewards given."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Amount, Base, BigId, UTCDateTime, utcnow

METRICS = ("amount", "quantity")
PERIODS = ("fixed", "month")
ENROLMENTS = ("auto", "join")


class Mission(Base):
    """A target over what the ``mission`` policy rule ``rule_id`` counts, in a period, with a reward.

    Which products or groups count is the rule's business (the rule language);
    the row says how much, when, for whom and what it pays.
    """

    __tablename__ = "missions"
    __table_args__ = (
        CheckConstraint("target > 0", name="target_positive"),
        CheckConstraint("reward_points > 0", name="reward_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    rule_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(16))  # amount | quantity
    target: Mapped[Decimal] = mapped_column(Amount)
    reward_points: Mapped[Decimal] = mapped_column(Amount)
    period: Mapped[str] = mapped_column(String(16), default="fixed")  # fixed | month
    enrolment: Mapped[str] = mapped_column(String(16), default="auto")  # auto | join
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MissionMember(Base):
    """A member who joined a mission (auto-enrol missions need no row); purchases from ``joined_at`` count."""

    __tablename__ = "mission_members"
    __table_args__ = (UniqueConstraint("mission_id", "member_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MissionProgress(Base):
    """What one document (net of its returns and credit notes) contributes to one mission period.

    Replaced, not added to, when the document changes, so a correction takes back exactly its part.
    """

    __tablename__ = "mission_progress"
    __table_args__ = (
        UniqueConstraint("mission_id", "document_id"),
        Index("ix_mission_progress_member", "mission_id", "member_id", "period_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    period_key: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    quantity: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))


class MissionAward(Base):
    """A completion rewarded (``entry_id``) and, if progress fell below the target again, its reversal.

    ``round`` counts completions in one period: a reversed reward can be earned
    again, under a new idempotency key.
    """

    __tablename__ = "mission_awards"
    __table_args__ = (UniqueConstraint("mission_id", "member_id", "period_key", "round"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    period_key: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=1)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    reversal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when reversed; the reversal entry stays None if nothing could be collected (absorbed).
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
