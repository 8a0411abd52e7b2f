"""Balances: available, pending, debt and what expires next, from an account's open lots.

`balance_of` (the API's read path) has PostgreSQL sum them: the account's debt, its available and pending
points and the soonest expiry dates in a handful of rows, however many lots the account holds. It used to
fetch every open lot and sum them in Python: about 10 µs a lot, 50–150 ms for a
wholesale account of 5,000 lots. Now one pass over the account's open lots (the covering index
`ix_lots_open`) sums them, and the soonest expiry dates are read from the same index in its order,
stopping after ``limit`` of them. Sums of NUMERIC are exact; each is rounded to the most places of its lots' own
(`min_scale`, the places `models.tidy` leaves a lot's remainder): the scale Python's sum of them has.
SQLite stores amounts in a way its SUM would round, so it keeps the Python sum.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric, and_, bindparam, column, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from engine.models import Account, Lot
from engine.models.base import tidy
from engine.models.bulk import is_postgres
from engine.models.prepared import Prepared

ZERO = Decimal(0)


@dataclass(frozen=True)
class Balance:
    available: Decimal
    pending: Decimal
    debt: Decimal
    expiring: tuple[tuple[datetime, Decimal], ...] = field(default_factory=tuple)

    @property
    def total(self) -> Decimal:
        return self.available + self.pending


def unexpired(account_id, now: datetime):
    return and_(Lot.account_id == account_id, Lot.remaining > 0, or_(Lot.expires_at.is_(None), Lot.expires_at > now))


def balance(session: Session, account: Account, now: datetime, *,
            expiring_limit: int = 3) -> Balance:
    """The balance of ``account`` with the debt it holds in this session (`balance_of` reads it from the
    database). On PostgreSQL its lots are summed there too: a wholesale account's 100,000 lots cost a
    message or a member's page about 1 s summed in Python."""
    if is_postgres(session):
        return _summed_balance(session, account.id, now, expiring_limit, debt=account.debt)
    rows = session.execute(
        select(Lot.remaining, Lot.available_at, Lot.expires_at).where(unexpired(account.id, now))).all()
    return _summary(rows, account.debt, now, expiring_limit)


_ACCOUNTS, _LOTS = Account.__table__, Lot.__table__
# Built once, on the tables rather than the mapped classes: the API's hottest read skips the ORM's
# statement construction and entity loading (the columns' types still convert the values).
_BALANCE_OF = (
    select(_ACCOUNTS.c.debt, _LOTS.c.remaining, _LOTS.c.available_at, _LOTS.c.expires_at)
    .select_from(_ACCOUNTS)
    .outerjoin(_LOTS, and_(_LOTS.c.account_id == _ACCOUNTS.c.id, _LOTS.c.remaining > 0,
                           or_(_LOTS.c.expires_at.is_(None),
                               _LOTS.c.expires_at > bindparam("now", type_=_LOTS.c.expires_at.type))))
    .where(_ACCOUNTS.c.id == bindparam("account_id")))


def balance_of(session: Session, account_id: int, now: datetime, *, expiring_limit: int = 3) -> Balance:
    """`balance` from the account's id: its debt and open lots in one statement (the API's read path)."""
    if is_postgres(session):  # summed there: an account of thousands of lots costs a few rows
        return _summed_balance(session, account_id, now, expiring_limit)
    rows = session.execute(_BALANCE_OF, {"account_id": account_id, "now": now}).all()
    return _summary([row[1:] for row in rows if row[1] is not None], rows[0][0], now, expiring_limit)


def _summed_balance(session: Session, account_id: int, now: datetime, expiring_limit: int, *,
                    debt: Decimal | None = None) -> Balance:
    """`summed` as a Balance, less ``debt`` (None: the account's debt in the database)."""
    stored_debt, available, pending, expiring = summed(session, account_id, now, expiring_limit)
    debt = stored_debt if debt is None else debt
    return Balance(available=available - debt, pending=pending, debt=debt, expiring=expiring)


def _summary(rows, debt: Decimal, now: datetime, expiring_limit: int) -> Balance:
    available = pending = ZERO
    expiring: dict[datetime, Decimal] = {}
    for remaining, available_at, expires_at in rows:
        if available_at <= now:
            available += remaining
        else:
            pending += remaining
        if expires_at is not None:
            expiring[expires_at] = expiring.get(expires_at, ZERO) + remaining
    soonest = tuple(sorted(expiring.items())[:expiring_limit])
    return Balance(available=available - debt, pending=pending, debt=debt, expiring=soonest)



# The soonest expiry dates read the open-lots index in its order and stop after ``limit`` of them; a
# shared MATERIALIZED list of the open lots, grouped by date whole, cost an account of 100,000 lots
# 110 ms (each lot its own date: a hash of them all, spilled to disk) against 14 ms now.
# The account's open lots summed, available and pending (``{account}``: how the statement names its id).
_SUMS_OF = """
     (SELECT round(sum(remaining) FILTER (WHERE available_at <= :now),
                   max(min_scale(remaining)) FILTER (WHERE available_at <= :now)) AS available,
             round(sum(remaining) FILTER (WHERE available_at > :now),
                   max(min_scale(remaining)) FILTER (WHERE available_at > :now)) AS pending
      FROM lots WHERE account_id = {account} AND remaining > 0 AND (expires_at IS NULL OR expires_at > :now)) s
"""
# The soonest expiry dates and their points (``{columns}`` of them).
_SOONEST_OF = """
SELECT {columns} FROM lots WHERE account_id = {account} AND remaining > 0 AND expires_at > :now
GROUP BY expires_at ORDER BY expires_at LIMIT :limit
"""
_STATEMENT = Prepared(text(f"""
SELECT 0 AS part, a.debt, s.available, s.pending, NULL::timestamptz AS expires_at
FROM accounts a, {_SUMS_OF.format(account=":account_id")}
WHERE a.id = :account_id
UNION ALL
({_SOONEST_OF.format(columns="1, NULL, round(sum(remaining), max(min_scale(remaining))), NULL, expires_at",
                     account=":account_id")})
""").bindparams(now=None, account_id=None, limit=None).columns(
    part=Integer(), debt=Account.__table__.c.debt.type, available=Numeric(asdecimal=True),
    pending=Numeric(asdecimal=True), expires_at=Lot.__table__.c.expires_at.type))  # run on the driver's cursor

def summed(session: Session, account_id: int, now: datetime, limit: int):
    """(debt, available before debt, pending, ((expires_at, points), …) soonest first) — PostgreSQL only."""
    debt = available = pending = None
    expiring = []
    for part, row_debt, amount, row_pending, expires_at in _STATEMENT.rows(
            session, {"account_id": account_id, "now": now, "limit": limit}):
        if part == 0:
            debt, available, pending = row_debt, amount, row_pending
        else:
            expiring.append((expires_at, amount))
    if debt is None:
        raise LookupError(f"no account {account_id}")
    expiring.sort()
    return debt, available if available is not None else ZERO, pending if pending is not None else ZERO, \
        tuple(expiring)


# `summed` as columns of a member's lookup (`members.resolve_with`), correlated to its ``members.account_id``:
# a balance request's member and balance in one round trip. The same sums and dates as `_STATEMENT`, as
# arrays: [debt, available, pending], the soonest expiry dates, their points.
_SUMS = text(f"""
SELECT ARRAY[a.debt, s.available, s.pending]
FROM accounts a, {_SUMS_OF.format(account="members.account_id")}
WHERE a.id = members.account_id
""")
_SOONEST = f"""
SELECT array_agg({{what}} ORDER BY expires_at) FROM ({_SOONEST_OF.format(
    columns="expires_at, round(sum(remaining), max(min_scale(remaining))) AS points",
    account="members.account_id")}) soonest
"""
_NOW, _LIMIT = bindparam("now", type_=Lot.__table__.c.expires_at.type), bindparam("limit", type_=Integer())
WITH_MEMBER = (
    _SUMS.bindparams(_NOW).columns(column("sums", ARRAY(Numeric(asdecimal=True)))).scalar_subquery(),
    text(_SOONEST.format(what="expires_at")).bindparams(_NOW, _LIMIT).columns(
        column("dates", ARRAY(Lot.__table__.c.expires_at.type))).scalar_subquery(),
    text(_SOONEST.format(what="points")).bindparams(_NOW, _LIMIT).columns(
        column("points", ARRAY(Numeric(asdecimal=True)))).scalar_subquery())


def of_member_columns(values: tuple) -> Balance | None:
    """The `balance_of` that `WITH_MEMBER`'s values in a member's lookup give (None: no account row)."""
    sums, dates, points = values
    if sums is None:
        return None
    debt, available, pending = sums
    debt = tidy(debt)  # in the array it keeps the column's four places; its type's result leaves them off
    return Balance(available=(available if available is not None else ZERO) - debt,
                   pending=pending if pending is not None else ZERO, debt=debt,
                   expiring=tuple(zip(dates or (), points or ())))
