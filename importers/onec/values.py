"""Reading CommerceML values: text, lists, decimals, booleans, dates and requisites."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import xmltodict

from engine.onec import norm_name


class ValueProblem(ValueError):
    """One value of a document cannot be read; the message says which and why."""


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    """The stripped text of an element, whatever shape xmltodict gave it."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("#text")
    return "" if value is None else str(value).strip()


def child(node: Any, *path: str) -> Any:
    """Walk ``path`` through nested dicts (first item of any list); None when missing."""
    for key in path:
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def children(node: Any, *path: str) -> list:
    """All elements at ``path``, following every repetition along the way."""
    current = [node]
    for key in path:
        nxt = []
        for item in current:
            for one in as_list(item):
                if isinstance(one, dict):
                    nxt.extend(as_list(one.get(key)))
        current = nxt
    return current


_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")


def parse_decimal(raw: Any, label: str) -> Decimal:
    """``1 234,50`` / ``1234.50`` → Decimal; never a float, never NaN."""
    value = _SPACES.sub("", text(raw))
    if not value:
        raise ValueProblem(f"{label} is empty")
    if "," in value and "." in value:
        raise ValueProblem(f"{label} '{value}' mixes ',' and '.'; use one decimal separator")
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise ValueProblem(f"{label} '{value}' is not a number") from None
    if not number.is_finite():
        raise ValueProblem(f"{label} '{value}' is not a finite number")
    if abs(number) >= MAX_NUMBER:  # what NUMERIC(18, 4) holds; 1e400 is finite but fits nowhere
        raise ValueProblem(f"{label} '{value[:40]}' is too large")
    return number


MAX_NUMBER = Decimal(10) ** 14
# Dates a loyalty document can mean; year 1 at local midnight would be year 0 in UTC, which does not exist.
MIN_YEAR, MAX_YEAR = 1900, 2199


def _in_range(day: date, label: str, shown: str) -> None:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueProblem(f"{label} '{shown}' is outside the years {MIN_YEAR}–{MAX_YEAR}")


_TRUE = {"true", "1", "да", "истина", "yes", "y", "t"}
_FALSE = {"false", "0", "нет", "ложь", "no", "n", "f", ""}


def parse_bool(raw: Any, label: str) -> bool:
    value = text(raw).casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueProblem(f"{label} '{text(raw)}' is neither true nor false")


# 1C writes an empty date as "T", "0001-01-01T00:00:00" or "01.01.0001 0:00:00".
_EMPTY_DATES = {"t", "0001-01-01", "0001-01-01t00:00:00", "01.01.0001", "01.01.00010:00:00",
                "01.01.000100:00:00"}


def has_date(raw: Any) -> bool:
    """Whether a date requisite holds a real date (1C's empty-date markers do not count)."""
    value = _SPACES.sub("", text(raw)).casefold()
    return bool(value) and value not in _EMPTY_DATES


def _parse_date_part(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(value)


def _parse_time_part(value: str) -> time:
    for fmt in ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f"):
        try:
            return datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    raise ValueError(value)


def local_datetime(raw_date: Any, raw_time: Any, tz: ZoneInfo, label: str) -> datetime:
    """``Дата`` + ``Время`` as 1C's wall clock in ``tz`` → an aware UTC datetime.

    ``Дата`` may already hold a time (``2024-03-01T10:15:00`` or ``01.03.2024 10:15:00``);
    an explicit offset in it wins over ``tz``.
    """
    day_text, time_text = text(raw_date), text(raw_time)
    if not day_text:
        raise ValueProblem(f"{label} is missing")
    try:
        parsed = datetime.fromisoformat(day_text) if "T" in day_text else None
    except ValueError:
        parsed = None
    try:
        if parsed is None:
            day_part, _, time_part = day_text.partition(" ")
            day = _parse_date_part(day_part)
            clock = _parse_time_part(time_part or time_text) if (time_part or time_text) else time()
            parsed = datetime.combine(day, clock)
        elif time_text and parsed.time() == time() and parsed.tzinfo is None:
            parsed = datetime.combine(parsed.date(), _parse_time_part(time_text))
    except ValueError:
        shown = f"{day_text} {time_text}".strip()
        raise ValueProblem(f"{label} '{shown}' is not a date") from None
    _in_range(parsed.date(), label, f"{day_text} {time_text}".strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def optional_date(raw: Any, label: str) -> date | None:
    value = text(raw)
    if not has_date(value):
        return None
    try:
        day = _parse_date_part(value.split("T")[0].split(" ")[0])
    except ValueError:
        raise ValueProblem(f"{label} '{value}' is not a date") from None
    _in_range(day, label, value)
    return day


LIST_SEPARATORS = re.compile(r"[,;|]")  # a requisite holding several values (promo codes, tags)


class Requisites:
    """The ``ЗначенияРеквизитов`` of one element, looked up by any accepted spelling."""

    def __init__(self, node: Any):
        self._values: dict[str, str] = {}
        # Standard form, plus the old/wrong form without the ЗначенияРеквизитов wrapper.
        items = children(node, "ЗначенияРеквизитов", "ЗначениеРеквизита") + \
            children(node, "ЗначениеРеквизита")
        for item in items:
            name = text(child(item, "Наименование"))
            if name:
                values = as_list(child(item, "Значение"))
                self._values.setdefault(norm_name(name), text(values[0]) if values else "")

    def get(self, names: Iterable[str]) -> str | None:
        """The value of the first of ``names`` present (may be ""), or None if absent."""
        for name in names:
            key = norm_name(name)
            if key in self._values:
                return self._values[key]
        return None

    def __len__(self) -> int:
        return len(self._values)


def snippet(tag: str, value: Any, limit: int = 2000) -> str:
    """The element re-serialised, for quarantine records; long ones are cut."""
    try:
        raw = xmltodict.unparse({tag: value}, full_document=False)
    except (ValueError, TypeError):
        raw = repr(value)
    return raw if len(raw) <= limit else raw[:limit] + "…"
