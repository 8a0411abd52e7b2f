"""Cell values of ERP files: exact decimals, dates and SAP enums, refused with a reason rather than guessed.

Every converter raises `BadValue` with a sentence an operator can act on; the
row pipeline turns it into a quarantined `RowError`. The hot paths (a plain
``12,50``, a date already seen) avoid regular expressions and ``strptime``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

ISO = "iso"
_GROUPING = " \xa0\u202f"  # space, no-break space, narrow no-break space
_TIME_PART = re.compile(r"[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?", re.ASCII)
# Excel's "General" format shows at most 6 significant digits in scientific
# notation, rounding the rest; a shorter mantissa was not rounded.
_EXCEL_SIGNIFICANT = 6
# Dates a loyalty document can mean: far enough out that lifetimes of 100 years and time zone shifts stay
# inside what datetime holds (year 1 at local midnight is in year 0 in UTC, which does not exist).
MIN_YEAR, MAX_YEAR = 1900, 2199


class BadValue(ValueError):
    """A cell that cannot be used; the message names the column and the value."""

    def __init__(self, message: str, extra: dict | None = None):
        super().__init__(message)
        self.extra = extra or {}


def make_decimal_parser(decimal_separator: str = ",", cache_size: int = 8192) -> Callable[[str, str], Decimal | None]:
    """Return ``parse(text, column) -> Decimal | None`` for one decimal separator ("," or ".").

    Accepted: ``12``, ``-12,50``, ``1 234,50`` (space, no-break space or the
    other separator grouping thousands), and scientific notation when its
    mantissa is too short to have been rounded. Refused: ``12,3,4``,
    ``1234.50`` with a decimal comma, and ``1.234`` (thousands or decimals?).
    Results are cached per text while that pays (quantities and prices repeat
    a lot, line totals hardly).
    """
    if decimal_separator not in (",", "."):
        raise ValueError("decimal separator must be ',' or '.'")
    dec = decimal_separator
    other = "." if dec == "," else ","
    comma = dec == ","
    sep = re.escape(dec)
    plain = re.compile(rf"[+-]?\d*{sep}?\d+", re.ASCII)
    grouped = re.compile(rf"[+-]?\d{{1,3}}([{_GROUPING}{re.escape(other)}])\d{{3}}(?:\1\d{{3}})*(?:{sep}\d+)?",
                         re.ASCII)
    scientific = re.compile(rf"([+-]?)(\d+)(?:{sep}(\d+))?[eE]([+-]?\d{{1,3}})", re.ASCII)
    cache: dict[str, Decimal] = {}
    hits, caching = 0, True

    def parse(text: str, column: str) -> Decimal | None:
        nonlocal hits, caching
        if caching:
            found = cache.get(text)
            if found is not None:
                hits += 1
                return found
        else:
            found = None
        value = text.strip(" \xa0\u202f\t")
        if not value:
            return None
        if other not in value:  # the common cases first: 12, 12,50, 1 234,50
            point = value.replace(",", ".", 1) if comma else value
            digits = point.replace(".", "", 1)
            if digits.isdigit() and digits.isascii():
                found = Decimal(point)
            elif " " in value and grouped.fullmatch(value):
                found = Decimal(point.replace(" ", ""))
        if found is None:
            found = _slow(text, value, column)
        if caching:
            if len(cache) >= cache_size:
                caching = hits >= cache_size  # values barely repeat (line totals): stop caching them
                hits = 0
                cache.clear()
            cache[text] = found
        return found

    def _slow(text: str, value: str, column: str) -> Decimal:
        if plain.fullmatch(value):
            return Decimal(value.replace(",", ".") if comma else value)
        match = grouped.fullmatch(value)
        if match:
            group_char = match.group(1)
            if group_char == other and dec not in value and value.count(other) == 1:
                raise BadValue(
                    f'ambiguous number "{text}" in column {column}: with the decimal separator '
                    f"'{dec}', '{other}' can only group thousands, but it could also be a decimal point")
            compact = value.replace(group_char, "")
            return Decimal(compact.replace(",", ".") if comma else compact)
        match = scientific.fullmatch(value)
        if match:
            sign, whole, fraction, exponent = match.groups()
            significant = (whole + (fraction or "")).lstrip("0").rstrip("0")
            if len(significant) >= _EXCEL_SIGNIFICANT:
                raise BadValue(
                    f'number "{text}" in column {column} is in scientific notation and may have been rounded '
                    "(by Excel?); export the column as a plain number")
            number = Decimal(f"{sign}{whole}{'.' + fraction if fraction else ''}E{exponent}")
            return Decimal(format(number, "f"))
        hint = ""
        if other in value and dec not in value:
            hint = f" (the profile's decimal separator is '{dec}')"
        raise BadValue(f'unparseable number "{text}" in column {column}{hint}')

    return parse


def make_date_parser(formats: tuple[str, ...], cache_size: int = 4096) -> Callable[[str, str], date | None]:
    """Return ``parse(text, column) -> date | None`` trying ``formats`` in order (``"iso"`` = ISO 8601).

    A midnight time part (``2024-01-15 00:00:00.000`` from SQL saved queries) is
    accepted and dropped; any other time is refused: SAP document dates have none.
    """
    cache: dict[str, date] = {}

    def convert(value: str) -> date | None:
        core = value
        for at in (value.find(" "), value.find("T")):
            if at > 0:
                clock = _TIME_PART.fullmatch(value, at)
                if clock is None or any((part or "").strip("0") for part in clock.groups()):
                    return None
                core = value[:at]
                break
        for fmt in formats:
            try:
                if fmt == ISO:
                    return date.fromisoformat(core)
                return datetime.strptime(core, fmt).date()
            except ValueError:
                continue
        return None

    def parse(text: str, column: str) -> date | None:
        value = text.strip()
        if not value:
            return None
        found = cache.get(value)
        if found is not None:
            return found
        found = convert(value)
        if found is None:
            shown = ", ".join(describe_date_format(f) for f in formats)
            raise BadValue(f'bad date "{text}" in column {column} (expected one of: {shown})')
        if not MIN_YEAR <= found.year <= MAX_YEAR:
            raise BadValue(f'date "{text}" in column {column} is outside the years {MIN_YEAR}–{MAX_YEAR}')
        if len(cache) >= cache_size:
            cache.clear()
        cache[value] = found
        return found

    return parse


def describe_date_format(fmt: str) -> str:
    """``%d.%m.%Y`` → ``DD.MM.YYYY``, for messages to people."""
    if fmt == ISO:
        return "YYYY-MM-DD"
    return fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD").replace("%y", "YY")


def make_local_midnight(tz_name: str) -> Callable[[date], datetime]:
    """Return ``f(day) -> aware UTC datetime`` of local midnight in ``tz_name`` (cached per day)."""
    tz = ZoneInfo(tz_name)
    cache: dict[date, datetime] = {}

    def at_midnight(day: date) -> datetime:
        found = cache.get(day)
        if found is None:
            found = datetime.combine(day, time(0), tz).astimezone(UTC)
            if len(cache) > 4096:
                cache.clear()
            cache[day] = found
        return found

    return at_midnight


def make_enum(column_label: str, mapping: dict[str, str], empty: str | None) -> Callable[[str, str], str]:
    """Return ``parse(text, column)`` mapping SAP spellings (``Y``, ``tYES``, ``cCustomer``) to one code."""
    folded = {k.lower(): v for k, v in mapping.items()}
    allowed = ", ".join(sorted({k for k in mapping if len(k) <= 2}))

    def parse(text: str, column: str) -> str:
        value = text.strip()
        if not value:
            if empty is None:
                raise BadValue(f"missing {column} (expected {allowed})")
            return empty
        found = folded.get(value.lower())
        if found is None:
            raise BadValue(f'unknown {column_label} value "{text}" in column {column} (expected {allowed})')
        return found

    return parse


CANCEL_STATUS = make_enum("cancel status", {
    "N": "N", "Y": "Y", "C": "C", "tNO": "N", "tYES": "Y",
    "csNo": "N", "csYes": "Y", "csCancellation": "C"}, empty="N")
CARD_TYPE = make_enum("card type", {
    "C": "C", "S": "S", "L": "L", "cCustomer": "C", "cSupplier": "S", "cLid": "L"}, empty=None)
DOC_TYPE = make_enum("document type", {
    "I": "I", "S": "S", "dDocument_Items": "I", "dDocument_Service": "S"}, empty="I")
YES_NO = make_enum("yes/no", {
    "Y": "Y", "N": "N", "tYES": "Y", "tNO": "N", "1": "Y", "0": "N"}, empty="N")
