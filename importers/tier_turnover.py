"""Historical turnover CSV (a shop migrating its customers' past purchases [003]): bytes → rows.

Header row with the columns ``member`` (a member ref: loyalty id, ``ext:…``,
``erp:…``, ``phone:…``), ``period`` (``YYYY-MM`` for a month, or a day as
``YYYY-MM-DD``, ``DD.MM.YYYY`` or ``YYYYMMDD``) and ``amount`` (money, decimal
point or comma, 0 or more). Encoding and separator are detected as for ERP
files (``importers.textio``). A bad row comes back with its line, raw text
and reason, for the caller to quarantine; a file that cannot be read at all
raises ``TextFileError``.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from engine.engagement import turnover
from importers.sap_b1.values import BadValue, make_date_parser, make_decimal_parser
from importers.textio import TextFileError, detect_encoding, open_text, read_records, sniff_delimiter

COLUMNS = ("member", "period", "amount")
MAX_AMOUNT = Decimal("1e12")
MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class TurnoverRow:
    line_no: int
    raw: str
    member_ref: str
    period: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class BadRow:
    line_no: int
    raw: str
    reason: str


_day = make_date_parser(("iso", "%d.%m.%Y", "%Y%m%d"))


def _period(text: str) -> date:
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        year, month = int(text[:4]), int(text[5:])
        if 1900 <= year <= 2199 and 1 <= month <= 12:
            return date(year, month, 1)
        raise BadValue(f"period {text!r} is not a month (YYYY-MM)")
    found = _day(text, "period")
    if found is None:
        raise BadValue("period is empty; give YYYY-MM or a day")
    return found


def read(data: bytes, *, today: date) -> tuple[list[TurnoverRow], list[BadRow]]:
    """The good rows and the bad ones of a turnover file (periods after ``today`` are bad)."""
    stream = io.BytesIO(data)
    text = open_text(stream, detect_encoding(stream))
    header_line = text.readline()
    if not header_line.strip():
        raise TextFileError("The file is empty: it needs a header row with member, period and amount.")
    delimiter = sniff_delimiter(header_line, expected=COLUMNS)
    header = [h.strip().lower() for h in next(read_records(io.StringIO(header_line), delimiter)).fields]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise TextFileError(f"The header lacks the column(s) {', '.join(missing)}; "
                            f"expected {', '.join(COLUMNS)}.")
    where = {c: header.index(c) for c in COLUMNS}
    amount_of = make_decimal_parser("." if delimiter == "," else ",")
    dot_amount = make_decimal_parser(".")
    good: list[TurnoverRow] = []
    bad: list[BadRow] = []
    for record in read_records(text, delimiter, start_line=2):
        if len(good) + len(bad) >= MAX_ROWS:
            raise TextFileError(f"The file has more than {MAX_ROWS} rows; split it.")
        if record.error:
            bad.append(BadRow(record.line_no, record.raw, record.error))
            continue
        fields = record.fields
        try:
            if len(fields) != len(header):
                raise BadValue(f"the row has {len(fields)} fields, the header {len(header)}")
            ref = fields[where["member"]].strip()
            if not ref:
                raise BadValue("member is empty")
            period = _period(fields[where["period"]].strip())
            if period > today:
                raise BadValue(f"period {period.isoformat()} is in the future")
            raw_amount = fields[where["amount"]].strip()
            try:
                amount = amount_of(raw_amount, "amount")
            except BadValue:
                amount = dot_amount(raw_amount, "amount") if delimiter != "," else None
                if amount is None:
                    raise
            if amount is None:
                raise BadValue("amount is empty")
            if amount < 0 or amount >= MAX_AMOUNT:
                raise BadValue(f"amount {raw_amount!r} must be 0 or more and below {MAX_AMOUNT:,.0f}")
        except BadValue as exc:
            bad.append(BadRow(record.line_no, record.raw, str(exc)))
            continue
        good.append(TurnoverRow(record.line_no, record.raw, ref, period, amount))
    return good, bad


def import_file(session, data: bytes, *, filename: str, actor: str, now, tz):
    """Parse and store a turnover file through one import run; returns (run, created).
    The same bytes again find the first run and change nothing."""
    good, bad = read(data, today=now.astimezone(tz).date())
    return turnover.record(session, filename=filename, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                           rows=good, bad_rows=bad, actor=actor, now=now)
