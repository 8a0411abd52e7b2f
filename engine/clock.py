"""The one source of "now" for the domain: aware UTC, shiftable in tests.

Services take an explicit ``now`` where it matters; when they don't get one
they ask here. ``travel`` moves this process's clock (tests of holding periods
and expiry), never the machine's.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


@contextmanager
def travel(delta: timedelta):
    global _offset
    previous = _offset
    _offset = previous + delta
    try:
        yield
    finally:
        _offset = previous
