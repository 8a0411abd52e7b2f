"""Promo-code batches and their single-use codes (the paint-can stickers [001]).

The database keeps a code unique across all batches and lets it be redeemed
once: redemption is ``UPDATE … WHERE redeemed_at IS NULL``, so of any number
of concurrent attempts exactly one changes the row.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Amount, Base, BigId, UTCDateTime, utcnow


class PromoBatch(Base):
    """A batch of codes: generated from ``pattern`` or imported (pattern None)."""

    __tablename__ = "promo_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    pattern: Mapped[str | None] = mapped_column(String(64))
    # None: the `event` policy decides, for an event of type ``promo_code``.
    points: Mapped[Decimal | None] = mapped_column(Amount)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    code_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PromoCode(Base):
    __tablename__ = "promo_codes"
    __table_args__ = (Index("ix_promo_codes_batch_id_id", "batch_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("promo_batches.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
