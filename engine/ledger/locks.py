"""Account row locks: every ledger write first locks its account; chunks lock theirs in id order.

The lock is PostgreSQL's FOR NO KEY UPDATE: it excludes every other ledger writer of the account
(they take the same lock) but not the FOR KEY SHARE that a foreign key's check takes. An order's
document, inserted before its account lock, key-shares the account row: with FOR UPDATE, two
orders of one member each waited for the other's key share — a deadlock."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.models import Account
from engine.models.bulk import batches, one_of, run

_LOCK = (select(Account).where(Account.id == bindparam("account_id")).with_for_update(key_share=True)
         .execution_options(populate_existing=True))  # built once: every ledger write takes it


_LOCKED = "loyalty.locked_account"


def note_locked(session: Session, account: Account) -> None:
    """``account`` was just loaded under its row lock by a statement that ran anyway (an order's member
    lookup: `engine.members.resolve_with`): the next `lock_account` of it in this transaction returns it
    as it is, without a round trip. Once: any later one asks the database again."""
    session.info[_LOCKED] = (session.get_transaction(), account)


def lock_account(session: Session, account_id: int) -> Account:
    """Take the account's row lock (held until commit) and return it fresh."""
    noted = session.info.pop(_LOCKED, None)
    if noted is not None and noted[1].id == account_id and noted[0] is session.get_transaction():
        return noted[1]
    return session.execute(_LOCK, {"account_id": account_id}).scalar_one()


def lock_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, Decimal]:
    """Row-lock the accounts in id order (chunks never deadlock); returns each one's debt."""
    debts: dict[int, Decimal] = {}
    for part in batches(sorted(set(account_ids))):
        stmt = select(Account.id, Account.debt).where(one_of(session, Account.id, part)).order_by(Account.id)
        for row in run(session, stmt.with_for_update(key_share=True)):
            debts[row.id] = row.debt
    return debts
