"""The product and reward catalog (from the ERP, 1C or the admin)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Amount, Base, BigId, JSONDoc, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    product_group: Mapped[str] = mapped_column(String(64), default="")
    brand: Mapped[str] = mapped_column(String(64), default="")
    price: Mapped[Decimal | None] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3), default="")
    picture_url: Mapped[str] = mapped_column(String(500), default="")
    # Price in points when the product is also a reward [000][002].
    points_price: Mapped[Decimal | None] = mapped_column(Amount)
    # Points earned per unit bought [002].
    points_per_unit: Mapped[Decimal | None] = mapped_column(Amount)
    # Labels for the rules' line_tags (eco, new…): a list of texts; NULL when none.
    tags: Mapped[list | None] = mapped_column(JSONDoc)
    source: Mapped[str] = mapped_column(String(16), default="admin")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProductGroup(Base):
    __tablename__ = "product_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    parent_code: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="admin")
