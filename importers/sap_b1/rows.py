"""Invoice and credit-note rows: one CSV record of a SAP B1 document export → an `InvoiceRow`, a skip, or an error.

Each ``*_mapper(profile, index, name)`` returns ``map_row(line_no, raw, fields)``;
the generic pipeline (reader.py, which holds the ``MAPPERS`` of every kind)
calls it for every record and turns a raised `BadValue` into a quarantined
`RowError`. Column positions are resolved once, so the per-row work is a few
list lookups and conversions. Customer and catalog rows are in `card_rows`.

Decisions taken here (SAP documents none of them; README, "What happens to each kind"):

- ``CANCELED=C`` marks the *cancelling* document SAP creates when an invoice
  is cancelled. An export of "documents created yesterday" carries it alone,
  without the original re-sent as ``CANCELED=Y``. When its lines name the
  original (``BaseType=13``, ``BaseEntry``), the C document becomes a
  ``document_type="cancellation"`` row keyed by its own DocEntry, whose
  ``base_external_id`` is the original: applying it cancels the original
  (once; a ``Y`` of the original arriving before or after changes nothing
  more). A C row that names no original (the export lacks the columns, or a
  cancelled credit note) is skipped (`SkippedRow`): then only the original
  re-exported with ``Y`` can reverse its points.
- Keys and line numbers are ASCII digits only (``²`` is ``isdigit()`` but not
  a number), whole-number keys lose their leading zeros, and a line number
  has at most 9 digits (it is stored as a 32-bit integer).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from engine.domain import LineDoc, Origin
from importers.sap_b1.profiles import SOURCE, Profile
from importers.sap_b1.values import (
    CANCEL_STATUS,
    DOC_TYPE,
    BadValue,
    make_date_parser,
    make_decimal_parser,
    make_local_midnight,
)

INVOICE_TYPE, CREDIT_NOTE_TYPE = "13", "14"


class InvoiceRow(NamedTuple):
    """One line of an invoice or credit note, standing alone (staged per row, grouped later).

    Flat and immutable: building a frozen `LineDoc` and `Origin` for each of a
    million lines would cost more than parsing them, and a staging pipeline
    copies these fields into the database anyway. ``line`` and ``origin``
    build the domain values on access.
    """

    doc_key: str  # "13:<DocEntry>" / "14:<DocEntry>" = PurchaseDoc.external_id
    document_type: str  # "invoice" | "correction" | "cancellation" (CANCELED=C naming its original)
    number: str  # DocNum: shown to people, never a key
    doc_date: date
    placed_at: datetime  # the document date at local midnight, aware UTC
    card_code: str
    member_ref: str  # "erp:<CardCode>"
    currency: str
    cancelled: bool  # CANCELED=Y
    base_external_id: str | None  # credit notes and cancellations: "13:<BaseEntry>"
    line_no: int  # LineNum
    sku: str
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    name: str
    product_group: str
    brand: str
    base_line_no: int | None  # credit notes: BaseLine
    is_service: bool
    file_name: str
    file_line: int  # 1-based physical line in the file
    raw: str

    @property
    def line(self) -> LineDoc:
        return LineDoc(self.line_no, self.sku, self.quantity, self.unit_price, self.line_total, self.name,
                       self.product_group, self.brand, False, self.base_line_no, self.is_service)

    @property
    def origin(self) -> Origin:
        return Origin(SOURCE, self.file_name, self.file_line)

    @property
    def header(self) -> tuple:
        """The document-level values every line of one document must agree on."""
        return (self.number, self.doc_date, self.card_code, self.currency, self.cancelled,
                self.base_external_id)


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A well-formed row that deliberately imports nothing (a supplier card, a cancelling document)."""

    origin: Origin
    raw: str
    reason: str
    extra: dict = field(default_factory=dict)


Mapper = Callable[[int, str, list], object]


def column_reader(index: Mapping[str, int | None]):
    """``text(fields, logical)``: the stripped value of a logical column, "" when the export lacks it."""
    def text(fields: list[str], logical: str) -> str:
        at = index.get(logical)
        return fields[at].strip() if at is not None else ""
    return text


MAX_LINE_DIGITS = 9  # LineNum and BaseLine are stored as 32-bit integers


def is_number(value: str) -> bool:
    """ASCII digits only: ``"²".isdigit()`` is true, yet ``int("²")`` fails."""
    return value.isdigit() and value.isascii()


def document_key(value: str) -> str:
    """Whole-number keys lose leading zeros (Excel drops them anyway), so re-exports still match.

    Never through ``int()``: a key of thousands of digits is text like any other.
    """
    return (value.lstrip("0") or "0") if is_number(value) else value



def _line_number(value: str, column: str) -> int:
    if not is_number(value) or len(value.lstrip("0")) > MAX_LINE_DIGITS:
        raise BadValue(f'bad line number "{value}" in column {column} (expected a whole number of at most '
                       f"{MAX_LINE_DIGITS} digits)" if value else f"missing {column}")
    return int(value)


def document_mapper(profile: Profile, index: Mapping[str, int | None], name: str) -> Mapper:
    """Invoices (OINV/INV1) and credit notes (ORIN/RIN1): one row per document line."""
    credit = profile.kind == "credit_notes"
    obj_type = CREDIT_NOTE_TYPE if credit else INVOICE_TYPE
    document_type = "correction" if credit else "invoice"
    h = profile.columns
    number = make_decimal_parser(profile.decimal_separator)
    parse_date = make_date_parser(profile.date_formats)
    midnight = make_local_midnight(profile.timezone)
    default_currency = profile.currency
    i_entry, i_date, i_card, i_line = (index[k] for k in ("doc_entry", "doc_date", "card_code", "line_num"))
    i_item, i_qty, i_total = index["item_code"], index["quantity"], index["line_total"]
    i_price, i_cancel, i_doctype, i_obj = (index.get(k) for k in ("price", "cancelled", "doc_type", "obj_type"))
    i_num, i_cur, i_desc, i_group, i_brand = (
        index.get(k) for k in ("doc_num", "currency", "description", "item_group", "brand"))
    h_qty, h_total, h_price = h["quantity"], h["line_total"], h["price"]
    new_row = tuple.__new__  # InvoiceRow without its Python-level __new__: this runs a million times

    last = ["", ""]  # the previous row's DocEntry and key: lines of a document come together
    dates: dict[str, tuple] = {}  # DocDate text → (date, placed_at); a file has few distinct dates

    def map_row(line_no: int, raw: str, fields: list[str]):
        entry = fields[i_entry].strip()
        if not entry:
            raise BadValue(f"missing key {h['doc_entry']}")
        if entry == last[0]:
            doc_key = last[1]
        else:
            doc_key = last[1] = f"{obj_type}:{document_key(entry)}"
            last[0] = entry
        try:
            if i_cancel is None:
                status = "N"
            else:
                status = fields[i_cancel]
                if status != "N" and status != "Y":
                    status = CANCEL_STATUS(status, h["cancelled"])
            if i_obj is not None and document_key(fields[i_obj].strip()) != obj_type:
                raise BadValue(f'{h["obj_type"]} is "{fields[i_obj].strip()}" but a {profile.kind} file holds '
                               f"only object type {obj_type}")
            cancelling = status == "C"
            if cancelling:
                original = None if credit else _cancelled_original(fields, index, h)
                if original is None:
                    return SkippedRow(Origin(SOURCE, name, line_no), raw,
                                      f"{doc_key} is the cancelling document SAP creates (CANCELED=C) and names "
                                      "no original invoice (BaseType 13, BaseEntry); the cancelled original "
                                      "(CANCELED=Y) carries the reversal", {"doc_key": doc_key})
            when = dates.get(fields[i_date])
            if when is None:
                day = parse_date(fields[i_date], h["doc_date"])
                if day is None:
                    raise BadValue(f"missing {h['doc_date']}")
                when = dates[fields[i_date]] = (day, midnight(day))
            card = fields[i_card].strip()
            if not card:
                raise BadValue(f"missing key {h['card_code']}")
            is_service = i_doctype is not None and DOC_TYPE(fields[i_doctype], h["doc_type"]) == "S"
            sku = fields[i_item].strip()
            if not sku and not is_service:
                raise BadValue(f"missing key {h['item_code']}")
            quantity = number(fields[i_qty], h_qty)
            if quantity is None:
                raise BadValue(f"missing {h_qty}")
            line_total = number(fields[i_total], h_total)
            if line_total is None:
                raise BadValue(f"missing {h_total}")
            if i_price is not None:
                price = number(fields[i_price], h_price)
                if price is None:
                    raise BadValue(f"missing {h_price}")
            else:  # the profile says the export has no Price
                price = (line_total / quantity).quantize(Decimal("0.0001")) if quantity else line_total
            line_num = _line_number(fields[i_line].strip(), h["line_num"])
            base_id = base_line = None
            if credit:
                base_id, base_line = _base(fields, index, h)
            elif cancelling:
                base_id = original
            currency = fields[i_cur].strip().upper() if i_cur is not None else ""
            kind = "cancellation" if cancelling else document_type
            return new_row(InvoiceRow, (
                doc_key, kind, fields[i_num].strip() if i_num is not None else "", when[0], when[1],
                card, "erp:" + card, currency or default_currency, status == "Y", base_id, line_num, sku,
                quantity, price, line_total, fields[i_desc].strip() if i_desc is not None else "",
                fields[i_group].strip() if i_group is not None else "",
                fields[i_brand].strip() if i_brand is not None else "", base_line, is_service, name, line_no, raw))
        except BadValue as exc:
            exc.extra.setdefault("doc_key", doc_key)
            raise

    return map_row


def _base(fields: list[str], index: Mapping[str, int | None], h: Mapping[str, str | None]) -> tuple[str, int]:
    i_type = index.get("base_type")
    base_type = fields[i_type].strip() if i_type is not None else ""
    entry = fields[index["base_entry"]].strip()
    if base_type in ("-1", "") and not entry:
        raise BadValue("the credit note line does not refer to an invoice line (no "
                       f"{h['base_entry']}), so the points to take back are unknown")
    if base_type and document_key(base_type) != INVOICE_TYPE:
        raise BadValue(f'{h["base_type"]} is "{base_type}": the credit note line corrects a document '
                       "that is not an invoice (13)")
    if not is_number(entry):
        raise BadValue(f'bad {h["base_entry"]} "{entry}" (expected the invoice DocEntry)' if entry
                       else f"missing {h['base_entry']}")
    line = _line_number(fields[index["base_line"]].strip(), h["base_line"])
    return f"{INVOICE_TYPE}:{document_key(entry)}", line


def _cancelled_original(fields: list[str], index: Mapping[str, int | None],
                        h: Mapping[str, str | None]) -> str | None:
    """The invoice a cancelling (C) invoice line names by BaseType 13 and BaseEntry, or None when it names none."""
    i_type, i_entry = index.get("base_type"), index.get("base_entry")
    entry = fields[i_entry].strip() if i_entry is not None else ""
    base_type = fields[i_type].strip() if i_type is not None else ""
    if not entry or base_type in ("-1",):
        return None
    if base_type and document_key(base_type) != INVOICE_TYPE:
        raise BadValue(f'{h["base_type"]} is "{base_type}": a cancelling invoice names an invoice (13) as the '
                       "document it cancels")
    if not is_number(entry):
        raise BadValue(f'bad {h["base_entry"]} "{entry}" (expected the DocEntry of the cancelled invoice)')
    return f"{INVOICE_TYPE}:{document_key(entry)}"
