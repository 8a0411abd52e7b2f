"""The points ledger: how points are posted, held, spent, reversed and expired.

Design
======
*Entries* (`LedgerEntry`) are append-only. Each has an account, a kind
(accrual, redemption, reversal, refund, expiry, adjustment, …), a signed
exact amount, the source document, the actor, the rule trace, and an
idempotency key that the database keeps unique: posting the same key twice
returns the first entry and changes nothing.

*Lots* (`Lot`) are where points live. Every positive entry creates one or
more lots with ``amount``, ``remaining``, ``available_at`` (pending until
then: the holding period) and ``expires_at`` (None = never). Spending
consumes available lots soonest-expiring first; each consumption is an
*allocation* row (lot, consuming entry, amount), so every point can be
traced from where it was earned to where it went, and a refund can give back
the very lots (with their expiry) that a cancelled redemption took.

*Debt* (`Account.debt`) is what a reversal could not take from lots: an
order returned after its points were spent. The balance goes negative
(when the program allows it) instead of points being silently invented or
lost. Whenever an account has debt and an available lot, the lot pays the
debt first (an allocation of kind "debt" whose entry is the lot's own).

Balances are derived, never stored:
``available = Σ remaining of lots with available_at ≤ now < expires_at − debt``,
``pending = Σ remaining of lots with available_at > now``.

Invariants (checked by `engine.ledger.check` and the tests):
- per lot: ``0 ≤ remaining = amount − Σ allocations(lot) ≤ amount``;
- per account: ``Σ entries = Σ remaining(all lots) − debt`` and ``debt ≥ 0``;
- a spending entry (redemption) is fully covered by allocations: spending
  never makes a balance negative; only reversals may create debt;
- an idempotency key is applied once (unique index).

One writer: only this package inserts entries, lots, allocations and debt.
`rows` builds every entry and lot (columns from the model tables); the
per-document postings (`posting`) and the set-based import (`write_batch`,
COPY on PostgreSQL) share it; the nightly sweeps (`sweeps`: expiry and
maturation a batch of accounts at a time, INSERT … SELECT) fill its columns
with SQL expressions (`rows.entry_columns`) and are compared with the per-lot
path (`daily.expire_per_lot`, `daily.mature_per_lot`) by a test. The database guards what it can: unique
idempotency keys, non-negative remainders, foreign keys, and on PostgreSQL
a deferred constraint trigger (migrations 0005, 0022) that refuses at COMMIT a
transaction changing an account's entries by another amount than its lots'
remainders − debt (summed from what the transaction wrote, not the account's
history), or leaving a positive entry whose lots do not add up.

Concurrency: every write first locks the account row (``SELECT … FOR
UPDATE`` in PostgreSQL; SQLite serialises writers itself), so two spends on
one account are serialised and the second sees the first's allocations.
Lots are only changed under that lock. Services flush; the caller (request,
job, CLI command) commits once.
"""
from engine.ledger.balances import Balance, balance, balance_of
from engine.ledger.locks import lock_account, lock_accounts, note_locked
from engine.ledger.posting import (
    IdempotencyConflict,
    InsufficientPoints,
    LedgerError,
    LotSpec,
    allocations_of,
    available_points,
    collectable,
    credit,
    debit,
    document_lot_ids,
    document_pending,
    expire_lot,
    find_entry,
    settle_debt,
)
from engine.ledger.rows import write_batch
from engine.ledger.spending import spend
from engine.ledger.transfers import lock_pair, open_lots, transfer

__all__ = [
    "Balance",
    "IdempotencyConflict",
    "InsufficientPoints",
    "LedgerError",
    "LotSpec",
    "allocations_of",
    "available_points",
    "balance",
    "balance_of",
    "collectable",
    "credit",
    "debit",
    "document_lot_ids",
    "document_pending",
    "expire_lot",
    "find_entry",
    "lock_account",
    "lock_accounts",
    "note_locked",
    "settle_debt",
    "spend",
    "write_batch",
    "lock_pair",
    "open_lots",
    "transfer",
]
