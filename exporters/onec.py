"""The CommerceML document we answer 1C's `mode=query` with: bonus operations and members.

Each bonus operation is one ``Документ`` with ``ХозОперация`` ``Прочие`` (the
standard 1C exchange ignores it; the integrator's handler reads it), the member
as ``Контрагент``, the order it belongs to as ``Основание`` and the amounts in
``ЗначенияРеквизитов`` under the configured names (``ВидБонуснойОперации``,
``БонусовНачислено``, ``БонусовСписано``, ``БонусныйБаланс``). Member profiles
travel as root-level ``Контрагенты`` with balance and totals. The XML is built
with ElementTree, so values are escaped; characters the chosen encoding lacks
become character references, and the declaration always matches the bytes.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from engine.onec import ExchangeConfig

ROOT = "КоммерческаяИнформация"
ENCODINGS = {"windows-1251": "windows-1251", "cp1251": "windows-1251",
             "utf-8": "UTF-8", "utf8": "UTF-8"}
KIND_LABELS = {
    "accrual": "Начисление", "redemption": "Списание", "reversal": "Отмена начисления",
    "refund": "Возврат списанных бонусов", "expiry": "Сгорание", "adjustment": "Корректировка",
    "bonus": "Бонус", "referral": "Бонус за приглашение", "mission_reward": "Награда за задание",
    "promo_code": "Промокод", "transfer": "Перевод",
}
# XML 1.0 forbids these characters even as references; they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class BonusOperation:
    """One ledger entry to report to 1C. ``amount`` is signed: + adds points, − removes."""

    op_id: str
    member_card_id: str | None  # the Ид 1C knows the member by (see MemberProfile.card_id)
    member_phone: str | None  # E.164
    member_name: str
    document_external_id: str | None  # the 1C/shop order it belongs to, if any
    kind: str  # accrual | redemption | reversal | refund | expiry | adjustment | …
    amount: Decimal
    at: datetime  # timezone-aware
    balance_after: Decimal | None = None


@dataclass(frozen=True)
class MemberProfile:
    """A member 1C should know. ``card_id`` is their 1C card Ид when they came from 1C,
    otherwise our id for them (1C creates the card under that Ид)."""

    card_id: str
    loyalty_id: str
    name: str
    phone: str | None
    email: str | None
    balance: Decimal
    accrued_total: Decimal
    spent_total: Decimal


def _clean(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def _number(value: Decimal) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"points must be finite Decimals, got {value!r}")
    text = format(value, "f")
    return "0" if Decimal(text) == 0 else text


def _add(parent: ET.Element, tag: str, value: object | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if value is not None:
        element.text = _clean(value)
    return element


def _requisites(parent: ET.Element, pairs: list[tuple[str, str]]) -> None:
    block = _add(parent, "ЗначенияРеквизитов")
    for name, value in pairs:
        item = _add(block, "ЗначениеРеквизита")
        _add(item, "Наименование", name)
        _add(item, "Значение", value)


def _contacts(parent: ET.Element, phone: str | None, email: str | None) -> None:
    if not phone and not email:
        return
    block = _add(parent, "Контакты")
    for kind, value in (("Телефон мобильный", phone), ("Почта", email)):
        if value:
            contact = _add(block, "Контакт")
            _add(contact, "Тип", kind)
            _add(contact, "Значение", value)


def _local(at: datetime, config: ExchangeConfig) -> datetime:
    if at.tzinfo is None:
        raise ValueError("operation times must be timezone-aware")
    return at.astimezone(config.tz).replace(tzinfo=None, microsecond=0)


def _operation(root: ET.Element, op: BonusOperation, config: ExchangeConfig) -> None:
    names = config.requisites
    member_id = op.member_card_id or op.member_phone
    if not member_id:
        raise ValueError(f"operation {op.op_id} has neither a member card nor a phone")
    if not op.op_id or not op.kind:
        raise ValueError("every operation needs an op_id and a kind")
    local = _local(op.at, config)
    doc = _add(root, "Документ")
    for tag, value in (("Ид", op.op_id), ("Номер", op.op_id), ("Дата", local.date().isoformat()),
                       ("ХозОперация", config.bonus_operation), ("Роль", "Продавец"),
                       ("Валюта", config.default_currency), ("Курс", "1"),
                       ("Сумма", _number(abs(op.amount)))):
        _add(doc, tag, value)
    card = _add(_add(doc, "Контрагенты"), "Контрагент")
    _add(card, "Ид", member_id)
    _add(card, "Наименование", op.member_name or member_id)
    _add(card, "Роль", "Покупатель")
    _contacts(card, op.member_phone, None)
    _add(doc, "Время", local.time().isoformat())
    if op.document_external_id:
        _add(doc, "Основание", op.document_external_id)
    _add(doc, "Комментарий", KIND_LABELS.get(op.kind, op.kind))
    pairs = [(names.first("operation_kind"), op.kind),
             (names.first("points_accrued"), _number(max(op.amount, Decimal(0)))),
             (names.first("points_spent"), _number(max(-op.amount, Decimal(0))))]
    if op.balance_after is not None:
        pairs.append((names.first("points_balance"), _number(op.balance_after)))
    _requisites(doc, pairs)


def _profile(parent: ET.Element, member: MemberProfile, config: ExchangeConfig) -> None:
    names = config.requisites
    card = _add(parent, "Контрагент")
    _add(card, "Ид", member.card_id)
    _add(card, "Наименование", member.name or member.phone or member.card_id)
    _add(card, "ПолноеНаименование", member.name or member.phone or member.card_id)
    _add(card, "Роль", "Покупатель")
    _contacts(card, member.phone, member.email)
    _requisites(card, [(names.first("bonus_card"), member.loyalty_id),
                       (names.first("points_balance"), _number(member.balance)),
                       (names.first("points_accrued"), _number(member.accrued_total)),
                       (names.first("points_spent"), _number(member.spent_total))])


def build_query_document(operations: Iterable[BonusOperation],
                         profiles: Iterable[MemberProfile] = (), *, generated_at: datetime,
                         config: ExchangeConfig | None = None,
                         encoding: str | None = None) -> bytes:
    """The bytes of the `mode=query` answer, encoded as declared in their first line.

    ``encoding`` is ``windows-1251`` (the default, what 1C sites usually send)
    or ``utf-8``; ``content_type(encoding)`` gives the matching HTTP header.
    """
    config = config or ExchangeConfig()
    declared = ENCODINGS.get((encoding or config.encoding).strip().lower())
    if declared is None:
        raise ValueError("encoding must be windows-1251 or utf-8")
    root = ET.Element(ROOT, {"ВерсияСхемы": config.schema_version,
                             "ДатаФормирования": _local(generated_at, config).isoformat()})
    profiles = list(profiles)
    if profiles:
        block = _add(root, "Контрагенты")
        for member in profiles:
            _profile(block, member, config)
    for op in operations:
        _operation(root, op, config)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    head = f'<?xml version="1.0" encoding="{declared}"?>\n'
    return (head + body + "\n").encode(declared, "xmlcharrefreplace")


def content_type(encoding: str = "windows-1251") -> str:
    declared = ENCODINGS.get(encoding.strip().lower(), encoding)
    return f"application/xml; charset={declared.lower()}"
