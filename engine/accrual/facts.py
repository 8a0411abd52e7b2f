"""Lines as the rules see them: one builder for API orders, quotes, SAP invoices, 1C orders and simulations.

`FactLine` carries the attribute names of `rules.facts.LineFacts` (the
vocabulary's line variables) as a tuple, because a frozen dataclass per line
costs more than evaluating it on a million-line import.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Document, Product
from rules.facts import DocumentFacts

ZERO = Decimal(0)


class FactLine(NamedTuple):
    line_id: str
    sku: str
    product_group: str
    brand: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    is_promo: bool
    product_points_per_unit: Decimal | None
    line_tags: tuple[str, ...] = ()


def fact_line(line_no: int, sku: str, product_group: str, brand: str, quantity: Decimal, unit_price: Decimal,
              line_total: Decimal, is_promo: bool = False, points_per_unit: Decimal | None = None,
              tags=None) -> FactLine:
    """One line; its id for the rules (and for returns) is its line number; ``tags``: the catalog's list."""
    return FactLine(str(line_no), sku, product_group, brand, quantity, unit_price, line_total, is_promo,
                    points_per_unit, tuple(tags) if tags else ())


def document_facts(document: Document, *, net: bool = True) -> DocumentFacts:
    """A stored document; ``net``: what its lines keep after returns and credit notes."""
    lines = []
    for line in document.lines:
        quantity = line.quantity - (line.returned_quantity if net else ZERO)
        total = line.line_total - (line.returned_total if net else ZERO)
        if net and quantity <= 0 and total <= 0:
            continue
        lines.append(fact_line(line.line_no, line.sku, line.product_group, line.brand, quantity,
                               line.unit_price, total, line.is_promo, line.points_per_unit, line.tags))
    return DocumentFacts(lines=tuple(lines), document_type=document.document_type, channel=document.channel,
                         store=document.store, currency=document.currency, placed_at=document.placed_at,
                         shipping_total=document.shipping_total, codes=tuple(document.codes or ()))


def catalog_points(session: Session, skus: Iterable[str]) -> dict[str, tuple[Decimal | None, list | None]]:
    """(points per unit [002], tags) the catalog gives each SKU (SKUs the catalog does not know are absent)."""
    skus = set(skus)
    if not skus:
        return {}
    rows = session.execute(select(Product.sku, Product.points_per_unit, Product.tags).where(Product.sku.in_(skus)))
    return {sku: (per_unit, tags) for sku, per_unit, tags in rows}


def cart_facts(session: Session, lines: Iterable, *, channel: str, store: str, currency: str,
               placed_at: datetime, shipping_total: Decimal, document_type: str = "order",
               codes: Iterable[str] = ()) -> DocumentFacts:
    """A cart not stored as a document (a quote, a redemption's cart): ``lines`` are `LineDoc`s."""
    lines = list(lines)
    catalog = catalog_points(session, (line.sku for line in lines))
    return DocumentFacts(
        lines=tuple(fact_line(l.line_no, l.sku, l.product_group, l.brand, l.quantity, l.unit_price, l.line_total,
                              l.is_promo, *catalog.get(l.sku, (None, None))) for l in lines),
        document_type=document_type, channel=channel, store=store, currency=currency, placed_at=placed_at,
        shipping_total=shipping_total, codes=tuple(codes))
