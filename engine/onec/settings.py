"""The 1C exchange settings as types: requisite names, statuses, regions, time zone and limits.

Every 1C integrator names requisites differently, so each requisite setting is
a tuple of accepted names; the first one is also the name we write outbound.
Names are compared without case, spaces or the ё/е difference, so
``Статус заказа`` also matches ``СтатусЗаказа``. `engine.onec.loading.load_settings`
validates an operator's JSON/TOML settings into these types and says in plain
words what is wrong; this module imports nothing of it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

MiB = 1024 * 1024


class ConfigError(ValueError):
    """The exchange settings are invalid; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("1C exchange settings: " + "; ".join(problems))


@lru_cache(maxsize=4096)
def norm_name(name: str) -> str:
    """Key for comparing requisite names and free-text values written by people."""
    return re.sub(r"\s+", "", str(name)).casefold().replace("ё", "е")


@dataclass(frozen=True)
class RequisiteNames:
    """Names of `ЗначениеРеквизита` entries; each is a tuple of accepted spellings."""

    # Status requisites 1C sends back (the defaults of the standard exchange module).
    number_1c: tuple[str, ...] = ("Номер по 1С",)
    date_1c: tuple[str, ...] = ("Дата по 1С",)
    posted: tuple[str, ...] = ("Проведен",)
    deletion_mark: tuple[str, ...] = ("ПометкаУдаления",)
    cancelled: tuple[str, ...] = ("Отменен",)
    final_status: tuple[str, ...] = ("Финальный статус",)
    order_status: tuple[str, ...] = ("Статус заказа",)
    payment_date: tuple[str, ...] = ("Дата оплаты по 1С", "ДатаОплаты")
    shipment_date: tuple[str, ...] = ("Дата отгрузки по 1С", "ДатаОтгрузки")
    version: tuple[str, ...] = ("НомерВерсии",)
    paid: tuple[str, ...] = ("Заказ оплачен", "Оплачен")
    # Bonus requisites (ours; inbound write-offs and outbound balances).
    points_accrued: tuple[str, ...] = ("БонусовНачислено",)
    points_spent: tuple[str, ...] = ("БонусовСписано",)
    points_balance: tuple[str, ...] = ("БонусныйБаланс",)
    # Ours, for documents booked on a generic card ("Розничный покупатель"):
    # the loyalty card or the phone of the real customer.
    bonus_card: tuple[str, ...] = ("БонуснаяКарта",)
    buyer_phone: tuple[str, ...] = ("ТелефонПокупателя",)
    # Ours: the shop's order id on documents that came from the web shop.
    site_order: tuple[str, ...] = ("НомерЗаказаНаСайте",)
    # Ours, outbound only: the kind of a bonus operation.
    operation_kind: tuple[str, ...] = ("ВидБонуснойОперации",)
    # Product lines: the nomenclature type that marks services (delivery).
    item_type: tuple[str, ...] = ("ТипНоменклатуры", "ВидНоменклатуры")
    # Ours: promo/coupon codes applied to an order, and a product's labels (the rules' order_codes and
    # line_tags), each a list separated by "," ";" or "|".
    promo_codes: tuple[str, ...] = ("Промокоды", "Промокод")
    tags: tuple[str, ...] = ("Метки", "Теги")

    def first(self, key: str) -> str:
        """The outbound name of requisite ``key``."""
        return getattr(self, key)[0]


DEFAULT_STATUS_TEXT = MappingProxyType({
    # Free-text `Статус заказа` values (УТ 11, УНФ, Розница, Bitrix) → our statuses.
    "Новый": "placed", "Не согласован": "placed", "Согласован": "placed",
    "Подтвержден": "placed", "В обработке": "placed", "К обеспечению": "placed",
    "Оплачен": "paid", "К отгрузке": "paid",
    "Отгружен": "fulfilled", "Доставлен": "fulfilled", "Выполнен": "fulfilled",
    "Закрыт": "fulfilled",
    "Отменен": "cancelled", "Аннулирован": "cancelled",
    "Возвращен": "returned", "Возврат": "returned",
})

DEFAULT_CURRENCIES = MappingProxyType({
    "руб": "RUB", "руб.": "RUB", "рубль": "RUB", "643": "RUB", "rur": "RUB",
    "грн": "UAH", "грн.": "UAH", "980": "UAH",
    "тенге": "KZT", "тг": "KZT", "398": "KZT",
    "byn": "BYN", "бел.руб": "BYN", "933": "BYN",
    "usd": "USD", "840": "USD", "eur": "EUR", "978": "EUR",
})


@dataclass(frozen=True)
class ZipLimits:
    """Caps for `zip=yes` uploads; every limit is checked before and while reading."""

    max_archive_bytes: int = 128 * MiB  # the zip itself, all chunks together
    max_entries: int = 200
    max_entry_bytes: int = 64 * MiB  # declared and actually read, per entry
    max_total_bytes: int = 256 * MiB  # declared and actually read, all entries
    max_ratio: int = 200  # uncompressed / compressed; deflate bombs reach ~1000, 1C XML ~10–100


@dataclass(frozen=True)
class ExchangeConfig:
    """Everything the 1C parsers and the outbound document need to know."""

    requisites: RequisiteNames = field(default_factory=RequisiteNames)
    phone_regions: tuple[str, ...] = ("RU",)  # default region first; UA/KZ deployments add theirs
    time_zone: str = "Europe/Moscow"  # 1C writes local wall-clock dates and times
    status_text: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUS_TEXT))
    require_posted: bool = True  # payment/shipment dates count only on a posted document
    order_operations: tuple[str, ...] = ("Заказ товара",)
    return_operations: tuple[str, ...] = ("Возврат товара",)
    service_values: tuple[str, ...] = ("Услуга",)  # ТипНоменклатуры values meaning "service"
    delivery_ids: tuple[str, ...] = ("ORDER_DELIVERY",)  # Товар Ид always meaning delivery
    services_are_delivery: bool = True  # False: non-delivery services stay lines (is_service)
    sku_source: str = "id"  # "id" (Товар Ид) or "article" (Артикул, falling back to Ид)
    strip_characteristic: bool = True  # "product#variant" Ид → "product"
    default_channel: str = "phone"
    web_order_pattern: str | None = None  # regex on Ид/Номер; group "id" = the shop's order id
    ignored_counterparty_ids: tuple[str, ...] = ()  # generic cards such as "Розничный покупатель"
    default_currency: str = "RUB"
    currencies: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CURRENCIES))
    price_type: str | None = None  # ТипЦены Ид or name for catalog prices; None = the first
    bonus_operation: str = "Прочие"  # ХозОперация of outbound bonus-operation documents
    schema_version: str = "2.08"  # ВерсияСхемы we answer with
    encoding: str = "windows-1251"  # of the query answer; or "utf-8"
    # Protocol limits (the endpoint announces file_limit and zip in `init`).
    file_limit: int = 8 * MiB
    zip_allowed: bool = True
    max_upload_bytes: int = 128 * MiB  # one file, all chunks together
    max_xml_bytes: int = 64 * MiB
    max_xml_depth: int = 100
    zip: ZipLimits = field(default_factory=ZipLimits)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def status_for_text(self, text: str) -> str | None:
        """Our status for a free-text `Статус заказа`, or None when it is not mapped."""
        key = norm_name(text)
        for name, status in self.status_text.items():
            if norm_name(name) == key:
                return status
        return None

    def currency(self, raw: str | None) -> str:
        text = (raw or "").strip()
        if not text:
            return self.default_currency
        mapped = {norm_name(k): v for k, v in self.currencies.items()}.get(norm_name(text))
        return mapped or text.upper()

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready settings (for the admin API and the README)."""
        data = asdict(self)
        data["status_text"] = dict(self.status_text)
        data["currencies"] = dict(self.currencies)
        return data
