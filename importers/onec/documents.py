"""One CommerceML `Документ` → PurchaseDoc (+ WriteOffDoc), with status, channel and member.

Decisions where the formats doc is silent (also in the README's 1C section):

- Which documents: ``ХозОперация`` in ``order_operations`` (default ``Заказ
  товара``; a document without ``ХозОперация`` counts as an order) or in
  ``return_operations`` (default ``Возврат товара``); anything else (payments,
  shipments, our own bonus documents echoed back) is ignored, not an error.
- Returns become ``document_type="correction"`` with ``base_external_id`` from
  ``Основание``; a return without ``Основание`` is an error (nothing to correct).
- Status, first match wins: ``Отменен``/``ПометкаУдаления`` true → cancelled;
  a ``Статус заказа`` text mapped to cancelled/returned; ``Финальный статус``
  true → fulfilled; posted (``Проведен``, unless ``require_posted`` is off) with
  a shipment date → fulfilled, with only a payment date or ``Заказ оплачен`` →
  paid; any other mapped ``Статус заказа``; else placed. Cancelled documents
  also get ``cancelled=True`` (earn nothing, give back what they earned).
- Member: the ``БонуснаяКарта`` requisite (a loyalty id) → the
  ``ТелефонПокупателя`` requisite (``phone:<E.164>``) → the buyer card
  (``onec:<Контрагент Ид>``, the card itself is also returned so the merge by
  phone happens upstream). Buyers listed in ``ignored_counterparty_ids`` (a
  generic "Розничный покупатель") never become the member.
- Channel: ``web`` when the ``НомерЗаказаНаСайте`` requisite is filled or the
  ``Ид``/``Номер`` matches ``web_order_pattern``; then ``external_id`` is the
  shop's order id (the requisite, the pattern's ``id`` group, or the whole
  match), so the update lands on the web order. Otherwise ``default_channel``
  (phone) and ``external_id`` is 1C's ``Ид`` (``Номер`` when Ид is missing).
- Write-off: ``БонусовСписано`` > 0 on an order that is not cancelled gives a
  WriteOffDoc whose ``external_id`` is ``<Ид>#writeoff@<НомерВерсии>`` (``@0``
  without a version). Its ``points`` are the document's whole write-off, not a
  delta: the same version again is the same key (applied once); a newer version
  with another amount is a new key, and the ledger posts the difference against
  what ``document_external_id`` already spent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain import (
    MAX_CODE_LENGTH,
    MAX_CODES,
    ZERO,
    CustomerDoc,
    LineDoc,
    Origin,
    PurchaseDoc,
    WriteOffDoc,
    unique_texts,
)
from engine.members.phones import normalize_phone
from engine.onec import ExchangeConfig, norm_name
from importers.onec.customers import SOURCE, parse_customer
from importers.onec.values import (
    LIST_SEPARATORS,
    Requisites,
    ValueProblem,
    child,
    children,
    has_date,
    local_datetime,
    parse_bool,
    parse_decimal,
    text,
)

_BUYER_ROLES = {norm_name(r) for r in ("Покупатель", "Плательщик", "Получатель")}


@dataclass(frozen=True)
class ParsedDocument:
    purchase: PurchaseDoc
    write_off: WriteOffDoc | None
    buyer: CustomerDoc | None


class Ignored(Exception):
    """The document is not for us (a payment, a shipment…); the message says why."""


def product_sku(node: Any, config: ExchangeConfig) -> str:
    """The key of a product, shared by order lines and the catalog."""
    sku = text(child(node, "Ид"))
    if config.sku_source == "article":
        sku = text(child(node, "Артикул")) or sku
    if config.strip_characteristic and "#" in sku:
        sku = sku.split("#", 1)[0]
    return sku


def document_kind(node: dict, config: ExchangeConfig) -> str:
    """"order" or "return"; raises Ignored for other business operations."""
    operation = text(child(node, "ХозОперация"))
    key = norm_name(operation)
    if not key or key in {norm_name(o) for o in config.order_operations}:
        return "order"
    if key in {norm_name(o) for o in config.return_operations}:
        return "return"
    raise Ignored(f"ХозОперация '{operation}' is neither an order nor a return")


def _flag(req: Requisites, names: tuple[str, ...]) -> bool:
    value = req.get(names)
    return parse_bool(value, names[0]) if value is not None else False


def document_status(req: Requisites, config: ExchangeConfig) -> str:
    names = config.requisites
    if _flag(req, names.cancelled) or _flag(req, names.deletion_mark):
        return "cancelled"
    text_status = None
    status_text = req.get(names.order_status)
    if status_text:
        text_status = config.status_for_text(status_text)
    if text_status in ("cancelled", "returned"):
        return text_status
    if _flag(req, names.final_status):
        return "fulfilled"
    posted = _flag(req, names.posted) or not config.require_posted
    if posted and has_date(req.get(names.shipment_date)):
        return "fulfilled"
    if posted and (has_date(req.get(names.payment_date)) or _flag(req, names.paid)):
        return "paid"
    return text_status or "placed"


def _buyer_node(node: dict) -> dict | None:
    cards = [c for c in children(node, "Контрагенты", "Контрагент") if isinstance(c, dict)]
    for card in cards:
        if norm_name(text(child(card, "Роль"))) in _BUYER_ROLES:
            return card
    return cards[0] if cards else None


def document_buyer(node: Any, config: ExchangeConfig, origin: Origin) -> CustomerDoc | None:
    """The buyer's card of an order, or None (a card without Ид cannot be a member)."""
    buyer_node = _buyer_node(node) if isinstance(node, dict) else None
    try:
        return parse_customer(buyer_node, config, origin) if buyer_node is not None else None
    except ValueProblem:
        return None


def _member_ref(req: Requisites, buyer: CustomerDoc | None, config: ExchangeConfig) -> str:
    card = req.get(config.requisites.bonus_card)
    if card:
        return card
    raw_phone = req.get(config.requisites.buyer_phone)
    if raw_phone:
        phone = normalize_phone(raw_phone, config.phone_regions)
        if phone is None:
            raise ValueProblem(f"{config.requisites.buyer_phone[0]} '{raw_phone}' is not a valid "
                               "phone number")
        return f"phone:{phone}"
    if buyer is not None and buyer.external_id not in config.ignored_counterparty_ids:
        return f"onec:{buyer.external_id}"
    raise ValueProblem("the document names no customer: no buyer card (Контрагент), "
                       f"no {config.requisites.bonus_card[0]} and no "
                       f"{config.requisites.buyer_phone[0]}")


def _channel_and_id(node: dict, req: Requisites, config: ExchangeConfig) -> tuple[str, str]:
    doc_id, number = text(child(node, "Ид")), text(child(node, "Номер"))
    site_order = req.get(config.requisites.site_order)
    if site_order:
        return "web", site_order
    if config.web_order_pattern:
        for candidate in (doc_id, number):
            match = re.fullmatch(config.web_order_pattern, candidate) if candidate else None
            if match:
                return "web", match.groupdict().get("id") or match.group(0)
    external_id = doc_id or number
    if not external_id:
        raise ValueProblem("the document has neither Ид nor Номер")
    return config.default_channel, external_id


def _is_service(item: dict, sku: str, config: ExchangeConfig) -> tuple[bool, bool]:
    """(is a service, is delivery) for one `Товар`."""
    raw_id = text(child(item, "Ид"))
    if raw_id in config.delivery_ids or sku in config.delivery_ids:
        return True, True
    item_type = Requisites(item).get(config.requisites.item_type) or \
        text(child(item, "ТипНоменклатуры")) or text(child(item, "ВидНоменклатуры"))
    service = norm_name(item_type) in {norm_name(v) for v in config.service_values}
    return service, service and config.services_are_delivery


def parse_lines(node: dict, config: ExchangeConfig) -> tuple[tuple[LineDoc, ...], Decimal]:
    """Product lines and the delivery total; ``line_no`` is the position in `Товары`."""
    lines: list[LineDoc] = []
    shipping = ZERO
    for position, item in enumerate(children(node, "Товары", "Товар"), start=1):
        label = f"line {position}"
        if not isinstance(item, dict):
            raise ValueProblem(f"{label} is empty")
        sku = product_sku(item, config)
        if not sku:
            raise ValueProblem(f"{label} has no Ид")
        quantity = parse_decimal(child(item, "Количество"), f"{label} Количество")
        price_raw = child(item, "ЦенаЗаЕдиницу")
        total_raw = child(item, "Сумма")
        if text(total_raw):
            total = parse_decimal(total_raw, f"{label} Сумма")
            price = parse_decimal(price_raw, f"{label} ЦенаЗаЕдиницу") if text(price_raw) \
                else (total / quantity if quantity else ZERO)
        else:
            price = parse_decimal(price_raw, f"{label} ЦенаЗаЕдиницу")
            total = price * quantity
        service, delivery = _is_service(item, sku, config)
        if delivery:
            shipping += total
            continue
        lines.append(LineDoc(line_no=position, sku=sku, quantity=quantity, unit_price=price,
                             line_total=total, name=text(child(item, "Наименование")),
                             is_service=service))
    return tuple(lines), shipping


def document_version(node: dict, req: Requisites, config: ExchangeConfig) -> str | None:
    version = text(child(node, "НомерВерсии")) or (req.get(config.requisites.version) or "")
    return version.strip() or None


def document_codes(req: Requisites, config: ExchangeConfig) -> tuple[str, ...]:
    """The promo/coupon codes of an order (our requisite; 1C's standard exchange has none)."""
    names = config.requisites.promo_codes
    raw = req.get(names)
    codes = unique_texts(LIST_SEPARATORS.split(raw)) if raw else ()
    if len(codes) > MAX_CODES or any(len(code) > MAX_CODE_LENGTH for code in codes):
        raise ValueProblem(f"{names[0]} holds more than {MAX_CODES} codes or one longer than "
                           f"{MAX_CODE_LENGTH} characters")
    return codes


def parse_document(node: Any, config: ExchangeConfig, origin: Origin) -> ParsedDocument:
    """Raises Ignored (not for us) or ValueProblem (quarantine) — never anything else."""
    if not isinstance(node, dict):
        raise ValueProblem("the document is empty")
    kind = document_kind(node, config)
    req = Requisites(node)
    names = config.requisites
    buyer = document_buyer(node, config, origin)
    member_ref = _member_ref(req, buyer, config)
    channel, external_id = _channel_and_id(node, req, config)
    placed_at = local_datetime(child(node, "Дата"), child(node, "Время"), config.tz, "Дата")
    status = document_status(req, config)
    lines, shipping = parse_lines(node, config)
    spent_raw = req.get(names.points_spent)
    spent = parse_decimal(spent_raw, names.points_spent[0]) if spent_raw else ZERO
    if spent < 0:
        raise ValueProblem(f"{names.points_spent[0]} is negative ({spent})")
    version = document_version(node, req, config)
    base = None
    if kind == "return":
        base = text(child(node, "Основание"))
        if not base:
            raise ValueProblem("the return has no Основание (the order it returns)")
    number = (req.get(names.number_1c) or text(child(node, "Номер1С"))
              or text(child(node, "Номер")))
    purchase = PurchaseDoc(
        source=SOURCE, external_id=external_id,
        document_type="order" if kind == "order" else "correction",
        member_ref=member_ref, placed_at=placed_at,
        currency=config.currency(text(child(node, "Валюта"))),
        lines=lines, channel=channel, number=number,
        status=status if kind == "order" or status == "cancelled" else None,
        shipping_total=shipping, base_external_id=base or None,
        cancelled=status == "cancelled", points_spent=spent, version=version, origin=origin,
        codes=document_codes(req, config) if kind == "order" else ())
    write_off = None
    if spent > 0 and kind == "order" and status != "cancelled":
        write_off = WriteOffDoc(
            source=SOURCE, external_id=f"{external_id}#writeoff@{version or '0'}",
            member_ref=member_ref, points=spent, at=placed_at,
            document_external_id=external_id, origin=origin)
    return ParsedDocument(purchase=purchase, write_off=write_off, buyer=buyer)
