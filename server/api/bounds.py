"""Bounded field types of the API schemas: every value that passes is one the layers below can hold.

A number, date or string that the schema accepts must never overflow further
down (a 64-bit column, a ``timedelta``, a file name of 255 bytes), so each
limit lives here, in the marshmallow field, where the OpenAPI document shows
it (``minimum``/``maximum``, ``minLength``/``maxLength``) and schemathesis
exercises it.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

MAX_ID = 2**62           # row ids and cursors: 64-bit columns (SQLite refuses larger outright)
MAX_LINE_NO = 999_999    # line numbers: a 32-bit column, and no document has a million lines
MAX_VERSION = 2**31 - 1  # policy versions: a 32-bit column
MAX_DAYS = 36_600        # day counts: a hundred years, far from timedelta's limit
MIN_YEAR, MAX_YEAR = 1900, 2200
TEXT = 200               # names, stores, groups, brands
REF = 100                # member references and external ids


# Plain functions rather than validate.Range: apispec would render a Decimal
# bound as a string, which is not valid OpenAPI.
# A line or amount below ten billion: 5,000 such lines still fit NUMERIC(18,4).
LIMIT = Decimal(10) ** 10


def non_negative(value) -> None:
    if value < 0:
        raise ValidationError("must not be negative")


def positive(value) -> None:
    if value <= 0:
        raise ValidationError("must be greater than zero")


class Exact(fields.Decimal):
    """A decimal input the ledger can hold: finite, below 10^10, at most 4 places."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_nan", False)
        # The bounds as metadata, so they appear in the OpenAPI document as numbers.
        metadata = kwargs.setdefault("metadata", {})
        floor = 0 if kwargs.get("validate") in (non_negative, positive) else -(LIMIT - 1)
        metadata.setdefault("minimum", int(floor))
        metadata.setdefault("maximum", int(LIMIT - 1))
        if kwargs.get("validate") is positive:
            metadata.setdefault("exclusiveMinimum", True)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        number = super()._deserialize(value, attr, data, **kwargs)
        if not number.is_finite() or abs(number) >= LIMIT:
            raise ValidationError("must be a number below 10,000,000,000")
        if number.as_tuple().exponent < -4:
            raise ValidationError("must have at most 4 decimal places")
        return number


def _year_in_range(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(f"must be a date between the years {MIN_YEAR} and {MAX_YEAR}")


class Instant(fields.AwareDateTime):
    """An ISO 8601 date and time with its offset, between the years 1900 and 2200."""

    def __init__(self, **kwargs):
        metadata = kwargs.pop("metadata", {})
        bounds = f"ISO 8601 with offset, years {MIN_YEAR}–{MAX_YEAR}"
        metadata["description"] = f"{metadata['description']} ({bounds})" \
            if metadata.get("description") else bounds
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        # Year 1 or 9999 with an offset parses, then overflows in the first
        # conversion to UTC below (a 500): refused here, with the range.
        try:
            moment: datetime = super()._deserialize(value, attr, data, **kwargs)
        except OverflowError as exc:
            raise ValidationError("is outside the range of dates") from exc
        _year_in_range(moment)
        return moment


class Day(fields.Date):
    """An ISO 8601 date between the years 1900 and 2200."""

    def __init__(self, **kwargs):
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("description", f"ISO 8601 date, years {MIN_YEAR}–{MAX_YEAR}")
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        day: date = super()._deserialize(value, attr, data, **kwargs)
        _year_in_range(day)
        return day


def Text(max_length: int = TEXT, min_length: int = 0, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min_length, max_length), **kwargs)


def Id(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)


def Days(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(1, MAX_DAYS), **kwargs)


def Version(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(1, MAX_VERSION), **kwargs)
