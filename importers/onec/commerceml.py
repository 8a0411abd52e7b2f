"""What 1C uploads in a `sale` exchange → an ExchangeBatch of domain documents.

``parse_exchange`` accepts CommerceML 2.0x (``Документ`` under the root) and
3.x (``Контейнер/Документ``) files, orders and customer files alike. A file
that is hostile or not XML raises ``XMLError`` as a whole; inside a readable
file, a bad document becomes a ``RowError`` and never stops the others.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.domain import CustomerDoc, Origin, PurchaseDoc, RowError, WriteOffDoc
from engine.onec import ExchangeConfig
from importers.onec.customers import SOURCE, merge_cards, parse_customer
from importers.onec.documents import Ignored, document_buyer, parse_document
from importers.onec.safexml import element_lines, parse_xml
from importers.onec.values import ValueProblem, child, children, snippet, text

ROOT = "КоммерческаяИнформация"
_DOC_PATHS = (("Документ",), ("Контейнер", "Документ"))
_CARD_PATHS = (("Контрагенты", "Контрагент"), ("Контейнер", "Контрагенты", "Контрагент"),
               ("Контейнер", "Контрагент"))


@dataclass
class ExchangeBatch:
    """Everything one uploaded file carried, ready for the import pipeline."""

    origin_name: str
    schema_version: str = ""
    generated_at: datetime | None = None
    customers: list[CustomerDoc] = field(default_factory=list)
    documents: list[PurchaseDoc] = field(default_factory=list)
    write_offs: list[WriteOffDoc] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)  # quarantined
    ignored: list[RowError] = field(default_factory=list)  # not for us; logged, not quarantined

    @property
    def customers_without_phone(self) -> list[CustomerDoc]:
        return [c for c in self.customers if c.phone is None]

    def counts(self) -> dict[str, int]:
        """For the exchange log."""
        return {"customers": len(self.customers),
                "customers_without_phone": len(self.customers_without_phone),
                "documents": len(self.documents), "write_offs": len(self.write_offs),
                "errors": len(self.errors), "ignored": len(self.ignored)}


def version_key(version: str | None) -> tuple[int, int] | None:
    """A comparable form of ``НомерВерсии``, or None when it cannot be ordered.

    Digits compare as numbers; 1C's ``ВерсияДанных`` (base64 of an up to
    16-byte big-endian counter, e.g. ``AAAAAAAAB9A=``) compares as that counter.
    """
    value = (version or "").strip()
    if not value:
        return None
    if value.isdigit():
        return (0, int(value))
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return (1, int.from_bytes(raw, "big")) if 0 < len(raw) <= 16 else None


def is_newer_version(new: str | None, old: str | None) -> bool:
    """Whether a document at version ``new`` should replace one seen at ``old``.

    Only a version that is provably older or equal is skipped: missing or
    incomparable versions are applied (the import is idempotent anyway).
    """
    if old is None or new is None:
        return True
    if new.strip() == old.strip():
        return False
    new_key, old_key = version_key(new), version_key(old)
    if new_key is None or old_key is None or new_key[0] != old_key[0]:
        return True
    return new_key > old_key


def _generated_at(root: dict, config: ExchangeConfig) -> datetime | None:
    raw = text(root.get("@ДатаФормирования"))
    if not raw:
        return None
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=config.tz)


def _nodes(root: dict, paths: tuple[tuple[str, ...], ...], lines: dict
           ) -> list[tuple[Any, int | None]]:
    found = []
    for path in paths:
        nodes = children(root, *path)
        path_lines = lines.get(path, [])
        found.extend((node, path_lines[i] if i < len(path_lines) else None)
                     for i, node in enumerate(nodes))
    return found


def unreadable(exc: Exception) -> str:
    """The quarantine reason for an element: a `ValueProblem`'s sentence, else the unforeseen error named."""
    if isinstance(exc, ValueProblem):
        return str(exc)
    return f"the element could not be read ({exc.__class__.__name__}: {str(exc)[:200]})"


def parse_exchange(data: bytes, config: ExchangeConfig | None = None,
                   origin_name: str = "") -> ExchangeBatch:
    """Parse one uploaded `sale` file (raises XMLError when the file as a whole is refused)."""
    config = config or ExchangeConfig()
    tree = parse_xml(data, max_bytes=config.max_xml_bytes, max_depth=config.max_xml_depth,
                     root=ROOT)
    root = tree[ROOT]
    lines = element_lines(data, set(_DOC_PATHS) | set(_CARD_PATHS), max_depth=config.max_xml_depth)
    batch = ExchangeBatch(origin_name=origin_name, schema_version=text(root.get("@ВерсияСхемы")),
                          generated_at=_generated_at(root, config))
    cards: dict[str, CustomerDoc] = {}

    def add_card(card: CustomerDoc) -> None:
        cards[card.external_id] = merge_cards(cards[card.external_id], card) \
            if card.external_id in cards else card

    for index, (node, line) in enumerate(_nodes(root, _CARD_PATHS, lines), start=1):
        origin = Origin(SOURCE, origin_name, line)
        try:
            add_card(parse_customer(node, config, origin))
        except Exception as exc:  # the barrier: one card never fails the file
            batch.errors.append(RowError(origin, snippet("Контрагент", node), unreadable(exc),
                                         {"element": "Контрагент", "index": index}))

    kept: dict[str, tuple[int, PurchaseDoc, WriteOffDoc | None]] = {}
    for index, (node, line) in enumerate(_nodes(root, _DOC_PATHS, lines), start=1):
        origin = Origin(SOURCE, origin_name, line)
        doc_id = text(child(node, "Ид")) or text(child(node, "Номер"))
        extra = {"element": "Документ", "index": index, "id": doc_id}
        try:
            parsed = parse_document(node, config, origin)
        except Ignored as exc:
            batch.ignored.append(RowError(origin, snippet("Документ", node, 300), str(exc), extra))
            continue
        except Exception as exc:  # the barrier: one document never fails the file
            batch.errors.append(RowError(origin, snippet("Документ", node), unreadable(exc), extra))
            try:
                buyer = document_buyer(node, config, origin)  # a good card despite a bad order
            except Exception:  # the order is quarantined already; its card is a bonus
                buyer = None
            if buyer is not None:
                add_card(buyer)
            continue
        if parsed.buyer is not None:
            add_card(parsed.buyer)
        doc = parsed.purchase
        previous = kept.get(doc.external_id)
        if previous and not is_newer_version(doc.version, previous[1].version):
            batch.ignored.append(RowError(origin, snippet("Документ", node, 300),
                                          "an equal or newer version of this document came "
                                          "earlier in the same file", extra))
            continue
        if previous:
            batch.ignored.append(RowError(previous[1].origin or origin, "",
                                          "superseded by a later copy in the same file",
                                          {"element": "Документ", "index": previous[0],
                                           "id": doc.external_id}))
        kept[doc.external_id] = (index, doc, parsed.write_off)

    batch.customers = list(cards.values())
    for _index, doc, write_off in kept.values():
        batch.documents.append(doc)
        if write_off is not None:
            batch.write_offs.append(write_off)
    return batch
