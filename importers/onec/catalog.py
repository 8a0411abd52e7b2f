"""1C's catalog (`type=catalog`): product groups from import.xml, prices from offers.xml.

Products are keyed like order lines (``product_sku``), so a rule on a product
group finds the lines of a 1C order. ``ProductDoc.product_group`` is the group's
``Ид`` (stable when 1C renames a group); the names travel in ``groups``.
Prices: the ``ТипЦены`` named by ``price_type`` (its Ид or name), else the first
price of each offer; an offer for a variant (``product#variant``) prices its
product only when the product has no offer of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.domain import Origin, ProductDoc, RowError, tags_from
from engine.onec import ExchangeConfig, norm_name
from importers.onec.commerceml import ROOT, unreadable
from importers.onec.documents import product_sku
from importers.onec.safexml import parse_xml
from importers.onec.values import (
    LIST_SEPARATORS,
    Requisites,
    ValueProblem,
    child,
    children,
    parse_decimal,
    snippet,
    text,
)

SOURCE = "1c"
_DELETED = {norm_name(v) for v in ("Удален", "true")}


@dataclass(frozen=True)
class ProductGroup:
    external_id: str
    name: str
    parent_id: str | None = None


@dataclass
class CatalogBatch:
    groups: list[ProductGroup] = field(default_factory=list)
    products: list[ProductDoc] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    deleted_skus: list[str] = field(default_factory=list)  # marked deleted in 1C
    only_changes: bool = False  # Каталог СодержитТолькоИзменения="true": not a full list

    def counts(self) -> dict[str, int]:
        return {"groups": len(self.groups), "products": len(self.products),
                "deleted": len(self.deleted_skus), "errors": len(self.errors)}


def _walk_groups(nodes: list, parent: str | None, out: list[ProductGroup], depth: int = 0) -> None:
    for node in nodes:
        group_id = text(child(node, "Ид"))
        if not group_id:
            continue
        out.append(ProductGroup(group_id, text(child(node, "Наименование")), parent))
        if depth < 100:  # parse_xml already bounds the depth; this keeps recursion finite anyway
            _walk_groups(children(node, "Группы", "Группа"), group_id, out, depth + 1)


def _price_types(root: dict) -> dict[str, str]:
    types: dict[str, str] = {}
    for path in (("Классификатор", "ТипыЦен", "ТипЦены"),
                 ("ПакетПредложений", "ТипыЦен", "ТипЦены")):
        for node in children(root, *path):
            types[text(child(node, "Ид"))] = text(child(node, "Наименование"))
    return types


def _pick_price(offer: dict, types: dict[str, str], config: ExchangeConfig) -> Any:
    prices = children(offer, "Цены", "Цена")
    if not prices:
        return None
    if config.price_type:
        wanted = norm_name(config.price_type)
        for price in prices:
            type_id = text(child(price, "ИдТипаЦены"))
            if norm_name(type_id) == wanted or norm_name(types.get(type_id, "")) == wanted:
                return price
        return None
    return prices[0]


def _base_id(node: Any) -> str:
    return text(child(node, "Ид")).split("#", 1)[0]


def _offers(root: dict, config: ExchangeConfig, name: str, batch: CatalogBatch,
            types: dict[str, str]) -> dict[str, tuple[bool, str, str, Decimal, str]]:
    """product Ид → (exact offer?, offer sku, offer name, price, currency)."""
    types = {**types, **_price_types(root)}
    found: dict[str, tuple[bool, str, str, Decimal, str]] = {}
    offers = children(root, "ПакетПредложений", "Предложения", "Предложение")
    for index, offer in enumerate(offers, start=1):
        product_id = _base_id(offer)
        price_node = _pick_price(offer, types, config)
        if not product_id or price_node is None:
            continue
        try:
            price = parse_decimal(child(price_node, "ЦенаЗаЕдиницу"), "ЦенаЗаЕдиницу")
        except Exception as exc:  # the barrier: one offer never fails the upload
            batch.errors.append(RowError(Origin(SOURCE, name), snippet("Предложение", offer),
                                         unreadable(exc), {"element": "Предложение", "index": index}))
            continue
        exact = "#" not in text(child(offer, "Ид"))
        if product_id in found and (found[product_id][0] or not exact):
            continue
        currency = config.currency(text(child(price_node, "Валюта")))
        found[product_id] = (exact, product_sku(offer, config), text(child(offer, "Наименование")),
                             price, currency)
    return found


def _product(batch: CatalogBatch, node: Any, index: int, origin: Origin, config: ExchangeConfig,
             offers: dict, seen: set[str]) -> None:
    """One `Товар` → a product of the batch (or a deletion, or an error)."""
    sku = product_sku(node, config)
    if not sku:
        batch.errors.append(RowError(origin, snippet("Товар", node), "the product has no Ид",
                                     {"element": "Товар", "index": index}))
        return
    if norm_name(text(child(node, "Статус"))) in _DELETED or \
            norm_name(text(node.get("@Статус"))) in _DELETED or \
            text(child(node, "ПометкаУдаления")).lower() == "true":
        batch.deleted_skus.append(sku)
        return
    if sku in seen:
        return
    seen.add(sku)
    groups = [text(g) for g in children(node, "Группы", "Ид") if text(g)]
    brand = text(child(node, "Изготовитель", "Наименование")) or text(child(node, "Бренд"))
    price = offers.pop(_base_id(node), None)
    raw_tags = Requisites(node).get(config.requisites.tags)
    try:  # our requisite: without it the catalog's tags stay as they are
        tags = tags_from(LIST_SEPARATORS.split(raw_tags)) if raw_tags is not None else None
    except ValueError as exc:
        raise ValueProblem(f"{config.requisites.tags[0]}: {exc}") from None
    batch.products.append(ProductDoc(
        source=SOURCE, sku=sku, name=text(child(node, "Наименование")),
        product_group=groups[0] if groups else "", brand=brand,
        price=price[3] if price else None, currency=price[4] if price else "",
        origin=origin, tags=tags))


def parse_catalog(import_xml: bytes, offers_xml: bytes | None = None,
                  config: ExchangeConfig | None = None, origin_name: str = "import.xml"
                  ) -> CatalogBatch:
    """Groups and products of import.xml, priced from offers.xml (either may hold offers)."""
    config = config or ExchangeConfig()
    limits = {"max_bytes": config.max_xml_bytes, "max_depth": config.max_xml_depth, "root": ROOT}
    root = parse_xml(import_xml, **limits)[ROOT]
    batch = CatalogBatch()
    _walk_groups(children(root, "Классификатор", "Группы", "Группа"), None, batch.groups)
    catalog = child(root, "Каталог") or {}
    batch.only_changes = text(catalog.get("@СодержитТолькоИзменения")).lower() == "true"
    types = _price_types(root)  # price types may be described in import.xml only
    offers = _offers(root, config, origin_name, batch, types)
    if offers_xml is not None:
        offers.update(_offers(parse_xml(offers_xml, **limits)[ROOT], config, "offers.xml", batch,
                              types))
    seen: set[str] = set()
    for index, node in enumerate(children(catalog, "Товары", "Товар"), start=1):
        try:
            _product(batch, node, index, Origin(SOURCE, origin_name), config, offers, seen)
        except Exception as exc:  # the barrier: one product never fails the upload
            batch.errors.append(RowError(Origin(SOURCE, origin_name), snippet("Товар", node), unreadable(exc),
                                         {"element": "Товар", "index": index}))
    # Prices for products this upload did not describe (offers-only or partial exchanges).
    for _exact, sku, name, price, currency in offers.values():
        batch.products.append(ProductDoc(source=SOURCE, sku=sku, name=name, price=price,
                                         currency=currency, origin=Origin(SOURCE, "offers.xml")))
    return batch

