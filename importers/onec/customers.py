"""1C customer cards (`Контрагент`) → CustomerDoc, with the phone normalised to E.164.

A card whose phone is missing or invalid is kept with ``phone=None`` (and the
raw text in ``phone_raw``) so it can be reported; the phone is the merge key
upstream, never guessed here.
"""
from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache
from typing import Any

from engine.domain import CustomerDoc, Origin
from engine.members.phones import normalize_phone
from engine.onec import ExchangeConfig, norm_name
from importers.onec.values import ValueProblem, child, children, optional_date, text

SOURCE = "1c"


def _kind(contact_type: str) -> str:
    key = norm_name(contact_type)
    if "телефон" in key or "phone" in key or "тел." in key:
        return "phone"
    if "почт" in key or "mail" in key:
        return "email"
    return ""


def contacts(node: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """(phones as (type, raw value) with mobile ones first, e-mails) of one card."""
    phones: list[tuple[str, str]] = []
    emails: list[str] = []
    for contact in children(node, "Контакты", "Контакт"):
        kind_text = text(child(contact, "Тип"))
        value = text(child(contact, "Значение"))
        if not value:
            continue
        kind = _kind(kind_text)
        if kind == "phone":
            phones.append((kind_text, value))
        elif kind == "email":
            emails.append(value)
    phones.sort(key=lambda item: "мобильн" not in norm_name(item[0]))
    return phones, emails


@lru_cache(maxsize=4096)
def _normalize(raw: str, regions: tuple[str, ...]) -> str | None:
    return normalize_phone(raw, regions)  # the same buyer recurs in many documents


def best_phone(raw_phones: list[tuple[str, str]], config: ExchangeConfig) -> tuple[str | None, str]:
    """(E.164 or None, the raw text it came from — or the first raw phone when none is valid)."""
    for _kind_text, raw in raw_phones:
        phone = _normalize(raw, tuple(config.phone_regions))
        if phone:
            return phone, raw
    return None, raw_phones[0][1] if raw_phones else ""


def parse_customer(node: Any, config: ExchangeConfig, origin: Origin) -> CustomerDoc:
    """One `Контрагент` → CustomerDoc; raises ValueProblem when it has no Ид."""
    if not isinstance(node, dict):
        raise ValueProblem("the customer card is empty")
    external_id = text(child(node, "Ид"))
    if not external_id:
        raise ValueProblem("the customer card has no Ид")
    name = text(child(node, "Наименование")) or text(child(node, "ПолноеНаименование")) or \
        text(child(node, "ОфициальноеНаименование"))
    if not name:
        name = " ".join(p for p in (text(child(node, "Фамилия")), text(child(node, "Имя")),
                                    text(child(node, "Отчество"))) if p)
    phones, emails = contacts(node)
    phone, phone_raw = best_phone(phones, config)
    email = next((e for e in emails if "@" in e), None)
    is_company = bool(text(child(node, "ОфициальноеНаименование")) or text(child(node, "КПП")))
    return CustomerDoc(
        source=SOURCE,
        external_id=external_id,
        name=name,
        phone=phone,
        phone_raw=phone_raw,
        email=email,
        tax_id=text(child(node, "ИНН")),
        birth_date=optional_date(child(node, "ДатаРождения"), "ДатаРождения"),
        is_company=is_company,
        origin=origin,
    )


def merge_cards(first: CustomerDoc, second: CustomerDoc) -> CustomerDoc:
    """The same card seen twice in one upload: keep what either copy knows (first wins)."""
    changes = {}
    for f in fields(CustomerDoc):
        if f.name in ("source", "external_id", "origin"):
            continue
        if not getattr(first, f.name) and getattr(second, f.name):
            changes[f.name] = getattr(second, f.name)
    if "phone" in changes:  # the raw text belongs to the phone it produced
        changes["phone_raw"] = second.phone_raw
    return replace(first, **changes) if changes else first
