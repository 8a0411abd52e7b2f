"""Per-process caches of configuration every request reads, kept while the database's stamp is unchanged.

Published policy versions, missions and webhook subscriptions change rarely (an admin publishes, defines,
subscribes) but every order reads them: three round trips. Migration 0021 gives the row of
`config_stamp` a new random value in every transaction that writes one of their tables, so it becomes
visible with the change, at commit. A request reads the stamp once per transaction (the member lookup
carries it: `engine.members.directory`; else the first cached lookup reads it with its rows), and a cache
answers only when it was filled under that very stamp. What a cache holds was read no earlier than its
stamp, so it is never older than what was committed before that stamp was seen; and a transaction that
changed the tables itself flushes a new stamp (seen only by it, never repeated) and reads it again.
PostgreSQL only: elsewhere every lookup reads the database.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import column, event, inspect, select, table, true
from sqlalchemy.orm import Session, make_transient_to_detached

from engine.models import Mission, PolicyVersion, WebhookSubscription, prepared
from engine.models.bulk import is_postgres

T = TypeVar("T")
WATCHED = (PolicyVersion, Mission, WebhookSubscription)  # the tables migration 0021 stamps
_MEMO = "loyalty.config_stamp"
_TABLE = table("config_stamp", column("stamp"))
STAMP = _TABLE.c.stamp


def _memo(session: Session):
    memo = session.info.get(_MEMO)
    return memo[1] if memo is not None and memo[0] is session.get_transaction() else None


def note(session: Session, value) -> None:
    """Keep ``value`` as this transaction's stamp: a statement that runs anyway read it (`STAMP`)."""
    session.info[_MEMO] = (session.get_transaction(), value)


@event.listens_for(Session, "after_flush")
def _forget_if_written(session: Session, _context) -> None:
    # This transaction wrote a stamped table: its trigger gave it a new stamp, read again when needed.
    if _MEMO in session.info and any(isinstance(obj, WATCHED) for obj in
                                     (*session.new, *session.dirty, *session.deleted)):
        del session.info[_MEMO]


_WATCHED_TABLES = frozenset(cls.__table__ for cls in WATCHED)
prepared.REFUSED.update(_WATCHED_TABLES)  # a statement on the driver's cursor would pass this listener by


@event.listens_for(Session, "do_orm_execute")
def _forget_if_written_by_statement(state) -> None:
    # The same for an INSERT, UPDATE or DELETE statement run through the session (not the unit of work).
    if (state.is_insert or state.is_update or state.is_delete) and _MEMO in state.session.info \
            and getattr(state.statement, "table", None) in _WATCHED_TABLES:
        del state.session.info[_MEMO]


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_args) -> None:
    session.info.pop(_MEMO, None)


class Cached(Generic[T]):
    """Rows of one stamped table (``columns`` of it, ``where``), kept as ``convert(rows)``: it must be
    immutable, every thread shares it. Reused while this transaction's stamp is the one they were read
    under; a transaction that has not seen the stamp yet reads it with the rows, in the same statement,
    so a miss costs what the plain query did."""

    def __init__(self, columns, where, convert: Callable[[list], T]):
        table_ = columns[0].table
        order = list(table_.primary_key)
        self._convert = convert
        self._plain = select(*columns).where(where).order_by(*order)
        self._stamped = (select(STAMP, *columns).select_from(_TABLE.outerjoin(table_, where))
                         .order_by(*order))
        self._key = order[0].name
        self._entry: tuple[object, T] | None = None

    def get(self, session: Session) -> T:
        if not is_postgres(session):
            return self._convert(list(session.execute(self._plain)))
        stamp = _memo(session)
        if stamp is None:
            found = list(session.execute(self._stamped))
            stamp = found[0][0] if found else None
            note(session, stamp)
            rows = [row[1:] for row in found if row._mapping[self._key] is not None]
        else:
            entry = self._entry
            if entry is not None and entry[0] == stamp:
                return entry[1]
            rows = list(session.execute(self._plain))
        value = self._convert(rows)
        if stamp is not None and _memo(session) == stamp:  # no write of ours flushed in between
            self._entry = (stamp, value)
        return value

    def clear(self) -> None:
        self._entry = None


def rows_of(cls, where=None) -> Cached[tuple[dict, ...]]:
    """A `Cached` of ``cls``'s rows (``where``: a condition on its table) as attribute dicts, in id
    order. Read as table rows, not objects: an object of the session may hold changes not flushed yet,
    which are no other session's business; `attach` turns one into the session's object."""
    attrs = [(attr.key, attr.columns[0]) for attr in inspect(cls).column_attrs]
    keys = [key for key, _col in attrs]
    return Cached([col for _key, col in attrs], true() if where is None else where,
                  lambda rows: tuple(dict(zip(keys, row)) for row in rows))


def attach(session: Session, cls, values: dict):
    """The object of ``session`` for cached ``values``, without a query: its own copy when it holds one."""
    obj = cls(**copy.deepcopy(values))  # deep: a JSON column's list is changed in place by nobody else
    make_transient_to_detached(obj)
    return session.merge(obj, load=False)
