"""Domain documents: what every input (HTTP, SAP B1 file, 1C message) becomes.

Importers and API views build these plain, validated values; engine services
turn them into ledger postings. They carry no database identity, only external
keys, so the same document can arrive twice and be recognised.

Member references use the SPEC §4.1 forms: a loyalty id, ``ext:<shop user
id>``, ``erp:<ERP customer code>``, ``phone:<E.164>``, ``onec:<1C card Ид>``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal(0)

DOCUMENT_TYPES = ("order", "invoice", "correction")
CHANNELS = ("web", "phone", "pos", "erp")
ORDER_STATUSES = ("placed", "paid", "fulfilled", "cancelled", "returned")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from, for quarantine and audit (file + line, or request)."""

    source: str  # "api", "sap_b1", "1c", "cli"
    name: str = ""  # file name / integration name
    line_no: int | None = None  # 1-based physical line in the file


@dataclass(frozen=True, slots=True)
class LineDoc:
    line_no: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    name: str = ""
    product_group: str = ""
    brand: str = ""
    is_promo: bool = False
    # Corrections only: the line of the base document this line returns.
    base_line_no: int | None = None
    # Delivery and other services (1C `ТипНоменклатуры=Услуга`).
    is_service: bool = False


@dataclass(frozen=True, slots=True)
class PurchaseDoc:
    """An order, an ERP invoice, or a correction (credit note / return).

    ``external_id`` is unique per ``source``: the shop's order id, SAP's
    ``13:<DocEntry>`` (invoice) or ``14:<DocEntry>`` (credit note), 1C's ``Ид``.
    Correction amounts are positive and mean "returned".
    """

    source: str
    external_id: str
    document_type: str
    member_ref: str
    placed_at: datetime  # timezone-aware
    currency: str
    lines: tuple[LineDoc, ...]
    channel: str = "web"
    store: str = ""
    number: str = ""  # the visible number (SAP DocNum, 1C Номер): never a key
    status: str | None = None  # one of ORDER_STATUSES when the source knows it
    shipping_total: Decimal = ZERO
    base_external_id: str | None = None  # corrections: the document corrected
    cancelled: bool = False  # SAP CANCELED=Y: earns nothing, reverses what it earned
    points_spent: Decimal = ZERO  # bonus written off on this document at the source (1C)
    version: str | None = None  # source revision (1C НомерВерсии); older ones are ignored
    origin: Origin | None = None
    codes: tuple[str, ...] = ()  # promo/coupon codes the shop applied (the rules' order_codes)


@dataclass(frozen=True, slots=True)
class CustomerDoc:
    """A customer card from an ERP or 1C."""

    source: str
    external_id: str  # SAP CardCode / 1C Контрагент Ид
    name: str = ""
    phone: str | None = None  # E.164, already normalised; None when absent or invalid
    phone_raw: str = ""
    email: str | None = None
    tax_id: str = ""
    group: str = ""
    registered_at: date | None = None
    birth_date: date | None = None
    is_company: bool = False
    origin: Origin | None = None


MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_CODES = 20  # promo/coupon codes on one order
MAX_CODE_LENGTH = 64


def unique_texts(values) -> tuple[str, ...]:
    """Trimmed, without empties or repeats (case ignored, the first spelling kept)."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = str(value).strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return tuple(out)


def tags_from(values) -> tuple[str, ...]:
    """A product's tags as the rules see them (``unique_texts``). Raises ValueError naming the limit for
    more than ``MAX_TAGS`` or a tag longer than ``MAX_TAG_LENGTH`` characters."""
    out = unique_texts(values)
    for tag in out:
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"the tag {tag[:MAX_TAG_LENGTH]!r}… is longer than {MAX_TAG_LENGTH} characters")
    if len(out) > MAX_TAGS:
        raise ValueError(f"a product has at most {MAX_TAGS} tags, not {len(out)}")
    return out


@dataclass(frozen=True, slots=True)
class ProductDoc:
    """A catalog row: a product or a reward, with its price in points if redeemable."""

    source: str
    sku: str
    name: str = ""
    product_group: str = ""
    brand: str = ""
    price: Decimal | None = None
    currency: str = ""
    picture_url: str = ""
    redeemable_for_points: Decimal | None = None  # price in points; None = not a reward
    points_per_unit: Decimal | None = None  # accrual points per unit [002]
    # True: a reward (priced by redeemable_for_points, or when that is None by the program's point
    # value); False: not a reward, so a reward of this SKU is withdrawn; None: the source says nothing.
    reward: bool | None = None
    stock: int | None = None  # the reward's stock, when the file carries it
    origin: Origin | None = None
    tags: tuple[str, ...] | None = None  # labels for the rules' line_tags; None: the source says nothing


@dataclass(frozen=True, slots=True)
class WriteOffDoc:
    """Points spent at the source's side (a 1C phone order paid partly with bonus)."""

    source: str
    external_id: str  # unique per source: the idempotency key of the spend
    member_ref: str
    points: Decimal
    at: datetime
    document_external_id: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not become a document: quarantined, never dropped."""

    origin: Origin
    raw: str
    reason: str
    extra: dict = field(default_factory=dict)
