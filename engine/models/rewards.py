"""The reward catalog, reward orders with their status history, and the pictures we keep [000][003].

The database keeps stock from going below zero (a CHECK, and the one
conditional ``UPDATE … WHERE stock >= n`` that takes it), a reward order id
unique, and the points of an order in the ledger through its redemption row.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Amount, Base, BigId, JSONDoc, UTCDateTime, utcnow


class Reward(Base):
    """A catalog item bought with points; ``stock`` None means not counted (a voucher, a trip)."""

    __tablename__ = "rewards"
    __table_args__ = (CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    price: Mapped[Decimal | None] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3), default="")
    points_price: Mapped[Decimal] = mapped_column(Amount)
    # True: an operator set the points price by hand; the daily catalog no longer converts it.
    points_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    stock: Mapped[int | None] = mapped_column(Integer)
    picture_url: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="admin")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RewardPicture(Base):
    """The picture of a reward as we fetched and keep it (served from our URL)."""

    __tablename__ = "reward_pictures"

    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id", ondelete="CASCADE"), primary_key=True)
    source_url: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | stored | failed
    content_type: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    fetched_url: Mapped[str | None] = mapped_column(String(500))  # where ``data`` came from
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RewardOrder(Base):
    __tablename__ = "reward_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))  # who ordered
    recipient_id: Mapped[int] = mapped_column(ForeignKey("members.id"))  # who receives [003]
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemptions.id"), unique=True)
    points: Mapped[Decimal] = mapped_column(Amount)
    address: Mapped[dict] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(16), default="placed", index=True)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[RewardOrderItem]] = relationship(order_by="RewardOrderItem.id")
    history: Mapped[list[RewardOrderStatus]] = relationship(order_by="RewardOrderStatus.id")


class RewardOrderItem(Base):
    __tablename__ = "reward_order_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("reward_orders.id", ondelete="CASCADE"), index=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_points: Mapped[Decimal] = mapped_column(Amount)


class RewardOrderStatus(Base):
    """One status a reward order went through: who set it, when, and why."""

    __tablename__ = "reward_order_statuses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("reward_orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
