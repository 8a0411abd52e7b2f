"""Ledger tables: append-only entries, the lots positive entries create, and allocations.

The semantics live in `engine.ledger.posting`; here the database guards what
it can: unique idempotency keys, non-negative remainders, foreign keys.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Amount, Base, BigId, JSONDoc, UTCDateTime, utcnow

ENTRY_KINDS = (
    "accrual", "redemption", "reversal", "refund", "expiry", "adjustment", "bonus",
    "referral", "birthday", "event", "mission_reward", "promo_code", "transfer",
    "reward_order",
)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
        # Entries with a document only (migration 0018): most have none.
        Index("ix_ledger_entries_document", "document_id", postgresql_where=text("document_id IS NOT NULL"),
              sqlite_where=text("document_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # On PostgreSQL the six references are checked per statement, not by foreign keys (migration 0018:
    # triggers on ledger_entries and on the tables they refer to).
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[Decimal] = mapped_column(Amount)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    actor: Mapped[str] = mapped_column(String(120))
    # Who did it (a company employee) and who receives a reward [003].
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    beneficiary_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    trace: Mapped[dict | None] = mapped_column(JSONDoc)
    # When the points were earned: the document date for ERP documents.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lots: Mapped[list[Lot]] = relationship(back_populates="entry")


class Lot(Base):
    """Points from one positive entry: spendable from available_at until expires_at."""

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining <= amount", name="remaining_within_amount"),
        # Covering on PostgreSQL (migration 0009): a balance is an index-only scan.
        Index("ix_lots_open", "account_id", "expires_at", postgresql_include=["remaining", "available_at"],
              postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
        # Covering on PostgreSQL (migration 0016): what expires in 30/60/90 days is an index-only scan.
        Index("ix_lots_expiry", "expires_at", postgresql_include=["remaining"],
              postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
        Index("ix_lots_entry", "entry_id"),
        # Lots not yet available (the liability report's pending points). Not on matured_at (migration
        # 0018): maturing a lot touches no indexed column, so on PostgreSQL it is a HOT update (the
        # table's fillfactor leaves each page room for its rows' new versions).
        Index("ix_lots_pending", "available_at",
              postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # On PostgreSQL these two references are checked per statement, not by foreign keys (migration 0020:
    # a trigger on lots; entries are never deleted, accounts with lots are not deleted).
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    remaining: Mapped[Decimal] = mapped_column(Amount)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    matured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry: Mapped[LedgerEntry] = relationship(back_populates="lots")


class Allocation(Base):
    """How much of a lot a negative entry consumed ("spend"), or how much of a
    new lot went to pay off the account's debt ("debt", entry = the lot's own)."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_allocations_lot", "lot_id"),
        Index("ix_allocations_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # On PostgreSQL these two references are checked per statement, not by foreign keys (migration
    # 0018: a trigger on allocations, and lots and entries are never deleted).
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    kind: Mapped[str] = mapped_column(String(8), default="spend")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
