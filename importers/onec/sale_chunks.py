"""A 1C exchange file's documents a chunk at a time: new plain orders set-based, the rest one by one.

For each chunk of ``CHUNK`` documents (in file order) the members are looked up once
(`engine.members.lookup.find_by_refs`), the documents already stored once, and the chunk's accounts
locked in id order (`ledger.lock_accounts`, which gives their debt). An account goes the set-based
way (`engine.documents.sales_batch`) only when every document of it in the chunk is a new order
(not known yet, its key once in the chunk) of the 1C channel (not a web order), not cancelled, with
no promo codes and no bonus write-off, values that fit their columns, and the account has no debt
and its member was not referred (the first purchase fires the referral policy) nor merged away. A
program with missions takes the per-document way whole. Everything else — returns, new versions of
known documents, cancellations, write-offs, unknown members — goes the per-document way
(`importers.onec.apply`), in file order, account by account, so its outcome and refusals are
today's. A file sent again finds its documents stored and changes nothing.

Each chunk's credits are held for the import run (`engine.outbox.runs`), by both ways: the run
announces one ``points.credited`` per member when it ends, as the SAP import does.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import ledger, members, outbox, policies
from engine.accrual.sales import BulkOrder
from engine.documents import orders, sales_batch, store
from engine.domain import PurchaseDoc, WriteOffDoc
from engine.members.lookup import find_by_refs
from engine.models import Mission

CHUNK = 1000
SOURCE = "1c"
BIGGEST = Decimal(10) ** 14  # NUMERIC(18, 4)
PLAIN = ("placed", "paid", "fulfilled")
OneByOne = Callable[[PurchaseDoc, WriteOffDoc | None], None]


def _fits(doc: PurchaseDoc) -> bool:
    """Values the set-based writer stores as they are (else the per-document path gives the error)."""
    if len(doc.external_id) > 100 or len(doc.number or "") > 64 or len(doc.currency) != 3 \
            or len(doc.store or "") > 64 or len(doc.version or "") > 64 or len(doc.member_ref) > 69 \
            or not -BIGGEST < doc.shipping_total < BIGGEST:
        return False
    return all(len(l.sku) <= 64 and len(l.name) <= 200 and len(l.product_group) <= 64 and len(l.brand) <= 64
               and -BIGGEST < l.quantity < BIGGEST and -BIGGEST < l.unit_price < BIGGEST
               and -BIGGEST < l.line_total < BIGGEST for l in doc.lines)


def _plain(doc: PurchaseDoc, write_off: WriteOffDoc | None) -> bool:
    return (doc.document_type == "order" and doc.source == SOURCE and doc.channel != "web" and not doc.cancelled
            and doc.number is not None
            and doc.status in PLAIN and not doc.codes and write_off is None and _fits(doc))


def apply_chunk(session: Session, items: list[tuple[PurchaseDoc, WriteOffDoc | None]], counts: Counter, *,
                actor: str, now: datetime, one_by_one: OneByOne) -> int:
    """Apply one chunk; returns how many documents went the set-based way."""
    regions = tuple(policies.settings(session, now).phone_regions)
    found = find_by_refs(session, {doc.member_ref for doc, _w in items}, regions)
    account_of: dict[str, int | None] = {}
    for doc, _w in items:
        ref = doc.member_ref
        if ref in found:
            account_of[ref] = found[ref].account_id
        elif ref not in account_of:  # merged away, or a reference of another kind: the account goes one by one
            member = members.resolve(session, ref)
            account_of[ref] = member.account_id if member is not None else None
    debts = ledger.lock_accounts(session, {a for a in account_of.values() if a is not None})
    existing = store.existing_documents(session, SOURCE, [doc.external_id for doc, _w in items])
    keys = Counter(doc.external_id for doc, _w in items)
    missions = session.execute(select(Mission.id).limit(1)).first() is not None
    slow: set = set()
    for doc, write_off in items:
        account, member = account_of[doc.member_ref], found.get(doc.member_ref)
        if (missions or member is None or not _plain(doc, write_off) or doc.external_id in existing
                or keys[doc.external_id] > 1 or debts.get(account, 0) > 0 or member.referred_by_id is not None):
            slow.add(account)
    fast = [BulkOrder(doc.external_id, doc.number, found[doc.member_ref], doc.placed_at, doc.currency, doc.channel,
                      doc.store or "", doc.status, doc.shipping_total, doc.version, doc.lines,
                      orders.content_hash(doc), doc.member_ref[5:] if doc.member_ref.startswith("onec:") else None)
            for doc, _w in items if account_of[doc.member_ref] not in slow]
    if fast:
        sales_batch.post_orders(session, fast, source=SOURCE, actor=actor, now=now)
        counts["documents"] += len(fast)
        counts["documents_applied"] += len(fast)
    for doc, write_off in items:
        if account_of[doc.member_ref] in slow:
            one_by_one(doc, write_off)
    return len(fast)


def apply_documents(session: Session, run_id: int, items: list[tuple[PurchaseDoc, WriteOffDoc | None]],
                    counts: Counter, *, actor: str, now: Callable[[], datetime], one_by_one: OneByOne,
                    after_chunk: Callable[[int], None] | None = None) -> int:
    """All the file's documents, a chunk at a time; ``after_chunk(documents done)`` after each chunk's
    credits are held (the caller commits there). Returns how many went the set-based way."""
    bulk = 0
    for start in range(0, len(items), CHUNK):
        with outbox.runs.batched(session, run_id):
            bulk += apply_chunk(session, items[start:start + CHUNK], counts, actor=actor, now=now(),
                                one_by_one=one_by_one)
        if after_chunk is not None:
            after_chunk(min(start + CHUNK, len(items)))
    return bulk
