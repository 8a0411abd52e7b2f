"""ExchangeConfig: documented defaults, validation of operator settings, plain-data round trip."""
from __future__ import annotations

import json

import pytest

from engine.onec import ConfigError, ExchangeConfig, RequisiteNames, load_settings


def test_documented_defaults():
    config = ExchangeConfig()
    names = config.requisites
    assert names.number_1c == ("Номер по 1С",) and names.date_1c == ("Дата по 1С",)
    assert names.posted == ("Проведен",) and names.deletion_mark == ("ПометкаУдаления",)
    assert names.cancelled == ("Отменен",) and names.final_status == ("Финальный статус",)
    assert names.order_status == ("Статус заказа",) and names.version == ("НомерВерсии",)
    assert names.payment_date[0] == "Дата оплаты по 1С"
    assert names.shipment_date[0] == "Дата отгрузки по 1С"
    assert names.paid[0] == "Заказ оплачен"
    assert (names.first("points_accrued"), names.first("points_spent"),
            names.first("points_balance")) == ("БонусовНачислено", "БонусовСписано",
                                               "БонусныйБаланс")
    assert config.phone_regions == ("RU",) and config.time_zone == "Europe/Moscow"
    assert config.encoding == "windows-1251" and config.zip_allowed
    assert config.file_limit <= config.max_upload_bytes


def test_from_dict_accepts_names_lists_and_merges_mappings():
    config = load_settings({
        "requisites": {"posted": ["Проведён", "Проведен"], "points_spent": "СписаноБаллов"},
        "phone_regions": ["ua", "RU"], "time_zone": "Europe/Kyiv", "encoding": "UTF8",
        "status_text": {"Выдан клиенту": "fulfilled"}, "currencies": {"грв": "UAH"},
        "zip": {"max_entries": 10}, "web_order_pattern": r"WEB-(?P<id>\d+)",
    })
    assert config.requisites.posted == ("Проведён", "Проведен")
    assert config.requisites.points_spent == ("СписаноБаллов",)
    assert config.requisites.cancelled == RequisiteNames().cancelled
    assert config.phone_regions == ("UA", "RU") and config.encoding == "utf-8"
    assert config.status_for_text("выдан  клиенту") == "fulfilled"
    assert config.status_for_text("Отменен") == "cancelled"  # defaults kept
    assert config.currency("ГРВ") == "UAH" and config.currency("руб.") == "RUB"
    assert config.zip.max_entries == 10 and config.zip.max_ratio == 200


def test_from_dict_lists_every_problem_in_plain_words():
    with pytest.raises(ConfigError) as caught:
        load_settings({
            "colour": "red", "requisites": {"posted": 5, "nope": "x"},
            "phone_regions": ["XX"], "time_zone": "Mars/Olympus", "encoding": "koi8-r",
            "status_text": {"Готов": "shipped"}, "file_limit": -1, "zip_allowed": "yes",
            "sku_source": "barcode", "default_channel": "fax", "web_order_pattern": "(",
            "zip": {"max_ratio": 0},
        })
    problems = " | ".join(caught.value.problems)
    for expected in ("unknown setting 'colour'", "requisites.posted", "unknown requisite setting",
                     "unknown region", "Mars/Olympus", "windows-1251 or utf-8", "'shipped'",
                     "file_limit must be a positive", "zip_allowed must be true or false",
                     "sku_source", "default_channel", "web_order_pattern", "zip.max_ratio"):
        assert expected in problems
    assert len(caught.value.problems) == 13


def test_file_limit_cannot_exceed_the_upload_limit():
    with pytest.raises(ConfigError, match="file_limit"):
        load_settings({"file_limit": 10, "max_upload_bytes": 5})


def test_settings_survive_a_json_round_trip():
    config = load_settings({"phone_regions": ["KZ"], "require_posted": False})
    data = json.loads(json.dumps(config.to_dict(), ensure_ascii=False))
    assert load_settings(data) == config
