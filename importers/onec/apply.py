"""What 1C uploaded → the engine, inside the file's import run.

New cards nobody knows yet and new plain orders go a chunk at a time (`cards_bulk`,
`sale_chunks`); everything else one at a time, as described here.

The caller (``importers.onec.runs``) owns the import run (source "1c", kind
"sale" or "catalog", keyed by the file's SHA-256, so the same upload twice
changes nothing). Here customer cards go first (merges by phone are recorded
by ``engine.members.merges``), then documents, each in its own savepoint and
its bonus write-off in a nested one, so a refused write-off is quarantined
while the order itself goes through. Every outcome is counted and explained
for the exchange log.

Decisions (also in the README, "From 1C to us"):
- A document whose ``НомерВерсии`` is not newer than the stored one is ignored.
  A newer version updates the status; its lines replace the stored ones only
  while the order has earned nothing (afterwards only a return changes points).
- A web-channel document updates the shop's own order (source "shop", the
  shop's order id); an unknown web order is created under source "shop", so the
  shop and 1C can never make two documents (and two accruals) of one order.
- A write-off is the document's whole ``БонусовСписано``: a newer version with
  more posts only the difference; with less, the order's 1C write-offs are
  refunded and the new amount spent again. More than the balance is refused
  whole (quarantined and reported), never partly applied.
- A return (``Возврат товара``) names its order; its lines are matched to the
  order's lines by product.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, imports, ledger, members, outbox
from engine.documents import orders, redemptions
from engine.domain import Origin, PurchaseDoc, RowError, WriteOffDoc
from engine.members import merges
from engine.models import Document, DocumentCard, ImportRun, Member, Redemption
from importers.onec import cards_bulk, sale_chunks
from importers.onec.commerceml import ExchangeBatch, is_newer_version

SOURCE = "1c"
SHOP = "shop"
ZERO = Decimal(0)
MAX_MESSAGES = 200
SALE_COUNTS = ("customers", "customers_without_phone", "merges", "documents",
               "documents_applied", "documents_updated", "documents_unchanged",
               "documents_ignored", "write_offs", "write_offs_applied", "write_offs_refunded",
               "write_offs_refused", "quarantined", "ignored")
Checkpoint = Callable[[int, int], None]


@dataclass
class Report:
    """Counts and plain-language messages for the exchange log."""

    counts: Counter = field(default_factory=Counter)
    messages: list[dict] = field(default_factory=list)

    def note(self, level: str, what: str, reason: str) -> None:
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append({"level": level, "what": what, "reason": reason})
        else:
            self.counts["messages_dropped"] += 1

    def tally(self) -> imports.Tally:
        c = self.counts
        return imports.Tally(
            rows_read=c["customers"] + c["documents"] + c["groups"] + c["products"]
            + c["ignored"] + c["errors"],
            applied=c["customers_applied"] + c["documents_applied"] + c["documents_updated"]
            + c["write_offs_applied"] + c["write_offs_refunded"] + c["products_applied"]
            + c["groups_applied"],
            duplicates=c["customers_unchanged"] + c["documents_unchanged"]
            + c["products_unchanged"],
            quarantined=c["quarantined"])


def _guarded(session: Session, run: ImportRun, report: Report, what: str,
             origin: Origin | None, work: Callable):
    """Run ``work`` in a savepoint; on a document error quarantine it. (ok, result)."""
    try:
        with session.begin_nested():
            return True, work()
    except imports.DOCUMENT_ERRORS as exc:
        imports.quarantine(session, run, RowError(origin or Origin(SOURCE), what, str(exc),
                                                  {"code": getattr(exc, "code", "invalid")}))
        report.counts["quarantined"] += 1
        report.note("error", what, str(exc))
        return False, None


def _quarantine_errors(session: Session, run: ImportRun, report: Report, errors) -> None:
    for error in errors:
        imports.quarantine(session, run, error)
        report.counts["quarantined"] += 1
        report.counts["errors"] += 1
        report.note("error", error.raw[:120] or "document", error.reason)


def apply_sale(session: Session, run: ImportRun, batch: ExchangeBatch, *, actor: str,
               now: Callable[[], datetime] = clock.now, checkpoint: Checkpoint | None = None,
               every: int = 200, chunked: bool = True) -> Report:
    """``chunked``: documents a chunk at a time (`importers.onec.sale_chunks`, credits announced per
    member when the file is done); False: every document the per-document way, announced one by one."""
    report = Report(Counter({key: 0 for key in SALE_COUNTS}))
    _quarantine_errors(session, run, report, batch.errors)
    for item in batch.ignored:
        report.counts["ignored"] += 1
        report.note("info", item.extra.get("id") or "document", item.reason)
    write_offs = {w.document_external_id: w for w in batch.write_offs}
    total, done = len(batch.customers) + len(batch.documents), 0
    cards = batch.customers
    if chunked:  # new cards nobody knows in a few statements (`cards_bulk`), the rest one by one
        new, cards = cards_bulk.split(session, cards, now=now())
        cards_bulk.create(session, new, now=now())
        for card in new:
            _card_seen(report, card)
            report.counts["customers_applied"] += 1
        done = len(new)
    for card in cards:
        _customer(session, run, report, card, actor=actor, now=now())
        done += 1
        if checkpoint and done % every == 0:
            checkpoint(done, total)
    if chunked:
        cards = done
        sale_chunks.apply_documents(
            session, run.id, [(doc, write_offs.get(doc.external_id)) for doc in batch.documents],
            report.counts, actor=actor, now=now, one_by_one=lambda doc, write_off: _document(
                session, run, report, doc, write_off, actor=actor, now=now()),
            after_chunk=(lambda n: checkpoint(cards + n, total)) if checkpoint else None)
        outbox.announce_run(session, run.id, now(), summary={
            "kind": run.kind, "file": run.filename, "documents": report.counts["documents"]})
        return report
    for doc in batch.documents:
        _document(session, run, report, doc, write_offs.get(doc.external_id), actor=actor,
                  now=now())
        done += 1
        if checkpoint and done % every == 0:
            checkpoint(done, total)
    return report


def _card_seen(report: Report, card) -> str:
    what = f"card {card.external_id} ({card.name})" if card.name else f"card {card.external_id}"
    report.counts["customers"] += 1
    if card.phone is None:
        report.counts["customers_without_phone"] += 1
        report.note("warning", what, "kept without a phone: " + (
            f"'{card.phone_raw}' is not a valid phone number" if card.phone_raw
            else "the card has no phone") + ", so it cannot be merged with other cards")
    return what


def _customer(session, run, report: Report, card, *, actor: str, now: datetime) -> None:
    what = _card_seen(report, card)
    ok, result = _guarded(session, run, report, what, card.origin, lambda: merges.upsert_card(
        session, card, actor=actor, now=now, import_run_id=run.id))
    if not ok:
        return
    report.counts["customers_applied" if result.outcome == "applied"
                  else "customers_unchanged"] += 1
    if result.merge is not None:
        report.counts["merges"] += 1
        report.note("info", what, f"merged by phone (merge {result.merge.id}): "
                                  f"{result.merge.reason}")
    if result.note:
        report.note("warning", what, result.note)


def _label(doc: PurchaseDoc) -> str:
    kind = "return" if doc.document_type == "correction" else "order"
    number = f" № {doc.number}" if doc.number and doc.number != doc.external_id else ""
    return f"{kind} {doc.external_id}{number}"


def _document(session, run, report: Report, doc: PurchaseDoc, write_off: WriteOffDoc | None, *,
              actor: str, now: datetime) -> None:
    what = _label(doc)
    report.counts["documents"] += 1

    def work():
        outcome, document = apply_purchase(session, doc, report, actor=actor, now=now)
        if document is not None and outcome != "ignored":
            if write_off is not None:
                report.counts["write_offs"] += 1
            ok, result = _guarded(session, run, report, f"write-off on {what}", doc.origin,
                                  lambda: apply_write_off(session, doc, write_off, actor=actor,
                                                          now=now))
            if not ok:
                report.counts["write_offs_refused"] += 1
            elif result:
                report.counts[f"write_offs_{result}"] += 1
        return outcome

    ok, outcome = _guarded(session, run, report, what, doc.origin, work)
    if ok:
        report.counts[f"documents_{outcome}"] += 1


def apply_purchase(session: Session, doc: PurchaseDoc, report: Report, *, actor: str,
                   now: datetime) -> tuple[str, Document | None]:
    """(applied | updated | unchanged | ignored, the stored document)."""
    what = _label(doc)
    source = SHOP if doc.channel == "web" else doc.source
    existing = orders.find(session, source, doc.external_id)
    if existing is None:
        document, _created = orders.record_purchase(session, replace(doc, source=source),
                                                    actor=actor, now=now)
        if source == SHOP:
            report.note("warning", what, "the shop never sent this web order; it was created "
                                         "from 1C under the shop's order id")
        if doc.member_ref.startswith("onec:"):
            session.add(DocumentCard(document_id=document.id, card_id=doc.member_ref[5:],
                                     created_at=now))
        return "applied", document
    if existing.version is not None and not is_newer_version(doc.version, existing.version):
        report.note("info", what, f"version {doc.version or '(none)'} is not newer than version "
                                  f"{existing.version} already applied; ignored")
        return "ignored", None
    changed = False
    if source == SOURCE:
        revised = orders.revise(session, existing, doc)
        changed = revised == "replaced"
        if revised == "kept":
            report.note("warning", what, "its goods changed in 1C after it earned points; points "
                                         "still follow the goods first received (book a return "
                                         "for goods taken back)")
    target = "cancelled" if doc.cancelled else doc.status
    if existing.document_type == "correction":
        target = None  # a return has no status of its own
    if target and target != existing.status:
        if target in orders.TRANSITIONS.get(existing.status, ()):
            orders.set_status(session, existing, target, actor=actor, now=now)
            changed = True
        else:
            report.note("warning", what, f"1C says {target}, but the order is already "
                                         f"{existing.status}; it stays {existing.status}")
    if doc.version:
        existing.version = doc.version[:64]
    return ("updated" if changed else "unchanged"), existing


def apply_write_off(session: Session, doc: PurchaseDoc, write_off: WriteOffDoc | None, *,
                    actor: str, now: datetime) -> str | None:
    """Make the order's 1C write-offs add up to ``БонусовСписано``: applied | refunded |
    None (nothing to do). Cancelled orders are refunded by their status change."""
    if doc.document_type != "order" or doc.cancelled:
        return None
    order_id = doc.external_id
    if write_off is not None and session.execute(select(Redemption.id).where(
            Redemption.source == SOURCE, Redemption.external_id == write_off.external_id)).first():
        return None  # this version's write-off was applied already
    active = list(session.execute(select(Redemption).where(
        Redemption.source == SOURCE, Redemption.order_external_id == order_id,
        Redemption.status == "active").order_by(Redemption.id)).scalars())
    spent = sum((r.points for r in active), ZERO)
    wanted = write_off.points if write_off is not None else ZERO
    if wanted == spent:
        return None
    result = "applied"
    if wanted < spent:
        for redemption in active:
            redemptions.cancel(session, redemption, actor=actor, now=now,
                               reason=f"1C lowered the write-off on order {order_id} to {wanted}")
        spent, result = ZERO, "refunded"
    if wanted > spent:
        _spend(session, write_off, wanted - spent, order_id, actor=actor, now=now)
    return result


def _spend(session: Session, write_off: WriteOffDoc, points: Decimal, order_id: str, *,
           actor: str, now: datetime) -> None:
    request = redemptions.RedemptionRequest(
        source=SOURCE, external_id=write_off.external_id, member_ref=write_off.member_ref,
        points=points, order_external_id=order_id)
    try:
        redemptions.redeem(session, request, actor=actor, now=now)
    except ledger.InsufficientPoints as exc:
        member = members.resolve(session, write_off.member_ref)
        who = f"member {member.loyalty_id}" if isinstance(member, Member) else "the member"
        raise redemptions.RedemptionNotAllowed(
            f"the write-off of {points} points on order {order_id} was refused: {who} has only "
            f"{exc.available} points available; nothing was written off") from None
