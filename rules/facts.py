"""The facts a rule document is evaluated against: plain, immutable, database-free.

These dataclasses are the contract between `engine/` (which builds them from
members, orders and invoices) and `rules/` (which evaluates policies on them).
Every field name that is also a rule variable keeps the SPEC §3 name.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LineFacts:
    """One document line, as the line-scope variables see it."""

    line_id: str
    sku: str = ""
    product_group: str = ""
    brand: str = ""
    quantity: Decimal = Decimal(1)
    unit_price: Decimal = ZERO
    line_total: Decimal = ZERO
    is_promo: bool = False
    # Points per unit from the catalog [002]; None when the product has none.
    product_points_per_unit: Decimal | None = None
    # The product's labels from the catalog (the ``line_tags`` variable); none when it has none.
    line_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """A purchase (order, invoice or correction) with its lines."""

    lines: tuple[LineFacts, ...]
    document_type: str = "order"  # order | invoice | correction
    channel: str = "web"  # web | phone | pos | erp
    store: str = ""
    currency: str = "PLN"
    placed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    shipping_total: Decimal = ZERO
    # Promo/coupon codes the shop applied to the order (the ``order_codes`` variable).
    codes: tuple[str, ...] = ()

    @property
    def order_total(self) -> Decimal:
        """Sum of line totals: net of returns, before points, without shipping."""
        return sum((line.line_total for line in self.lines), ZERO)


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """The member-scope variables. Snapshotted with every accrual so that a
    later recompute (return, credit note) sees the member as it was."""

    member_group: str = ""
    tier: str = ""
    days_since_registration: int = 0
    orders_count: int = 0
    turnover_12m: Decimal = ZERO
    is_birthday: bool = False
    referral_count: int = 0
    points_balance: Decimal = ZERO

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Decimal):
                data[key] = str(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MemberFacts:
        if not data:
            return cls()
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in ("turnover_12m", "points_balance"):
                value = Decimal(str(value))
            elif f.name in ("days_since_registration", "orders_count", "referral_count"):
                value = int(value)
            elif f.name == "is_birthday":
                value = bool(value)
            else:
                value = str(value) if value is not None else ""
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class EventFacts:
    """A member event (registration, review, subscription, social share,
    birthday, referral, custom) with its free-form attributes."""

    event_type: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # This member's earlier awarded events of the same type, per period of the
    # program time zone (weeks start on Monday): what per-period limits compare.
    events_today: int = 0
    events_this_week: int = 0
    events_this_month: int = 0
    events_this_year: int = 0
    events_total: int = 0
    # Referral policy: the referrer's referral rewards this calendar month (a cap).
    referrals_this_month: int = 0


@dataclass(frozen=True, slots=True)
class LotFacts:
    """What the expiry policy may look at when it decides a lot's lifetime."""

    entry_kind: str  # accrual, bonus, referral, promo_code, adjustment, refund…
    available_at: datetime
    channel: str = ""
    document_type: str = ""
