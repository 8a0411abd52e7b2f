"""Credits of an import run, announced once per member when the run ends instead of once per invoice.

While a chunk of an import is applied (`batched`), every accrual's credit is
noted on the session instead of written as a message; when the chunk's work
is done the notes become `OutboxRunCredit` rows, in the chunk's own
transaction (so a chunk that rolls back notes nothing, a committed one is
never forgotten). When the run finishes, `triggers.announce_run` sums them per member —
set-based, a batch of members at a time — into one ``points.credited``
message per member and channel and one webhook event per member and
subscription, then the ``import.finished`` event. A million-line import thus
sends one SMS per member; the gateway's rate limit (``server.jobs``) paces them.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy.orm import Session

from engine.ledger import summaries
from engine.models import OutboxRunCredit
from engine.models.bulk import insert_rows

_RUN, _NOTES = "outbox_run", "outbox_run_notes"  # session.info keys
BATCH = 1000


@contextmanager
def batched(session: Session, run_id: int):
    """Inside: credits are noted (`note`), not announced; on a normal exit they are written for the run."""
    session.info[_RUN], session.info[_NOTES] = run_id, []
    try:
        yield
        hold(session)
    finally:
        session.info.pop(_RUN, None)
        session.info.pop(_NOTES, None)


def note(session: Session, entry_id: int | None, member_id: int, amount: Decimal, *, check: bool = True) -> bool:
    """Note a credit for the run being applied; False outside an import run (announce it now).
    ``check``: the entry may still be rolled back with a savepoint, so `hold` looks for it first."""
    if session.info.get(_RUN) is None:
        return False
    session.info[_NOTES].append((entry_id if check else None, member_id, Decimal(amount)))
    return True


def note_entries(session: Session, entries: list[dict]) -> None:
    """The accruals of a set-based chunk (written in this transaction, no savepoint between)."""
    for row in entries:
        if row["kind"] == "accrual" and row.get("member_id") and row["amount"] > 0:
            note(session, None, row["member_id"], row["amount"], check=False)


def hold(session: Session) -> int:
    """Write the noted credits as one row per member for the run; returns how many rows."""
    notes = session.info.get(_NOTES) or []
    run_id = session.info.get(_RUN)
    if not notes or run_id is None:
        return 0
    session.flush()
    to_check = [entry_id for entry_id, _m, _a in notes if entry_id is not None]
    alive = summaries.existing_entries(session, to_check)
    per_member: dict[int, Decimal] = defaultdict(Decimal)
    for entry_id, member_id, amount in notes:
        if entry_id is None or entry_id in alive:
            per_member[member_id] += amount
    session.info[_NOTES] = []
    if per_member:  # COPY on PostgreSQL (a chunk holds thousands of members)
        insert_rows(session, OutboxRunCredit.__table__, [
            {"run_id": run_id, "member_id": m, "amount": a} for m, a in per_member.items()])
    return len(per_member)
