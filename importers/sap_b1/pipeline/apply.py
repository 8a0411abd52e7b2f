"""Applying one chunk of staged invoice or credit-note lines, whole, in the caller's transaction.

A chunk is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers share a run), its lines are grouped back into documents in file
order, and each document is checked as a whole (`grouping.held_back_reason`: a bad
line or disagreeing lines hold back the document), its customer looked up,
its fields measured against the columns. Then the chunk's accounts are
locked in id order and each account goes one of two ways:

* the set-based path (`engine.accrual.batch`, COPY) for new invoices of an
  account without debt, on PostgreSQL;
* new credit notes planned a chunk at a time (`engine.documents.credit_notes`,
  on SQLite too), which declines the accounts it cannot plan;
* the per-document path (`orders.record_purchase` in a savepoint) for the
  rest: declined credit notes, documents already known (duplicates, conflicts,
  cancellations of imported invoices), accounts in debt, SQLite.

Cancelling documents (CANCELED=C naming their invoice) go last, after the
invoices of the chunk are stored: each cancels its original through
`orders.set_status` once (an original already cancelled, by its Y or an
earlier C, is a duplicate); an original not yet imported quarantines it.

The caller commits once: the chunk is applied whole or not at all.
"""
from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import clock, imports, ledger, outbox
from engine.accrual import batch
from engine.documents import credit_notes, invoices, orders, store
from engine.documents.fingerprint import content_hash
from engine.domain import Origin, RowError
from engine.members.lookup import find_members
from engine.models import ImportChunk, ImportRun, StagedLine
from engine.models.bulk import driver_cursor
from importers.sap_b1 import SOURCE, InvoiceRow
from importers.sap_b1.grouping import describe, held_back_reason, whole_document
from importers.sap_b1.pipeline.parts import Header, Mapper, fields_of, quoted_fields, without_gc
from importers.sap_b1.pipeline.stage import StagingLost

NAME_LENGTH = 200


class Outcome(NamedTuple):
    documents: int
    applied: int
    duplicates: int
    quarantined: int
    skipped: int
    bulk_documents: int


def claim(session: Session, run_id: int, chunk_id: int | None = None) -> ImportChunk | None:
    """Take a pending chunk of the run (``chunk_id``: that one), skipping those other workers hold; or None."""
    stmt = (select(ImportChunk).where(ImportChunk.import_run_id == run_id, ImportChunk.status == "pending")
            .order_by(ImportChunk.lines.desc(), ImportChunk.chunk_no).limit(1))
    if chunk_id is not None:
        stmt = stmt.where(ImportChunk.id == chunk_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    chunk = session.execute(stmt).scalar_one_or_none()
    if chunk is None:
        return None
    # On SQLite this write takes the database's write lock: a second process waits, then finds it done.
    taken = session.execute(update(ImportChunk).where(ImportChunk.id == chunk.id, ImportChunk.status == "pending")
                            .values(worker=f"{os.uname().nodename}:{os.getpid()}", started_at=clock.now()))
    return chunk if taken.rowcount == 1 else None


LIMITS = (("ItemCode", 11, 64), ("ItmsGrpCod", 16, 64), ("Brand", 17, 64), ("DocNum", 2, 64),
          ("CardCode", 5, 64))
BIGGEST = 10 ** 14  # NUMERIC(18, 4)
_ABOVE, _BELOW = Decimal(BIGGEST), Decimal(-BIGGEST)  # Decimal against Decimal: twice as fast as against int


def _staged_rows(session: Session, run_id: int, bucket: int, expected: int) -> list:
    """The chunk's staged records in file order: (line number, document key, raw text, error, extra)."""
    if session.get_bind().dialect.name == "postgresql":
        with driver_cursor(session) as cursor:
            cursor.execute("SELECT seq, doc_key, raw, error, extra FROM import_lines "
                           "WHERE import_run_id = %s AND bucket = %s ORDER BY seq", (run_id, bucket))
            rows = cursor.fetchall()
    else:
        s = StagedLine
        rows = session.execute(select(s.seq, s.doc_key, s.raw, s.error, s.extra).where(
            s.import_run_id == run_id, s.bucket == bucket).order_by(s.seq)).all()
    if len(rows) != expected:
        raise StagingLost(f"chunk {bucket} of run {run_id} expected {expected} staged lines and found {len(rows)}")
    return rows


def _too_big(row: InvoiceRow) -> str | None:
    """Why a mapped line cannot be stored as it is (a value longer or larger than its column)."""
    if len(row.sku) <= 64 and len(row.product_group) <= 64 and len(row.brand) <= 64 and len(row.number) <= 64 \
            and len(row.card_code) <= 64 and len(row.doc_key) <= 100 and len(row.currency) <= 3 \
            and _BELOW < row.line_total < _ABOVE and _BELOW < row.quantity < _ABOVE \
            and _BELOW < row.unit_price < _ABOVE:
        return None  # the usual case, in one expression
    if len(row.doc_key) > 100:
        return f'DocEntry "{row.doc_key[3:43]}…" is longer than 97 characters'
    for column, index, limit in LIMITS:
        if len(row[index]) > limit:
            return f'{column} "{row[index][:40]}…" is longer than {limit} characters'
    if len(row.currency) > 3:
        return f'DocCur "{row.currency}" is not a three-letter currency code'
    if abs(row.line_total) >= BIGGEST or abs(row.quantity) >= BIGGEST or abs(row.unit_price) >= BIGGEST:
        return "a number in this row is too large to store"
    return None


class _Doc:
    __slots__ = ("key", "lines", "errors")

    def __init__(self, key: str):
        self.key, self.lines, self.errors = key, [], []


def _documents(rows, mapper: Mapper) -> tuple[list[_Doc], int]:
    """Staged records → (documents in the order their first line comes in the file, skipped records)."""
    docs: dict[str, _Doc] = {}
    skipped = 0
    split, delimiter, name, map_row = fields_of, mapper.header.delimiter, mapper.name, mapper.map_row
    quoted = quoted_fields([row[2] for row in rows if row[3] is None and '"' in row[2]], delimiter)
    quoted = iter(quoted) if quoted is not None else None
    for line_no, key, raw, error, extra in rows:
        doc = docs.get(key)
        if doc is None:
            doc = docs[key] = _Doc(key)
        if error is not None:
            doc.errors.append(RowError(Origin(SOURCE, name, line_no), raw, error, dict(extra or {})))
            continue
        try:
            if '"' not in raw:
                fields = raw.split(delimiter)
            else:
                fields = next(quoted) if quoted is not None else split(raw, delimiter)
        except Exception as exc:  # the barrier: staged text the splitter no longer reads is that row's fault
            doc.errors.append(RowError(Origin(SOURCE, name, line_no), raw, f"the row could not be read ({exc})",
                                       {"doc_key": key}))
            continue
        row = map_row(line_no, raw, fields)
        if type(row) is InvoiceRow:
            problem = _too_big(row)
            if problem is None:
                if len(row.name) > NAME_LENGTH:
                    row = row._replace(name=row.name[:NAME_LENGTH])
                doc.lines.append(row)
                continue
            row = RowError(Origin(SOURCE, name, line_no), raw, problem, {"doc_key": key})
        if isinstance(row, RowError):
            doc.errors.append(row)
        else:  # SkippedRow: the cancelling document SAP creates (CANCELED=C)
            skipped += 1
    return [doc for doc in docs.values() if doc.lines or doc.errors], skipped


class _Chunk:
    def __init__(self, session: Session, run: ImportRun, *, actor: str, now: datetime, use_bulk: bool):
        self.session, self.run, self.actor, self.now = session, run, actor, now
        self.use_bulk = use_bulk and session.get_bind().dialect.name == "postgresql"
        self.use_batches = use_bulk  # credit notes are planned a chunk at a time on SQLite too
        self.applied = self.duplicates = self.quarantined = self.bulk_documents = 0

    def hold_back(self, doc: _Doc, reason: str, code: str) -> None:
        for error in doc.errors:
            imports.quarantine(self.session, self.run, error)
        for line in doc.lines:
            imports.quarantine(self.session, self.run, RowError(line.origin, line.raw, reason,
                                                                {"doc_key": doc.key, "code": code}))
        self.quarantined += len(doc.errors) + len(doc.lines)

    def one_by_one(self, doc: _Doc, stored_status: str | None) -> None:
        """The per-document path, in a savepoint; a refused document is quarantined line by line."""
        purchase = next(iter(whole_document(doc.key, doc.lines, [])))
        try:
            with self.session.begin_nested():
                accrue_from = purchase.placed_at if purchase.document_type == "invoice" else None
                document, created = orders.record_purchase(self.session, purchase, actor=self.actor,
                                                           now=self.now, accrue_from=accrue_from)
        except imports.DOCUMENT_ERRORS as exc:
            self.hold_back(doc, str(exc), getattr(exc, "code", "invalid"))
            return
        if created or document.status != stored_status:  # new, or an imported invoice now cancelled
            self.applied += 1
        else:
            self.duplicates += 1

    def apply(self, docs: list[_Doc]) -> None:
        good = []
        for doc in docs:
            reason = held_back_reason(doc.key, doc.lines, doc.errors)
            if reason is not None:
                self.hold_back(doc, reason, "invalid_document")
                continue
            good.append(doc)
        found = find_members(self.session, {doc.lines[0].card_code for doc in good})
        known = []
        for doc in good:
            card = doc.lines[0].card_code
            if card in found:
                known.append((doc, found[card]))
            else:
                self.hold_back(doc, f"unknown customer {card}: no member has this CardCode, so the "
                                    f"{describe(doc.key)} was not imported; import the customers file first, "
                                    "then send the document again", "unknown_customer")
        self.route(known)

    def route(self, known: list) -> None:
        session = self.session
        debts = ledger.lock_accounts(session, {member.account_id for _doc, member in known})
        cancelling = [(doc, member) for doc, member in known if doc.lines[0].document_type == "cancellation"]
        known = [(doc, member) for doc, member in known if doc.lines[0].document_type != "cancellation"]
        existing = store.existing_documents(session, SOURCE, [doc.key for doc, _m in known])
        ways: dict[int, set[str]] = {}  # account → the ways its documents could go
        for doc, member in known:
            first, account = doc.lines[0], member.account_id
            if first.document_type == "correction" and doc.key not in existing and self.use_batches:
                way = "notes"  # `engine.documents.credit_notes` declines what it cannot plan
            elif (first.document_type != "invoice" or debts.get(account, 0) > 0
                    or member.referred_by_id is not None or not self.use_bulk):
                way = "slow"
            elif doc.key in existing and not self._duplicate(doc, existing[doc.key]):
                way = "slow"
            else:
                way = "fast"
            ways.setdefault(account, set()).add(way)
        slow_accounts = {account for account, found in ways.items() if found != {"fast"} and found != {"notes"}}
        notes = [(next(iter(whole_document(doc.key, doc.lines, []))), member) for doc, member in known
                 if ways[member.account_id] == {"notes"}]
        if notes:
            stored, declined = credit_notes.post_credit_notes(session, notes, source=SOURCE, actor=self.actor,
                                                              now=self.now, debts=debts)
            self.applied += stored
            self.bulk_documents += stored
            slow_accounts |= declined
        fast = []
        for doc, member in known:
            if member.account_id in slow_accounts:
                self.one_by_one(doc, existing.get(doc.key, (None, None))[1])
            elif ways[member.account_id] == {"notes"}:
                continue
            elif doc.key in existing:
                self.duplicates += 1
            else:
                first = doc.lines[0]  # InvoiceRows have every field BulkInvoice lines need
                fast.append(batch.BulkInvoice(doc.key, first.number, member, first.member_ref, first.placed_at,
                                             first.currency, first.cancelled, doc.lines))
        if fast:
            invoices.post_invoices(session, fast, source=SOURCE, actor=self.actor, now=self.now, debts=debts)
            self.applied += len(fast)
            self.bulk_documents += len(fast)
        for doc, member in cancelling:  # after the invoices: an original in this chunk is stored by now
            self.cancel(doc, member)

    def cancel(self, doc: _Doc, member) -> None:
        """A cancelling (C) document: cancel the invoice it names, once; quarantined while that is unknown."""
        first = doc.lines[0]
        original = orders.find(self.session, SOURCE, first.base_external_id)
        if original is None or original.document_type != "invoice":
            self.hold_back(doc, f"{describe(doc.key)} is the cancelling document (CANCELED=C) of invoice "
                                f"{first.base_external_id}, which has not been imported; import the file with "
                                "that invoice, then send this document again", "unknown_original")
            return
        if original.account_id != member.account_id:
            self.hold_back(doc, f"{describe(doc.key)} cancels invoice {first.base_external_id} of another "
                                f"customer (not {first.card_code})", "wrong_customer")
            return
        if original.status == "cancelled":
            self.duplicates += 1
            return
        try:
            with self.session.begin_nested():
                orders.set_status(self.session, original, "cancelled", actor=self.actor, now=self.now)
        except imports.DOCUMENT_ERRORS as exc:
            self.hold_back(doc, f"{describe(doc.key)} cannot cancel invoice {first.base_external_id}: {exc}",
                           getattr(exc, "code", "invalid"))
            return
        self.applied += 1

    @staticmethod
    def _duplicate(doc: _Doc, stored: tuple[str, str]) -> bool:
        """True when `record_purchase` would change nothing (same content, no status to apply)."""
        fingerprint, status = stored
        first = doc.lines[0]
        if fingerprint != content_hash(document_type="invoice", member_ref=first.member_ref, placed_at=first.placed_at,
                                       currency=first.currency, lines=doc.lines, channel="erp"):
            return False  # a conflict: the per-document path quarantines it with its reason
        if first.cancelled:
            return status == "cancelled"
        return "fulfilled" == status or "fulfilled" not in orders.TRANSITIONS.get(status, ())


def apply_chunk(session: Session, run: ImportRun, chunk: ImportChunk, *, filename: str, actor: str,
                use_bulk: bool = True, now: datetime | None = None) -> Outcome:
    """Apply a claimed chunk and record its outcome on the chunk and the run (no commit)."""
    with without_gc():
        return _apply_chunk(session, run, chunk, filename=filename, actor=actor, use_bulk=use_bulk, now=now)


def _apply_chunk(session: Session, run: ImportRun, chunk: ImportChunk, *, filename: str, actor: str,
                 use_bulk: bool, now: datetime | None) -> Outcome:
    now = now or clock.now()
    mapper = Mapper(Header.from_dict((run.details or {})["header"]), filename)
    docs, skipped = _documents(_staged_rows(session, run.id, chunk.chunk_no, chunk.lines), mapper)
    work = _Chunk(session, run, actor=actor, now=now, use_bulk=use_bulk)
    with outbox.runs.batched(session, run.id):  # one message per member when the run ends, not per invoice
        work.apply(docs)
    session.flush()
    outcome = Outcome(len(docs), work.applied, work.duplicates, work.quarantined, skipped, work.bulk_documents)
    session.execute(update(ImportChunk).where(ImportChunk.id == chunk.id).values(
        status="done", documents=outcome.documents, applied=outcome.applied, duplicates=outcome.duplicates,
        quarantined=outcome.quarantined, skipped=skipped, bulk_documents=outcome.bulk_documents,
        finished_at=clock.now()))
    session.execute(update(ImportRun).where(ImportRun.id == run.id).values(
        applied=ImportRun.applied + outcome.applied, duplicates=ImportRun.duplicates + outcome.duplicates,
        quarantined=ImportRun.quarantined + outcome.quarantined))
    return outcome
