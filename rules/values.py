"""Small value helpers shared by the schemas, the validator and the evaluators."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_NUMERIC_TEXT = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an int, Decimal, float or numeric text; None otherwise.

    Floats go through ``repr`` so that a JSON ``0.1`` means exactly 0.1 (what the
    marketer typed), not the binary approximation. Booleans are not numbers here.
    """
    if value is True or value is False or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(repr(value))
    if isinstance(value, str) and _NUMERIC_TEXT.match(value):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the regex already filters
            return None
        return number if number.is_finite() else None
    return None


def decimal_to_json(value: Decimal) -> int | str:
    """Whole numbers as JSON integers, everything else as exact decimal text."""
    if value == value.to_integral_value():
        return int(value)
    return format(value.normalize(), "f")


def to_jsonable(value: Any) -> Any:
    """Recursively turn Decimals into strings and datetimes into ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def aware_utc(moment: datetime) -> datetime:
    """Timezone-aware UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_moment(value: Any) -> date | datetime | None:
    """An ISO date, or an ISO datetime WITH a time zone; None when it is neither."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
