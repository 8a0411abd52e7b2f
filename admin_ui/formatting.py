"""Numbers, money and dates in the reader's locale (Babel), as Jinja filters."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_decimal, format_percent


def points(value) -> str:
    if value is None:
        return "—"
    return format_decimal(Decimal(value), format="#,##0.##")


def signed_points(value) -> str:
    text = points(value)
    return f"+{text}" if value is not None and Decimal(value) > 0 else text


def money(value, currency: str = "PLN") -> str:
    if value is None:
        return "—"
    return format_currency(Decimal(value), currency)


def when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value, "medium")
    return str(value)


def day(value) -> str:
    if value is None:
        return "—"
    return format_date(value, "medium")


def number(value) -> str:
    return "—" if value is None else format_decimal(value)


def percent(value) -> str:
    return format_percent(Decimal(value or 0) / 100, "#,##0.#%")


def register(app: Flask) -> None:
    for name, fn in (("points", points), ("signed_points", signed_points), ("money", money),
                     ("when", when), ("day", day), ("number", number), ("percent", percent)):
        app.jinja_env.filters[name] = fn
