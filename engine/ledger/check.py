"""`loyalty check`: verify every ledger invariant with set-based queries.

Each invariant is one query that returns only the rows violating it, so the
check stays cheap on ten million entries and its output names the culprits.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.models import (
    Account,
    Allocation,
    Document,
    DocumentLine,
    LedgerEntry,
    Lot,
    Member,
    PolicyVersion,
    Redemption,
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.subject}: {self.detail}"


def _sums(column, key, *where):
    stmt = select(key.label("k"), func.sum(column).label("s")).group_by(key)
    if where:
        stmt = stmt.where(*where)
    return stmt.subquery()


def check(session: Session, *, limit: int = 100) -> list[Violation]:
    found: list[Violation] = []

    def run(invariant, stmt, subject, detail):
        for row in session.execute(stmt.limit(limit - len(found) or 1)):
            if len(found) < limit:
                found.append(Violation(invariant, subject(row), detail(row)))

    # Allocations name a lot and an entry that exist (on PostgreSQL a statement trigger, not a foreign
    # key, checks it as they are written: migration 0018).
    run("allocation_refs",
        select(Allocation.id, Allocation.lot_id, Allocation.entry_id)
        .outerjoin(Lot, Lot.id == Allocation.lot_id).outerjoin(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
        .where(or_(Lot.id.is_(None), LedgerEntry.id.is_(None))),
        lambda r: f"allocation {r.id}", lambda r: f"lot {r.lot_id} or entry {r.entry_id} does not exist")

    # Entries name rows that exist (on PostgreSQL checked per statement, not by foreign keys: 0018).
    refs = [(LedgerEntry.account_id, Account), (LedgerEntry.member_id, Member),
            (LedgerEntry.beneficiary_member_id, Member), (LedgerEntry.document_id, Document),
            (LedgerEntry.redemption_id, Redemption), (LedgerEntry.policy_version_id, PolicyVersion)]
    missing = [and_(column.is_not(None), ~exists().where(model.id == column)) for column, model in refs]
    run("entry_refs", select(LedgerEntry.id).where(or_(*missing)),
        lambda r: f"entry {r.id}", lambda r: "refers to an account, member, document, redemption or policy "
                                             "version that does not exist")

    # Lots name an account and an entry, document lines a document, that exist (on PostgreSQL checked per
    # statement, not by foreign keys: migration 0020).
    run("lot_refs",
        select(Lot.id, Lot.account_id, Lot.entry_id)
        .where(or_(~exists().where(Account.id == Lot.account_id), ~exists().where(LedgerEntry.id == Lot.entry_id))),
        lambda r: f"lot {r.id}", lambda r: f"account {r.account_id} or entry {r.entry_id} does not exist")
    run("document_line_refs",
        select(DocumentLine.id, DocumentLine.document_id)
        .where(~exists().where(Document.id == DocumentLine.document_id)),
        lambda r: f"document line {r.id}", lambda r: f"document {r.document_id} does not exist")

    # Lots: 0 <= remaining = amount - allocations <= amount.
    alloc = _sums(Allocation.amount, Allocation.lot_id)
    allocated = func.coalesce(alloc.c.s, 0)
    run("lot_allocations",
        select(Lot.id, Lot.amount, Lot.remaining, allocated.label("allocated"))
        .outerjoin(alloc, alloc.c.k == Lot.id)
        .where(or_(Lot.remaining != Lot.amount - allocated, Lot.remaining < 0,
                   Lot.remaining > Lot.amount)),
        lambda r: f"lot {r.id}",
        lambda r: f"amount {r.amount} - allocated {r.allocated} != remaining {r.remaining}")

    # Accounts: sum of entries = sum of lot remainders - debt; debt >= 0.
    entries = _sums(LedgerEntry.amount, LedgerEntry.account_id)
    lots = _sums(Lot.remaining, Lot.account_id)
    entry_sum = func.coalesce(entries.c.s, 0)
    lot_sum = func.coalesce(lots.c.s, 0)
    run("account_balance",
        select(Account.id, Account.debt, entry_sum.label("entries"), lot_sum.label("lots"))
        .outerjoin(entries, entries.c.k == Account.id).outerjoin(lots, lots.c.k == Account.id)
        .where(or_(entry_sum != lot_sum - Account.debt, Account.debt < 0)),
        lambda r: f"account {r.id}",
        lambda r: f"entries sum to {r.entries}, lots to {r.lots}, debt {r.debt}")

    # Negative entries: allocations never exceed them; spending and expiry are
    # fully covered by lots (they never create debt, so never a negative balance).
    spent = _sums(Allocation.amount, Allocation.entry_id, Allocation.kind == "spend")
    covered = func.coalesce(spent.c.s, 0)
    run("spending_covered",
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount, covered.label("covered"))
        .outerjoin(spent, spent.c.k == LedgerEntry.id)
        .where(LedgerEntry.amount < 0,
               or_(covered > -LedgerEntry.amount,
                   and_(LedgerEntry.kind.in_(("redemption", "expiry", "reward_order")),
                        covered != -LedgerEntry.amount))),
        lambda r: f"entry {r.id}",
        lambda r: f"{r.kind} of {-r.amount} covered by lots for {r.covered}")

    # Positive entries: their lots add up to them.
    made = _sums(Lot.amount, Lot.entry_id)
    lot_total = func.coalesce(made.c.s, 0)
    run("entry_lots",
        select(LedgerEntry.id, LedgerEntry.amount, lot_total.label("lots"))
        .outerjoin(made, made.c.k == LedgerEntry.id)
        .where(LedgerEntry.amount > 0, lot_total != LedgerEntry.amount),
        lambda r: f"entry {r.id}", lambda r: f"entry of {r.amount} has lots for {r.lots}")

    # Idempotency keys are applied once (the unique index guards it; so does this).
    run("idempotency_unique",
        select(LedgerEntry.idempotency_key, func.count().label("n"))
        .group_by(LedgerEntry.idempotency_key).having(func.count() > 1),
        lambda r: f"key {r.idempotency_key}", lambda r: f"applied {r.n} times")

    # Documents: what they earned is the net of their accrual and reversal entries.
    per_doc = _sums(LedgerEntry.amount, LedgerEntry.document_id,
                    LedgerEntry.kind.in_(("accrual", "reversal")))
    doc_sum = func.coalesce(per_doc.c.s, literal(0))
    run("document_earned",
        select(Document.id, Document.earned, doc_sum.label("entries"))
        .outerjoin(per_doc, per_doc.c.k == Document.id)
        .where(Document.earned != doc_sum),
        lambda r: f"document {r.id}", lambda r: f"earned {r.earned} but entries sum to {r.entries}")
    return found
