"""Column profiles for SAP Business One exports: which header holds what, and how values are written.

Nobody standardised these files (README, "Profiles"), so every source may bring
its own profile as JSON; the defaults use SAP's own field names (SPEC §4.2).
A profile maps *logical* fields (``quantity``) to header names (``Quantity``);
mapping a non-key field to ``null`` says "this export does not have it".
"""
from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from importers.sap_b1.values import ISO

KINDS = ("customers", "invoices", "credit_notes", "catalog")
SOURCE = "sap_b1"


@dataclass(frozen=True, slots=True)
class Column:
    """A logical field: its default header, whether the file must have it, whether it may be switched off."""

    default: str | None
    required: bool = True  # the header must contain it (unless the profile maps it to null)
    key: bool = False  # cannot be mapped to null


_DOCUMENT_COLUMNS = {
    "doc_entry": Column("DocEntry", key=True),
    "doc_num": Column("DocNum"),
    "doc_date": Column("DocDate", key=True),
    "card_code": Column("CardCode", key=True),
    "currency": Column("DocCur"),
    "line_num": Column("LineNum", key=True),
    "item_code": Column("ItemCode", key=True),
    "description": Column("Dscription"),
    "item_group": Column("ItmsGrpCod"),
    "quantity": Column("Quantity", key=True),
    "price": Column("Price"),
    "line_total": Column("LineTotal", key=True),
    "cancelled": Column("CANCELED", required=False),
    "doc_type": Column("DocType", required=False),
    "obj_type": Column("ObjType", required=False),
    "brand": Column(None, required=False),
}

COLUMNS: Mapping[str, Mapping[str, Column]] = MappingProxyType({
    "customers": MappingProxyType({
        "card_code": Column("CardCode", key=True),
        "card_name": Column("CardName"),
        "tax_id": Column("LicTradNum"),
        "phone1": Column("Phone1"),
        "cellular": Column("Cellular"),
        "email": Column("E_Mail"),
        "group": Column("GroupCode"),
        "created": Column("CreateDate"),
        "birth_date": Column("BirthDate", required=False),
        "card_type": Column("CardType", required=False),
        "phone2": Column("Phone2", required=False),
    }),
    "invoices": MappingProxyType({
        **_DOCUMENT_COLUMNS,
        # Only cancelling (CANCELED=C) documents use them: the invoice they cancel.
        "base_type": Column("BaseType", required=False),
        "base_entry": Column("BaseEntry", required=False),
        "base_line": Column("BaseLine", required=False),
    }),
    "credit_notes": MappingProxyType({
        **_DOCUMENT_COLUMNS,
        "base_entry": Column("BaseEntry", key=True),
        "base_line": Column("BaseLine", key=True),
        "base_type": Column("BaseType", required=False),
    }),
    "catalog": MappingProxyType({
        "item_code": Column("ItemCode", key=True),
        "item_name": Column("ItemName"),
        "item_group": Column("ItmsGrpCod"),
        "price": Column("Price"),
        "currency": Column("Currency"),
        "picture_url": Column("PictureURL"),
        "redeemable": Column("RedeemableForPoints"),
        "points_per_unit": Column(None, required=False),
        "brand": Column(None, required=False),
        "stock": Column(None, required=False),  # e.g. OnHand: the reward's stock
        # Labels for the rules' line_tags, separated by "," or "|" (e.g. "eco|new"); optional.
        "tags": Column("Tags", required=False),
    }),
})


class ProfileError(ValueError):
    """A profile that cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class Profile:
    """How one source writes one kind of file. Build with `default_profile` or `profile_from_dict`."""

    kind: str
    columns: Mapping[str, str | None] = field(default_factory=dict)  # logical field → header name
    encoding: str = "cp1250"  # the legacy fallback after BOM and strict UTF-8
    fixed_encoding: bool = False  # True: skip the UTF-8 attempt (a BOM still wins)
    delimiter: str | None = None  # None: sniff ";", tab or "," from the header
    decimal_separator: str = ","
    date_formats: tuple[str, ...] = ("%Y%m%d", "%d.%m.%Y", ISO)
    header_rows: int = 1  # 2 for DTW templates
    names_row: int = 1  # which header row holds the names (DTW: 2 = database names)
    phone_regions: tuple[str, ...] = ("PL",)
    timezone: str = "Europe/Warsaw"  # document dates are local days
    currency: str = "PLN"  # when the file has no currency column or it is empty
    points_per_price_unit: Decimal | None = None  # catalog: RedeemableForPoints=Y → Price × this

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ProfileError(f'Unknown file kind "{self.kind}"; use one of: {", ".join(KINDS)}.')
        unknown = set(self.columns) - set(COLUMNS[self.kind])
        if unknown:
            raise ProfileError(f"Unknown {self.kind} field(s): {', '.join(sorted(unknown))}.")
        merged = {**_default_columns(self.kind), **self.columns}
        object.__setattr__(self, "columns", MappingProxyType(merged))

    def __hash__(self) -> int:  # the columns mapping is not hashable by itself
        return hash((self.kind, tuple(self.columns.items()), self.encoding, self.delimiter, self.date_formats))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that `profile_from_dict` reads back into an equal profile."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["columns"] = dict(self.columns)
        data["date_formats"] = list(self.date_formats)
        data["phone_regions"] = list(self.phone_regions)
        if self.points_per_price_unit is not None:
            data["points_per_price_unit"] = str(self.points_per_price_unit)
        return data


def _default_columns(kind: str) -> dict[str, str | None]:
    return {name: col.default for name, col in COLUMNS[kind].items()}


def default_profile(kind: str) -> Profile:
    """The SAP field-name profile of SPEC §4.2 for ``kind``."""
    if kind not in KINDS:
        raise ProfileError(f'Unknown file kind "{kind}"; use one of: {", ".join(KINDS)}.')
    return Profile(kind=kind)


_FIELDS = {f for f in Profile.__dataclass_fields__}
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}


def profile_from_dict(data: Mapping[str, Any], kind: str | None = None) -> Profile:
    """Validate a profile given as JSON-like data; unknown keys and bad values are errors, all listed.

    ``kind`` fills in (or must agree with) ``data["kind"]``; ``columns`` only
    needs the fields that differ from SAP's names.
    """
    if not isinstance(data, Mapping):
        raise ProfileError("A profile must be a JSON object.")
    problems: list[str] = []
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        problems.append(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
    kind = kind or data.get("kind")
    if data.get("kind", kind) != kind:
        problems.append(f'the profile is for "{data.get("kind")}" but is used for "{kind}"')
    if kind not in KINDS:
        raise ProfileError(f'Unknown file kind "{kind}"; use one of: {", ".join(KINDS)}.')
    values: dict[str, Any] = {"kind": kind, "columns": _columns(kind, data.get("columns", {}), problems)}
    checks = {
        "encoding": _encoding, "fixed_encoding": _bool, "delimiter": _delimiter,
        "decimal_separator": _decimal_separator, "date_formats": _date_formats,
        "header_rows": _header_rows, "names_row": _header_rows, "phone_regions": _regions,
        "timezone": _timezone, "currency": _currency, "points_per_price_unit": _positive_decimal,
    }
    for key, check in checks.items():
        if key in data:
            try:
                values[key] = check(data[key])
            except (ValueError, TypeError) as exc:
                problems.append(f"{key}: {exc}")
    rows, names_row = values.get("header_rows", 1), values.get("names_row", 1)
    if isinstance(rows, int) and isinstance(names_row, int) and names_row > rows:
        problems.append(f"names_row is {names_row} but there are only {rows} header row(s)")
    if problems:
        raise ProfileError("The import profile is not valid: " + "; ".join(problems) + ".")
    return Profile(**values)


def _columns(kind: str, given: Any, problems: list[str]) -> Mapping[str, str | None]:
    columns = _default_columns(kind)
    if not isinstance(given, Mapping):
        problems.append("columns must be an object mapping fields to header names")
        return MappingProxyType(columns)
    specs = COLUMNS[kind]
    for name, header in given.items():
        if name not in specs:
            problems.append(f'columns: "{name}" is not a {kind} field (known: {", ".join(specs)})')
        elif header is None or (isinstance(header, str) and not header.strip()):
            if specs[name].key:
                problems.append(f'columns: "{name}" is required and cannot be switched off')
            else:
                columns[name] = None
        elif not isinstance(header, str):
            problems.append(f'columns: the header for "{name}" must be text')
        else:
            columns[name] = header.strip()
    used = [h.lower() for h in columns.values() if h]
    duplicates = sorted({h for h in used if used.count(h) > 1})
    if duplicates:
        problems.append(f"columns: the same header is used for several fields: {', '.join(duplicates)}")
    return MappingProxyType(columns)


def _encoding(value: Any) -> str:
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise ValueError(f'"{value}" is not an encoding Python knows (e.g. cp1250, utf-8, utf-16-le)') from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _delimiter(value: Any) -> str | None:
    if value is None:
        return None
    value = _DELIMITER_NAMES.get(str(value).lower(), value)
    if not isinstance(value, str) or len(value) != 1 or value in "\"\r\n" or value.isalnum():
        raise ValueError('must be one character such as ";", "," or "tab" (or null to detect it)')
    return value


def _decimal_separator(value: Any) -> str:
    if value not in (",", "."):
        raise ValueError('must be "," or "."')
    return value


def _date_formats(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError('must be a list such as ["%d.%m.%Y", "%Y%m%d", "iso"]')
    sample = date(2024, 11, 23)
    for fmt in value:
        if fmt == ISO:
            continue
        if not isinstance(fmt, str) or "%" not in fmt:
            raise ValueError(f'"{fmt}" is not a date format (use strftime codes like %d.%m.%Y, or "iso")')
        try:
            if datetime.strptime(sample.strftime(fmt), fmt).date() != sample:
                raise ValueError
        except ValueError:
            raise ValueError(f'"{fmt}" does not give back a full date (day, month and year)') from None
    return tuple(value)


def _header_rows(value: Any) -> int:
    if isinstance(value, bool) or value not in (1, 2, 3):
        raise ValueError("must be 1, 2 or 3")
    return value


def _regions(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError('must be a list of region codes such as ["PL"]')
    regions = tuple(str(r).upper() for r in value)
    bad = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if bad:
        raise ValueError(f"unknown region code(s) {', '.join(bad)} (use ISO codes such as PL, DE, UA)")
    return regions


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'"{value}" is not a time zone name such as Europe/Warsaw') from None
    return str(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise ValueError("must be a three-letter currency code such as PLN")
    return value.strip().upper()


def _positive_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f'"{value}" is not a number') from None
    if not number.is_finite() or number <= 0:
        raise ValueError("must be a positive number")
    return number
