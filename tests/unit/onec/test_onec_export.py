"""The mode=query answer: declared encoding matches the bytes, values escaped, names configured."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.onec import load_settings
from exporters.onec import BonusOperation, MemberProfile, build_query_document, content_type
from importers.onec import parse_exchange, parse_xml

AT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
NOW = datetime(2024, 3, 2, 6, 0, tzinfo=UTC)


def op(op_id="op-1", kind="accrual", amount="125.50", name="Иванов Иван", **kw):
    values = dict(op_id=op_id, member_card_id="c-001", member_phone="+79123456789",
                  member_name=name, document_external_id="ord-1", kind=kind,
                  amount=Decimal(amount), at=AT, balance_after=Decimal("300.50"))
    values.update(kw)
    return BonusOperation(**values)


PROFILE = MemberProfile(card_id="LOY-7", loyalty_id="LOY-7", name="Петрова Мария",
                        phone="+79161112233", email="maria@example.ru", balance=Decimal("40"),
                        accrued_total=Decimal("100"), spent_total=Decimal("60"))


def root_of(data: bytes) -> dict:
    return parse_xml(data, root="КоммерческаяИнформация")["КоммерческаяИнформация"]


def requisites(node: dict) -> dict[str, str]:
    return {r["Наименование"]: r["Значение"]
            for r in node["ЗначенияРеквизитов"]["ЗначениеРеквизита"]}


def test_cp1251_answer_with_characters_outside_cp1251():
    name = "Łukasz Żółć 😀 & <Ко> \"Кофе\""
    data = build_query_document([op(name=name)], generated_at=NOW)
    assert data.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    data.decode("cp1251")  # every byte is cp1251
    assert b"&#128512;" in data and "Кофе".encode("cp1251") in data
    [doc] = root_of(data)["Документ"]
    assert doc["Контрагенты"]["Контрагент"][0]["Наименование"] == name


def test_utf8_answer_declares_utf8():
    data = build_query_document([op(name="Łukasz 😀")], [PROFILE], generated_at=NOW,
                                encoding="utf-8")
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "Łukasz 😀".encode() in data
    assert content_type("utf-8") == "application/xml; charset=utf-8"
    assert content_type() == "application/xml; charset=windows-1251"


def test_operations_carry_signed_amounts_in_the_bonus_requisites():
    ops = [op("op-1", "accrual", "125.50"),
           op("op-2", "redemption", "-40", document_external_id=None, balance_after=None),
           op("op-3", "expiry", "-10.00", at=AT + timedelta(hours=20))]
    root = root_of(build_query_document(ops, generated_at=NOW))
    assert root["@ВерсияСхемы"] == "2.08" and root["@ДатаФормирования"] == "2024-03-02T09:00:00"
    first, second, third = root["Документ"]
    assert (first["Ид"], first["ХозОперация"], first["Сумма"], first["Основание"]) == \
        ("op-1", "Прочие", "125.50", "ord-1")
    assert (first["Дата"], first["Время"]) == ("2024-03-01", "12:30:00")  # Moscow time
    assert requisites(first) == {"ВидБонуснойОперации": "accrual", "БонусовНачислено": "125.50",
                                 "БонусовСписано": "0", "БонусныйБаланс": "300.50"}
    assert requisites(second) == {"ВидБонуснойОперации": "redemption", "БонусовНачислено": "0",
                                  "БонусовСписано": "40"}
    assert "Основание" not in second and second["Комментарий"] == "Списание"
    assert third["Дата"] == "2024-03-02" and requisites(third)["БонусовСписано"] == "10.00"


def test_profiles_use_configured_names_and_round_trip_as_customer_cards():
    config = load_settings({"requisites": {"points_balance": "Остаток бонусов"},
                                       "bonus_operation": "Бонусная операция"})
    data = build_query_document([op()], [PROFILE], generated_at=NOW, config=config)
    root = root_of(data)
    [card] = root["Контрагенты"]["Контрагент"]
    assert requisites(card) == {"БонуснаяКарта": "LOY-7", "Остаток бонусов": "40",
                                "БонусовНачислено": "100", "БонусовСписано": "60"}
    assert root["Документ"][0]["ХозОперация"] == "Бонусная операция"
    # Our own parser reads what we built: the profile comes back as a card, the bonus
    # documents are recognised as not being orders.
    batch = parse_exchange(data, config, "query.xml")
    [customer] = batch.customers
    assert (customer.external_id, customer.phone, customer.email) == \
        ("LOY-7", "+79161112233", "maria@example.ru")
    assert not batch.documents and not batch.errors and len(batch.ignored) == 1


def test_control_characters_are_dropped_not_emitted():
    data = build_query_document([op(name="Bad\x01Name\x0b")], generated_at=NOW)
    assert root_of(data)["Документ"][0]["Контрагенты"]["Контрагент"][0]["Наименование"] == \
        "BadName"


@pytest.mark.parametrize("change, message", [
    ({"at": datetime(2024, 3, 1, 9, 30)}, "timezone-aware"),
    ({"member_card_id": None, "member_phone": None}, "neither a member card nor a phone"),
    ({"amount": 1.5}, "finite Decimals"),
    ({"kind": ""}, "op_id and a kind"),
])
def test_invalid_operations_are_refused(change, message):
    bad = replace(op(), **change)
    with pytest.raises(ValueError, match=message):
        build_query_document([bad], generated_at=NOW)


def test_unknown_encoding_is_refused_and_empty_answer_is_valid():
    with pytest.raises(ValueError, match="windows-1251 or utf-8"):
        build_query_document([], generated_at=NOW, encoding="koi8-r")
    root = root_of(build_query_document([], generated_at=NOW))
    assert "Документ" not in root and root["@ВерсияСхемы"] == "2.08"
