"""Invoice and credit-note lines of one document → a whole `PurchaseDoc`, or all its rows quarantined together.

SAP exports one row per document line. A document is applied whole or not
at all: if any of its lines is bad, or its lines disagree on a header value
(date, customer, currency…), every line is quarantined. Applying the good
lines alone would post a partial invoice that a corrected re-export could
never complete (the document key is already taken).

The lines are gathered by document key in the database (the pipeline's
staging: row errors that know their document carry ``extra["doc_key"]``),
so the lines of a document need not be next to each other in the file;
each chunk then calls `whole_document` per key.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from engine.domain import PurchaseDoc, RowError
from importers.sap_b1.profiles import SOURCE
from importers.sap_b1.rows import InvoiceRow

_HEADER_NAMES = ("DocNum", "DocDate", "CardCode", "DocCur", "CANCELED", "BaseEntry")
# InvoiceRow fields number … base_external_id: the header plus values derived from it (placed_at, member_ref).
_HEADER = slice(InvoiceRow._fields.index("number"), InvoiceRow._fields.index("base_external_id") + 1)


def describe(doc_key: str) -> str:
    kind, _, entry = doc_key.partition(":")
    return f"{'credit note' if kind == '14' else 'invoice'} {doc_key} (DocEntry {entry})"


def whole_document(key: str, lines: list[InvoiceRow],
                   errors: list[RowError]) -> Iterator[PurchaseDoc | RowError]:
    """The document of ``key`` (channel "erp"), or, when it is held back, every one of its rows as a RowError."""
    reason = held_back_reason(key, lines, errors)
    if reason is not None:
        yield from errors
        for line in lines:
            yield RowError(line.origin, line.raw, reason, {"doc_key": key})
        return
    first = lines[0]
    invoice = first.document_type == "invoice"
    yield PurchaseDoc(
        source=SOURCE, external_id=key, document_type=first.document_type, member_ref=first.member_ref,
        placed_at=first.placed_at, currency=first.currency, lines=tuple(r.line for r in lines), channel="erp",
        number=first.number, status="cancelled" if first.cancelled else ("fulfilled" if invoice else None),
        base_external_id=first.base_external_id, cancelled=first.cancelled, origin=first.origin)


def held_back_reason(key: str, lines: list[InvoiceRow], errors: list[RowError]) -> str | None:
    """Why the document of ``key`` cannot be applied whole (a bad line, lines that disagree), or None."""
    if errors:
        where = ", ".join(str(e.origin.line_no) for e in errors[:5])
        return (f"{describe(key)} is held back as a whole because its line(s) on file line {where} could not "
                f"be read: {errors[0].reason}")
    head = lines[0][_HEADER]  # a tuple slice: cheap enough for every line of a million
    for line in lines[1:]:
        if line[_HEADER] == head:
            continue
        for name, a, b in zip(_HEADER_NAMES, lines[0].header, line.header):
            if a != b and name == "BaseEntry":
                return (f"{describe(key)} corrects lines of more than one invoice ({a} on file line "
                        f"{lines[0].origin.line_no}, {b} on file line {line.origin.line_no}); a correction "
                        "can refer to one invoice only")
            if a != b:
                return (f"the lines of {describe(key)} disagree on {name} ({_show(a)} on file line "
                        f"{lines[0].origin.line_no}, {_show(b)} on file line {line.origin.line_no})")
    if len(lines) == 1:
        return None
    numbers = Counter(line.line_no for line in lines)
    if len(numbers) != len(lines):
        twice = sorted(n for n, count in numbers.items() if count > 1)
        return f"{describe(key)} has LineNum {', '.join(map(str, twice))} more than once"
    return None


def _show(value) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    return f'"{value}"' if value not in (None, "") else "empty"
