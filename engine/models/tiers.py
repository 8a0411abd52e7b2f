"""Tier state beside the member's tier: pins and grace periods, every change, and imported turnover [003].

``members.tier`` stays the one place a member's tier is read from; these
tables say why it is what it is. ``tier_states`` is sparse: only members
pinned to a tier (negotiated, or invited into an invitation-only tier) or
inside a downgrade grace period have a row.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Amount, Base, BigId, UTCDateTime, utcnow


class TierState(Base):
    __tablename__ = "tier_states"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    # Set by an admin: the recalculation leaves the member's tier alone until then (None: no pin).
    pinned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An admin put the member in the tier (invitation or negotiation): who, and why.
    pinned_by: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    # The first recalculation that found the turnover below the held tier (grace period).
    below_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TierChange(Base):
    """One change of a member's tier, written in the transaction that changed it."""

    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    from_tier: Mapped[str] = mapped_column(String(64), default="")
    to_tier: Mapped[str] = mapped_column(String(64), default="")
    # upgrade, downgrade, tier_removed, pin, invitation, pin_ended, removed_by_admin
    reason: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HistoricalTurnover(Base):
    """Turnover from before the program (a shop's migration [003]); counts in the tier window.

    One row per member and period: importing the same period again replaces its amount."""

    __tablename__ = "historical_turnover"
    __table_args__ = (UniqueConstraint("member_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    period: Mapped[date] = mapped_column(Date)  # a day, or the first day of a month
    amount: Mapped[Decimal] = mapped_column(Amount)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
