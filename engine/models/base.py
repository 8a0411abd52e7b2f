"""Declarative base and the column types every model shares (exact points, aware time)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Numeric, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SCALE = 4
_QUANT = Decimal(1).scaleb(-SCALE)


def tidy(value: Decimal) -> Decimal:
    """Drop insignificant zeros without exponent notation: 25.0000 → 25, 12.5000 → 12.5."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return normal.quantize(Decimal(1))
    return normal


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def filled(cls, values: dict):
    """A new, transient ``cls`` holding ``values`` (column attributes by name) as ``cls(**values)`` holds
    them, without the constructor's attribute event per value (a document line: about 19 µs → 1 µs).

    For the hot paths' new rows: those written whole by one statement and then made detached
    (`store.insert_document`, `prepared.loaded`, a credit's or a spend's entry), or flushed as they are
    (a redemption: the unit of work inserts what an object holds). Names that are not column
    attributes (relationships too, whose events keep both sides in step) are refused, as the
    constructor refuses unknown ones."""
    unknown = values.keys() - _columns(cls)
    if unknown:
        raise TypeError(f"{', '.join(sorted(unknown))}: not column attributes of {cls.__name__}")
    obj = cls._sa_class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


@cache
def _columns(cls) -> frozenset[str]:
    return frozenset(inspect(cls).column_attrs.keys())


# SQLite only autoincrements an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Amount(TypeDecorator):
    """An exact decimal with 4 places: NUMERIC in PostgreSQL, scaled integer in SQLite.

    SQLite has no decimal type (NUMERIC columns become floats), so there the
    value is stored as an integer count of 1/10000: sums stay exact in SQL too.
    """

    impl = Numeric(18, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, SCALE, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        if value.as_tuple().exponent < -SCALE:
            # Only derived figures (a line's unrounded points) ever have more places;
            # ledger amounts are rounded to the program precision before they get here.
            value = value.quantize(_QUANT)
        if dialect.name == "sqlite":
            return int(value.scaleb(SCALE))
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return tidy(Decimal(int(value)).scaleb(-SCALE))
        return tidy(Decimal(value))

    def coerce_compared_value(self, op, value):
        return self


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: attach a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)
