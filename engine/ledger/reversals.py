"""Reversals a chunk at a time: `posting.debit` with ``allow_debt`` for many locked accounts, planned in memory.

A chunk of corrections (`engine.documents.credit_notes`) reads the open lots
of its accounts once, plans every reversal as `posting.debit` would post it
in the same order — the document's own lots first (pending or not), then
available lots soonest-expiring first, what is left becomes debt, after
`posting.settle_debt` has paid earlier debt from available lots — and writes
the entries (`rows.write_batch`), allocations, lot remainders and debts in a
few statements. An account is planned on a copy (`AccountBook`) and kept only
when every document of it could be planned, so a declined account leaves
nothing behind and goes the per-document way.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.ledger import rows
from engine.models import Account, Allocation, LedgerEntry, Lot
from engine.models.bulk import batches, insert_rows, new_ids, one_of, run, update_rows

ZERO = Decimal(0)
_ORDER = (Lot.account_id, Lot.expires_at.is_(None), Lot.expires_at, Lot.available_at, Lot.id)


class _Lot:
    __slots__ = ("id", "entry_id", "remaining", "available_at", "expires_at", "document_id", "taken")

    def __init__(self, lot_id, entry_id, remaining, available_at, expires_at, document_id):
        self.id, self.entry_id, self.remaining = lot_id, entry_id, remaining
        self.available_at, self.expires_at, self.document_id = available_at, expires_at, document_id
        self.taken = ZERO


class AccountBook:
    """One account's open lots and debt while its documents are planned (a copy: `ReversalBook.keep`)."""

    def __init__(self, account_id: int, lots: list[_Lot], debt: Decimal, now: datetime):
        self.account_id, self.debt, self.now = account_id, debt, now
        self.lots = [_Lot(l.id, l.entry_id, l.remaining, l.available_at, l.expires_at, l.document_id) for l in lots]
        self.entries: list[dict] = []
        self.allocations: list[tuple[int, dict]] = []  # (index of the entry in `entries` or -1, row)

    def _take(self, lot: _Lot, amount: Decimal, entry: int, kind: str, entry_id: int | None = None) -> None:
        lot.remaining -= amount
        lot.taken += amount
        self.allocations.append((entry, {"lot_id": lot.id, "entry_id": entry_id, "amount": amount, "kind": kind,
                                         "created_at": self.now}))

    def _settle(self) -> None:
        """`posting.settle_debt`: available lots pay the debt first."""
        for lot in self.lots:
            if self.debt <= 0:
                break
            if lot.remaining > 0 and lot.available_at <= self.now:
                take = min(lot.remaining, self.debt)
                self.debt -= take
                self._take(lot, take, -1, "debt", entry_id=lot.entry_id)

    def debit(self, *, amount: Decimal, key: str, actor: str, document_id: int, **entry_fields) -> None:
        """A reversal of ``amount`` (positive) taken from the document's own lots first, then available ones."""
        self._settle()
        entry = len(self.entries)
        self.entries.append(rows.entry_row(account_id=self.account_id, kind="reversal", amount=-amount, key=key,
                                           actor=actor, now=self.now, document_id=document_id, **entry_fields))
        wanted = amount
        for own in (True, False):
            for lot in self.lots:
                if wanted <= 0:
                    break
                if lot.remaining <= 0 or (lot.document_id == document_id) != own:
                    continue
                if not own and lot.available_at > self.now:
                    continue
                take = min(lot.remaining, wanted)
                wanted -= take
                self._take(lot, take, entry, "spend")
        if wanted > 0:
            self.debt += wanted


class ReversalBook:
    """The open lots and debts of a chunk's locked accounts, and the reversals kept so far."""

    def __init__(self, session: Session, debts: dict[int, Decimal], now: datetime):
        self.now, self.debts = now, dict(debts)
        self.lots: dict[int, list[_Lot]] = {account_id: [] for account_id in debts}
        e = LedgerEntry.__table__.c
        for part in batches(sorted(debts)):
            stmt = (select(Lot.id, Lot.account_id, Lot.entry_id, Lot.remaining, Lot.available_at, Lot.expires_at,
                           e.document_id, e.amount)
                    .join(LedgerEntry.__table__, e.id == Lot.entry_id)
                    .where(one_of(session, Lot.account_id, part), Lot.remaining > 0,
                           or_(Lot.expires_at.is_(None), Lot.expires_at > now)).order_by(*_ORDER))
            for row in run(session, stmt):
                # `posting.document_lot_ids`: a document's own lots are those its positive entries created.
                document_id = row.document_id if row.amount > 0 else None
                self.lots[row.account_id].append(_Lot(row.id, row.entry_id, row.remaining, row.available_at,
                                                      row.expires_at, document_id))
        self.kept: list[AccountBook] = []

    def account(self, account_id: int) -> AccountBook:
        return AccountBook(account_id, self.lots[account_id], self.debts[account_id], self.now)

    def keep(self, book: AccountBook) -> None:
        self.kept.append(book)

    def write(self, session: Session) -> int:
        """Write the kept reversals; returns how many entries."""
        entries = [entry for book in self.kept for entry in book.entries]
        ids = new_ids(session, LedgerEntry.__table__, len(entries))
        allocations, position = [], 0
        for book in self.kept:
            for index, row in book.allocations:
                if index >= 0:
                    row["entry_id"] = ids[position + index]
                allocations.append(row)
            for entry in book.entries:
                entry["id"] = ids[position]
                position += 1
        rows.write_batch(session, entries, [])
        insert_rows(session, Allocation.__table__, allocations)
        update_rows(session, Lot.__table__, [{"id": lot.id, "remaining": lot.remaining}
                                             for book in self.kept for lot in book.lots if lot.taken])
        update_rows(session, Account.__table__, [{"id": b.account_id, "debt": b.debt} for b in self.kept
                                                 if b.debt != self.debts[b.account_id]])
        return len(entries)


