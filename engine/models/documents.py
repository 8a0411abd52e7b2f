"""Purchase documents (orders, ERP invoices, corrections) and their lines."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Amount, Base, BigId, JSONDoc, UTCDateTime, utcnow


class Document(Base):
    """A purchase as the loyalty program sees it.

    ``earned`` is the net of every accrual and reversal entry posted for it;
    ``policy_version_id`` and ``member_snapshot`` pin what the first accrual
    used, so a later return or credit note recomputes under the same terms.
    """

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_documents_member_placed", "member_id", "placed_at"),
        Index("ix_documents_base", "base_document_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(100))
    document_type: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(64), default="")
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(16), default="web")
    store: Mapped[str] = mapped_column(String(64), default="")
    currency: Mapped[str] = mapped_column(String(3))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="placed")
    total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))  # net of returns
    shipping_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    base_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    version: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    earned: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    # Reversals the program gave up collecting (negative balance not allowed).
    absorbed: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    accrued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    member_snapshot: Mapped[dict | None] = mapped_column(JSONDoc)
    # The promo/coupon codes the shop applied (a list of texts); NULL when none.
    codes: Mapped[list | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lines: Mapped[list[DocumentLine]] = relationship(
        back_populates="document", order_by="DocumentLine.line_no")

    # Not a column. On a document this transaction created (`record_purchase`): its Member, held so the
    # answer reads it back without a query (the identity map holds objects weakly); it also tells that
    # every lot of the document is this transaction's (`ledger.document_pending`).
    fresh_member = None


class DocumentLine(Base):
    __tablename__ = "document_lines"
    __table_args__ = (UniqueConstraint("document_id", "line_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # On PostgreSQL checked per statement, not by a foreign key (migration 0020: a trigger on document_lines;
    # a document with lines is not deleted).
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    product_group: Mapped[str] = mapped_column(String(64), default="")
    brand: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[Decimal] = mapped_column(Amount)
    unit_price: Mapped[Decimal] = mapped_column(Amount)
    line_total: Mapped[Decimal] = mapped_column(Amount)
    is_promo: Mapped[bool] = mapped_column(Boolean, default=False)
    points_per_unit: Mapped[Decimal | None] = mapped_column(Amount)
    # The product's catalog tags when the line was recorded (a list of texts); NULL when none.
    tags: Mapped[list | None] = mapped_column(JSONDoc)
    # Corrections: the base document's line this line returns.
    base_line_no: Mapped[int | None] = mapped_column(Integer)
    returned_quantity: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    returned_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    # What the line earned at the last evaluation, before document rules and rounding.
    points: Mapped[Decimal | None] = mapped_column(Amount)

    document: Mapped[Document] = relationship(back_populates="lines")


class Redemption(Base):
    """Points spent on an order (or a reward), refundable by cancellation."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    order_external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    points: Mapped[Decimal] = mapped_column(Amount)
    value: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="active")
    details: Mapped[dict | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Not a column. On a redemption this transaction made: the Member who spent, held so the answer
    # reads it back without a query (the identity map holds objects weakly).
    fresh_member = None
