"""Summaries of the append-only ledger that the dashboard reads instead of scanning it
(`engine.ledger.rollup` keeps them; nothing else writes them). Derived data: dropping them and
refreshing rebuilds them exactly."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Amount, Base, UTCDateTime


class LedgerHourTotal(Base):
    """The positive and negative sums and the count of the entries of one kind whose ``effective_at`` falls
    in one UTC hour (hours, so any whole-hour program time zone buckets them into its own days)."""

    __tablename__ = "ledger_hour_totals"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    credit: Mapped[Decimal] = mapped_column(Amount)  # the sum of the positive entries
    debit: Mapped[Decimal] = mapped_column(Amount)  # the sum of the negative ones (≤ 0)
    entries: Mapped[int] = mapped_column(Integer)


class RollupState(Base):
    """One row: the entries up to ``last_entry_id`` are in the totals (ids only grow: entries are appended)."""

    __tablename__ = "rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_entry_id: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[Decimal] = mapped_column(Amount)  # the sum of every rolled-up entry
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountActivity(Base):
    """When each account last had a rolled-up entry (by ``effective_at``): active members are counted here."""

    __tablename__ = "account_activity"
    __table_args__ = (Index("ix_account_activity_last", "last_at"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
