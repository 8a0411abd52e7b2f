"""Invoice and credit-note lines → whole documents, or the document's rows quarantined together.

SAP exports one row per document line, the lines of a document next to each
other. A document is applied whole or not at all: if any of its lines is bad,
or its lines disagree on a header value (date, customer, currency…), every
line is quarantined. Applying the good lines alone would post a partial
invoice that a corrected re-export could never complete (the document key is
already taken).

Row errors that know their document carry ``extra["doc_key"]``; a staging
pipeline that groups in the database can apply the same rule from that.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from engine.domain import PurchaseDoc, RowError
from importers.sap_b1.profiles import SOURCE
from importers.sap_b1.rows import InvoiceRow, SkippedRow

_HEADER_NAMES = ("DocNum", "DocDate", "CardCode", "DocCur", "CANCELED", "BaseEntry")
# InvoiceRow fields number … base_external_id: the header plus values derived from it (placed_at, member_ref).
_HEADER = slice(InvoiceRow._fields.index("number"), InvoiceRow._fields.index("base_external_id") + 1)


def describe(doc_key: str) -> str:
    kind, _, entry = doc_key.partition(":")
    return f"{'credit note' if kind == '14' else 'invoice'} {doc_key} (DocEntry {entry})"


def group_rows(rows: Iterable) -> Iterator[PurchaseDoc | RowError | SkippedRow]:
    """Group CONTIGUOUS `InvoiceRow`s of one ``doc_key`` into a `PurchaseDoc` (channel "erp").

    `SkippedRow`s and row errors without a document key pass through as they
    come. Lines of a document that reappear after another document was
    started are quarantined (the first part was already emitted): exports
    must be sorted by DocEntry. This keeps one set of document keys, so
    memory grows with the number of documents, not lines.
    """
    seen: set[str] = set()
    key: str | None = None
    lines: list[InvoiceRow] = []
    errors: list[RowError] = []
    for row in rows:
        if isinstance(row, InvoiceRow):
            row_key = row.doc_key
        elif isinstance(row, RowError) and row.extra.get("doc_key"):
            row_key = row.extra["doc_key"]
        else:
            if key is not None and isinstance(row, SkippedRow) and row.extra.get("doc_key", key) != key:
                yield from _flush(key, lines, errors)  # keep the output in file order
                key, lines, errors = None, [], []
            yield row
            continue
        if row_key != key:
            if key is not None:
                yield from _flush(key, lines, errors)
            if row_key in seen:
                yield from _split(row_key, row)
                key, lines, errors = None, [], []
                continue
            seen.add(row_key)
            key, lines, errors = row_key, [], []
        if isinstance(row, InvoiceRow):
            lines.append(row)
        else:
            errors.append(row)
    if key is not None:
        yield from _flush(key, lines, errors)


def _split(key: str, row) -> Iterator[RowError]:
    reason = (f"{describe(key)} has lines elsewhere in the file that were already processed; the lines of one "
              "document must be next to each other (sort the export by DocEntry, LineNum)")
    if isinstance(row, RowError):
        yield RowError(row.origin, row.raw, f"{row.reason}; also: {reason}", dict(row.extra))
    else:
        yield RowError(row.origin, row.raw, reason, {"doc_key": key})


def _flush(key: str, lines: list[InvoiceRow], errors: list[RowError]) -> Iterator[PurchaseDoc | RowError]:
    reason = _problem(key, lines, errors)
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


def _problem(key: str, lines: list[InvoiceRow], errors: list[RowError]) -> str | None:
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
