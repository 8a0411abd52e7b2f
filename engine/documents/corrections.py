"""Returns and credit notes: the one builder of a correction's lines from what it says it returns.

An API return names order lines and quantities (the money is prorated),
a 1C return names products and money, a SAP credit note names base lines and
money. `correction_for` turns each into lines pointing at the base document's
lines, so `orders.apply_correction` sees one shape whatever the source.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from engine.documents.errors import InvalidCorrection, UnknownLine
from engine.domain import LineDoc, PurchaseDoc
from engine.models import Document

CENT = Decimal("0.01")


class ReturnItem(NamedTuple):
    """What a return names: the base line (``line_no``) or the product (``sku``), how many, and
    optionally the money refunded (else prorated from the base line)."""

    quantity: Decimal
    line_no: int | None = None
    sku: str | None = None
    amount: Decimal | None = None
    name: str = ""


def correction_for(base: Document, items: Sequence[ReturnItem]) -> tuple[LineDoc, ...]:
    """The correction lines returning ``items`` of ``base`` (numbered 1, 2, …)."""
    by_no = {line.line_no: line for line in base.lines}
    left = {line.line_no: line.quantity - line.returned_quantity for line in base.lines}
    out = []
    for position, item in enumerate(items, start=1):
        if item.line_no is not None:
            target = by_no.get(item.line_no)
            if target is None:
                raise UnknownLine(f"{_name(base)} has no line {item.line_no}")
        else:
            target = next((line for line in base.lines
                           if line.sku == item.sku and left[line.line_no] >= item.quantity), None)
            if target is None:
                raise InvalidCorrection(
                    f"line {position} of the return ({item.name or item.sku}) is not on {_name(base)}, "
                    "or returns more than it holds")
        left[target.line_no] -= item.quantity
        amount = item.amount if item.amount is not None else _prorated(target, item.quantity)
        out.append(LineDoc(line_no=position, sku=target.sku, quantity=item.quantity, unit_price=target.unit_price,
                           line_total=amount, name=item.name, base_line_no=target.line_no))
    return tuple(out)


def _prorated(line, quantity: Decimal) -> Decimal:
    """The money of ``quantity`` of ``line``; the return that takes its last units takes the rest."""
    if not line.quantity:
        return line.line_total - line.returned_total
    if quantity + line.returned_quantity >= line.quantity:
        return line.line_total - line.returned_total
    return (line.line_total * quantity / line.quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def with_base_lines(base: Document | None, doc: PurchaseDoc) -> PurchaseDoc:
    """A correction whose lines name products rather than base lines (1C), pointed at the base's lines;
    lines that already name theirs are kept as they are (SAP's BaseLine)."""
    if base is None or all(line.base_line_no is not None for line in doc.lines):
        return doc
    items = [ReturnItem(quantity=line.quantity, line_no=line.base_line_no,
                        sku=line.sku if line.base_line_no is None else None, amount=line.line_total, name=line.name)
             for line in doc.lines]
    lines = [replace(line, base_line_no=built.base_line_no)
             for line, built in zip(doc.lines, correction_for(base, items), strict=True)]
    return replace(doc, lines=tuple(lines))


def _name(base: Document) -> str:
    return f"order {base.external_id}" if base.document_type == "order" else f"document {base.external_id}"
