"""A balance read joined onto another statement: the API's member lookup and its balance in one round trip."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, or_

from engine.ledger.posting import Balance, _summary
from engine.models import Account, Lot

_ACCOUNTS, _LOTS = Account.__table__, Lot.__table__


def with_open_lots(stmt, account_id):
    """``stmt`` (one row per match) with its account's debt and open lots added: one row per open lot, or
    one with NULL lot columns when none is open. ``account_id`` is the column naming the account; the
    statement takes ``now`` as a parameter. The lots' conditions are `balance_of`'s."""
    now = bindparam("now", type_=_LOTS.c.expires_at.type)
    return (stmt.add_columns(_ACCOUNTS.c.debt, _LOTS.c.remaining, _LOTS.c.available_at, _LOTS.c.expires_at)
            .join(_ACCOUNTS, _ACCOUNTS.c.id == account_id)
            .outerjoin(_LOTS, and_(_LOTS.c.account_id == _ACCOUNTS.c.id, _LOTS.c.remaining > 0,
                                   or_(_LOTS.c.expires_at.is_(None), _LOTS.c.expires_at > now))))


def from_rows(rows, now: datetime, *, expiring_limit: int = 3) -> Balance:
    """The `Balance` of the rows of a `with_open_lots` statement (its last four columns)."""
    return _summary([tuple(row[-3:]) for row in rows if row[-3] is not None], rows[0][-4], now, expiring_limit)
