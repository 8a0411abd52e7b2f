"""A balance summed by PostgreSQL: the account's debt, its available and pending points and the soonest
expiry dates in a handful of rows, however many lots the account holds.

`posting.balance_of` fetched every open lot and summed them in Python: about 10 µs a lot, 50–150 ms for a
wholesale account of 5,000 lots. Here one pass over the account's open lots (the covering index
`ix_lots_open`, in expiry order) sums them, and the expiry dates come grouped, the soonest first, at
most ``limit`` of them. Sums of NUMERIC are exact; each is rounded to the most places of its lots' own (`min_scale`, the places
`models.tidy` leaves a lot's remainder), which is the scale Python's sum of those remainders has.
SQLite stores amounts in a way its SUM would round, so it keeps the Python sum.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric, text
from sqlalchemy.orm import Session

from engine.models import Account, Lot

_STATEMENT = text("""
WITH open_lots AS MATERIALIZED (
    SELECT remaining, available_at, expires_at FROM lots
    WHERE account_id = :account_id AND remaining > 0 AND (expires_at IS NULL OR expires_at > :now))
SELECT 0 AS part, a.debt, s.available, s.pending, NULL::timestamptz AS expires_at
FROM accounts a,
     (SELECT round(sum(remaining) FILTER (WHERE available_at <= :now),
                   max(min_scale(remaining)) FILTER (WHERE available_at <= :now)) AS available,
             round(sum(remaining) FILTER (WHERE available_at > :now),
                   max(min_scale(remaining)) FILTER (WHERE available_at > :now)) AS pending FROM open_lots) s
WHERE a.id = :account_id
UNION ALL
(SELECT 1, NULL, round(sum(remaining), max(min_scale(remaining))), NULL, expires_at FROM open_lots WHERE expires_at IS NOT NULL
 GROUP BY expires_at ORDER BY expires_at LIMIT :limit)
""").bindparams(now=None, account_id=None, limit=None).columns(
    part=Integer(), debt=Account.__table__.c.debt.type, available=Numeric(asdecimal=True),
    pending=Numeric(asdecimal=True), expires_at=Lot.__table__.c.expires_at.type)

ZERO = Decimal(0)


def summed(session: Session, account_id: int, now: datetime, limit: int):
    """(debt, available before debt, pending, ((expires_at, points), …) soonest first) — PostgreSQL only."""
    debt = available = pending = None
    expiring = []
    for part, row_debt, amount, row_pending, expires_at in session.execute(
            _STATEMENT, {"account_id": account_id, "now": now, "limit": limit}):
        if part == 0:
            debt, available, pending = row_debt, amount, row_pending
        else:
            expiring.append((expires_at, amount))
    if debt is None:
        raise LookupError(f"no account {account_id}")
    expiring.sort()
    return debt, available if available is not None else ZERO, pending if pending is not None else ZERO, \
        tuple(expiring)
