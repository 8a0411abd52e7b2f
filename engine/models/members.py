"""Members, companies and their point accounts."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Amount, Base, BigId, JSONDoc, UTCDateTime, utcnow

MEMBER_STATUSES = ("active", "blocked")


class Account(Base):
    """What points belong to: one per person, or one per company shared by its members.

    ``debt`` is the part of reversals not covered by lots (points already
    spent when an order was returned); new points pay it off first.
    The row is also the lock that serialises every write to the account.
    """

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("debt >= 0", name="debt_not_negative"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(16))  # member | company
    debt: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Company(Base):
    """A B2B customer whose employees earn into and spend from one account [003]."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    erp_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    tax_id: Mapped[str] = mapped_column(String(32), default="")
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        Index("ix_members_account", "account_id"),
        Index("ix_members_name", "name"),
        Index("ix_members_email", "email"),
        # The 1C exchange sends profiles changed since its last confirmed query.
        Index("ix_members_updated", "updated_at"),
        # The dashboard's member counts (migration 0016).
        Index("ix_members_live_status", "status", postgresql_where=text("merged_into_id IS NULL"),
              sqlite_where=text("merged_into_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loyalty_id: Mapped[str] = mapped_column(String(32), unique=True)
    ext_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    erp_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    group: Mapped[str] = mapped_column("member_group", String(64), default="")
    tier: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    referral_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    attributes: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()
    company: Mapped[Company | None] = relationship()


class MemberCard(Base):
    """An external customer card (a 1C Контрагент) that resolves to a member.

    Several cards may point at one member: that is how duplicate 1C cards with
    one phone number become one member [004]. ``name`` and ``email`` are what
    the source last sent for this card (``email`` None: not known yet), so each
    card is answered with its own values, not with whichever card came last.
    """

    __tablename__ = "member_cards"
    __table_args__ = (UniqueConstraint("source", "card_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    card_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone_raw: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
