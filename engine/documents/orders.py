"""Purchases: recording orders, invoices and corrections, and their status transitions.

Every source (shop API, SAP B1 file, 1C) hands a `PurchaseDoc` to
`record_purchase`; a document is known by (source, external_id), so the same
document arriving twice changes nothing, and a different document under a
known key is a conflict, never an overwrite.
"""
from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from engine import accrual, members, policies
from engine.documents import corrections, fingerprint, refunds, states, store

# The errors are named here too, where callers meet them.
from engine.documents.errors import DocumentConflict as DocumentConflict
from engine.documents.errors import DocumentError as DocumentError
from engine.documents.errors import InvalidCorrection as InvalidCorrection
from engine.documents.errors import InvalidTransition as InvalidTransition
from engine.documents.errors import UnknownDocument as UnknownDocument
from engine.documents.errors import UnknownLine as UnknownLine
from engine.documents.errors import UnknownReference as UnknownReference
from engine.domain import PurchaseDoc
from engine.engagement import referrals
from engine.models import Document, DocumentLine, Member, Product
from engine.models.base import filled, tidy
from engine.models.bulk import is_postgres

ZERO = Decimal(0)

# The state machine lives in `states`; importers read the transitions from here too.
TRANSITIONS = states.TRANSITIONS


def content_hash(doc: PurchaseDoc) -> str:
    """A fingerprint of what a document says, apart from its status."""
    return fingerprint.content_hash(
        document_type=doc.document_type, member_ref=doc.member_ref, placed_at=doc.placed_at,
        currency=doc.currency, lines=doc.lines, channel=doc.channel, store=doc.store,
        shipping=str(doc.shipping_total), base=doc.base_external_id, codes=doc.codes)


_FIND = select(Document).where(Document.source == bindparam("source"),
                               Document.external_id == bindparam("external_id"))  # built once: every order asks


def find(session: Session, source: str, external_id: str) -> Document | None:
    return session.execute(_FIND, {"source": source, "external_id": external_id}).scalar_one_or_none()


def get(session: Session, source: str, external_id: str) -> Document:
    document = find(session, source, external_id)
    if document is None:
        raise UnknownDocument(f"there is no document {external_id!r} from {source}")
    return document


def record_purchase(session: Session, doc: PurchaseDoc, *, actor: str, now: datetime,
                    accrue_from: datetime | None = None) -> tuple[Document, bool]:
    """Store a purchase and apply its status; returns (document, created).

    ``accrue_from`` is when held points start their holding period: the
    moment of the status change for shop orders, the document date for ERP
    invoices (which count as fulfilled on their date).
    """
    ahead = _look_ahead(session, doc)
    if ahead is None:
        existing, member, catalog = find(session, doc.source, doc.external_id), None, None
    else:
        member, document_id, catalog = ahead
        existing = None if document_id is None else find(session, doc.source, doc.external_id)
    if existing is None and doc.document_type == "correction":
        doc = corrections.with_base_lines(find(session, doc.source, doc.base_external_id or ""), doc)
    fingerprint = content_hash(doc)
    if existing is not None:
        if existing.content_hash != fingerprint:
            raise DocumentConflict(
                f"document {doc.external_id!r} from {doc.source} was already received "
                "with different content")
        if doc.cancelled and existing.status != "cancelled":
            set_status(session, existing, "cancelled", actor=actor, now=now)
        elif doc.status and doc.status != existing.status and \
                doc.status in TRANSITIONS.get(existing.status, ()):
            set_status(session, existing, doc.status, actor=actor, now=now,
                       accrue_from=accrue_from)
        return existing, False
    if member is None:
        member = members.get(session, doc.member_ref)
    document = filled(Document, dict(
        source=doc.source, external_id=doc.external_id, document_type=doc.document_type,
        number=doc.number, member_id=member.id, account_id=member.account_id,
        channel=doc.channel, store=doc.store, currency=doc.currency, placed_at=doc.placed_at,
        status="placed", shipping_total=doc.shipping_total, version=doc.version,
        total=sum((line.line_total for line in doc.lines), ZERO), content_hash=fingerprint,
        codes=list(doc.codes) or None,
        earned=ZERO, absorbed=ZERO, created_at=now))  # set, not defaulted: read before the INSERT
    document.lines.extend(_document_lines(session, doc, catalog))
    document.fresh_member = member  # see the model: the answer reads it back
    # Not in the session yet: `store.insert_document` writes it once complete, with its lines.
    if doc.document_type == "correction":
        store.insert_document(session, document)
        apply_correction(session, document, doc.base_external_id, actor=actor, now=now)
    elif doc.status and doc.status != "placed" and not doc.cancelled:
        # The accrual writes it just before its lock, with its status, points and lines' points in one
        # go (no UPDATE after the INSERT); nothing in between needs it in the database.
        set_status(session, document, doc.status, actor=actor, now=now, accrue_from=accrue_from)
    else:
        if doc.cancelled:
            document.status = "cancelled"
        store.insert_document(session, document)
    return document, True


def record_return(session: Session, base: Document, return_id: str, items: list[corrections.ReturnItem], *,
                  origin, actor: str, now: datetime) -> Document:
    """A return of ``items`` of a stored order (a correction named after it); returns the order."""
    states.check_operation(base, "correct")
    member = session.get(Member, base.member_id)
    doc = PurchaseDoc(source=base.source, external_id=f"{base.external_id}/returns/{return_id}",
                      document_type="correction", member_ref=member.loyalty_id, placed_at=now,
                      currency=base.currency, lines=corrections.correction_for(base, items), channel=base.channel,
                      store=base.store, base_external_id=base.external_id, origin=origin)
    record_purchase(session, doc, actor=actor, now=now)
    return base


def _document_lines(session: Session, doc: PurchaseDoc, catalog: dict | None = None) -> list[DocumentLine]:
    """``catalog``: `_catalog` of the lines' SKUs when the caller has it already."""
    if catalog is None:
        catalog = _catalog(session, [line.sku for line in doc.lines])
    out = []
    for line in doc.lines:
        product = catalog.get(line.sku)
        out.append(filled(DocumentLine, dict(
            line_no=line.line_no, sku=line.sku, name=line.name or (product.name if product else ""),
            product_group=line.product_group or (product.product_group if product else ""),
            brand=line.brand or (product.brand if product else ""), quantity=line.quantity,
            unit_price=line.unit_price, line_total=line.line_total, is_promo=line.is_promo,
            points_per_unit=product.points_per_unit if product else None,
            tags=(product.tags or None) if product else None,
            base_line_no=line.base_line_no, returned_quantity=ZERO, returned_total=ZERO)))
    return out


def revise(session: Session, document: Document, doc: PurchaseDoc) -> str:
    """A newer revision of a stored document from its source (1C's НомерВерсии).

    "same": its lines (and promo codes) did not change. "replaced": they changed before the
    document earned anything, so the new lines count. "kept": they changed
    after it earned points, or its status takes no revision (a correction, a
    cancelled or returned order: `states`); then only a correction changes
    what it earns, so the stored lines stay.
    """
    def shape(lines, shipping, currency, codes):
        return ([(l.line_no, l.sku, l.quantity, l.unit_price, l.line_total, l.is_promo)
                 for l in lines], shipping, currency, tuple(codes or ()))

    if shape(doc.lines, doc.shipping_total, doc.currency, doc.codes) == \
            shape(document.lines, document.shipping_total, document.currency, document.codes):
        return "same"
    if document.accrued_at is not None or not states.allows(document, "revise"):
        return "kept"
    for line in list(document.lines):
        session.delete(line)
    session.flush()  # deletes first: the new lines reuse the (document, line_no) keys
    session.expire(document, ["lines"])
    document.lines.extend(_document_lines(session, doc))
    document.total = sum((line.line_total for line in doc.lines), ZERO)
    document.shipping_total, document.currency = doc.shipping_total, doc.currency
    document.codes = list(doc.codes) or None
    document.content_hash = content_hash(doc)
    session.flush()
    return "replaced"


_PRODUCTS = Product.__table__
# Built once, on the table: the columns a line takes from its product, without loading Product objects.
_CATALOG = select(_PRODUCTS.c.sku, _PRODUCTS.c.name, _PRODUCTS.c.product_group, _PRODUCTS.c.brand,
                  _PRODUCTS.c.points_per_unit, _PRODUCTS.c.tags).where(
    _PRODUCTS.c.sku.in_(bindparam("skus", expanding=True)))


def _catalog(session: Session, skus: list[str]) -> dict:
    """sku → the catalog's row (name, product_group, brand, points_per_unit, tags) of the known SKUs."""
    if not skus:
        return {}
    return {row.sku: row for row in session.execute(_CATALOG, {"skus": sorted(set(skus))})}


_KNOWN = select(Document.__table__.c.id).where(
    Document.__table__.c.source == bindparam("source"),
    Document.__table__.c.external_id == bindparam("external_id")).scalar_subquery()
# The catalog's rows as one JSON array (points per unit as exact text) for the member lookup to carry.
_CATALOG_JSON = select(func.jsonb_agg(func.jsonb_build_array(
    _PRODUCTS.c.sku, _PRODUCTS.c.name, _PRODUCTS.c.product_group, _PRODUCTS.c.brand,
    cast(_PRODUCTS.c.points_per_unit, Text), _PRODUCTS.c.tags))).where(
    # One array parameter, not an expanding IN: the statement's text is the same for any number of SKUs,
    # so it stays prepared, and nothing is rewritten per execution.
    _PRODUCTS.c.sku == func.any(bindparam("skus", type_=ARRAY(Text)))).scalar_subquery()
_AHEAD = (_KNOWN, _CATALOG_JSON)
_ACCRUING = frozenset(("paid", "fulfilled"))
CatalogRow = namedtuple("CatalogRow", "sku name product_group brand points_per_unit tags")


def _look_ahead(session: Session, doc: PurchaseDoc) -> tuple[Member, int | None, dict] | None:
    """What a new purchase asks first, in one round trip (PostgreSQL): its member, whether the document is
    stored already, its lines' catalog rows and, when it arrives paid or fulfilled (it will likely accrue),
    its account's lock. None where it does not apply (a correction, SQLite, a reference that matches
    nobody or a merged-away member): then each is asked on its own."""
    if doc.document_type == "correction" or not is_postgres(session):
        return None
    params = {"source": doc.source, "external_id": doc.external_id,
              "skus": sorted({line.sku for line in doc.lines})}
    found = members.resolve_with(session, doc.member_ref, _AHEAD, params,
                                 lock_account=doc.status in _ACCRUING and not doc.cancelled)
    if found is None:
        return None
    member, (document_id, rows) = found
    catalog = {}
    for sku, name, group, brand, per_unit, tags in rows or ():
        catalog[sku] = CatalogRow(sku, name, group, brand, None if per_unit is None else tidy(Decimal(per_unit)),
                                  tags)
    return member, document_id, catalog


def set_status(session: Session, document: Document, status: str, *, actor: str,
               now: datetime, accrue_from: datetime | None = None) -> Document:
    if status == document.status:
        return document
    states.check_transition(document, status)
    # The status goes out with the accrual's own write (a new document's INSERT, or one UPDATE).
    with session.no_autoflush:
        settings = policies.settings(session, document.placed_at) if status in ("paid", "fulfilled") else None
    previous, document.status = document.status, status
    if settings is not None:
        if status == settings.accrue_on or (status == "fulfilled" and previous == "placed"):
            accrual.accrue(session, document, actor=actor, now=now,
                           available_from=accrue_from or now)
    elif status in ("cancelled", "returned"):
        if status == "returned":
            for line in document.lines:
                line.returned_quantity, line.returned_total = line.quantity, line.line_total
            document.total = ZERO
        accrual.recompute(session, document, actor=actor, now=now,
                          key=f"{document.source}:{document.external_id}:{status}",
                          reason=f"order {status}")
        referrals.after_cancel(session, document, actor=actor, now=now)
        for redemption in refunds.of_order(session, document.source, document.external_id):
            refunds.cancel(session, redemption, actor=actor, now=now,
                           reason=f"order {document.external_id} {status}")
    store.insert_document(session, document)  # a new one that earned nothing is not written yet
    session.flush()
    return document


def apply_correction(session: Session, correction: Document, base_external_id: str | None,
                     *, actor: str, now: datetime) -> Document:
    """A return or credit note: reduce the base document's lines and recompute its
    points (the correction itself earns nothing)."""
    if not base_external_id:
        raise UnknownReference("a correction must name the document it corrects")
    base = find(session, correction.source, base_external_id)
    if base is None:
        raise UnknownReference(
            f"the corrected document {base_external_id!r} from {correction.source} is unknown")
    if base.member_id != correction.member_id:
        raise InvalidCorrection("a correction must belong to the same customer as its document")
    states.check_operation(base, "correct")
    correction.base_document_id = base.id
    lines = {line.line_no: line for line in base.lines}
    for line in correction.lines:
        target = lines.get(line.base_line_no) if line.base_line_no is not None else None
        if target is None:
            raise UnknownReference(
                f"line {line.line_no} corrects line {line.base_line_no} of "
                f"{base_external_id}, which does not exist")
        if (target.returned_quantity + line.quantity > target.quantity
                or target.returned_total + line.line_total > target.line_total):
            raise InvalidCorrection(
                f"line {line.line_no} returns more of line {target.line_no} "
                f"({target.sku}) than {base_external_id} holds")
        target.returned_quantity += line.quantity
        target.returned_total += line.line_total
    base.total = sum((l.line_total - l.returned_total for l in base.lines), ZERO)
    correction.status = "fulfilled"
    correction.accrued_at = now  # a correction never earns
    if all(l.returned_total >= l.line_total and l.returned_quantity >= l.quantity for l in base.lines):
        base.status = "returned"  # a status `correct` allows becoming returned (states)
    accrual.recompute(session, base, actor=actor, now=now,
                      key=f"{base.source}:{base.external_id}:correction:{correction.external_id}",
                      reason=f"correction {correction.number or correction.external_id}")
    # What was spent on the order comes back with the goods: the one refund of every return path.
    refunds.after_correction(session, base, correction, actor=actor, now=now)
    session.flush()
    return base
