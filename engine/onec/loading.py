"""Loading the 1C exchange settings from plain data (JSON, TOML, the admin API): every problem listed at once."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from engine.domain import CHANNELS, ORDER_STATUSES
from engine.onec.settings import (
    DEFAULT_CURRENCIES,
    DEFAULT_STATUS_TEXT,
    ConfigError,
    ExchangeConfig,
    RequisiteNames,
    ZipLimits,
)

_ENCODINGS = {"windows-1251": "windows-1251", "cp1251": "windows-1251",
              "utf-8": "utf-8", "utf8": "utf-8"}
_NAME_TUPLES = ("order_operations", "return_operations", "service_values", "delivery_ids",
                "ignored_counterparty_ids")
_BOOLS = ("require_posted", "services_are_delivery", "strip_characteristic", "zip_allowed")
_POSITIVE_INTS = ("file_limit", "max_upload_bytes", "max_xml_bytes", "max_xml_depth")


def _names(value: Any, label: str, problems: list[str], allow_empty: bool = False) -> tuple:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{label} must be a name or a list of names")
        return ()
    if not value and not allow_empty:
        problems.append(f"{label} needs at least one name")
    return tuple(v.strip() for v in value)


def _requisites(data: Any, problems: list[str]) -> RequisiteNames:
    if not isinstance(data, Mapping):
        problems.append("requisites must be a mapping of setting → name(s)")
        return RequisiteNames()
    known = {f.name for f in fields(RequisiteNames)}
    values = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"unknown requisite setting '{key}' "
                            f"(known: {', '.join(sorted(known))})")
            continue
        values[key] = _names(value, f"requisites.{key}", problems)
    return RequisiteNames(**values)


def _zip(data: Any, problems: list[str]) -> ZipLimits:
    if not isinstance(data, Mapping):
        problems.append("zip must be a mapping of limit → number")
        return ZipLimits()
    known = {f.name for f in fields(ZipLimits)}
    values = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"unknown zip limit '{key}' (known: {', '.join(sorted(known))})")
        elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append(f"zip.{key} must be a positive whole number")
        else:
            values[key] = value
    return ZipLimits(**values)


def _mapping(data: Any, label: str, defaults: Mapping[str, str], problems: list[str],
             allowed: tuple[str, ...] | None = None) -> Mapping[str, str]:
    """Operator entries are merged over the defaults (theirs win)."""
    if not isinstance(data, Mapping):
        problems.append(f"{label} must be a mapping of text → value")
        return dict(defaults)
    merged = dict(defaults)
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(value, str):
            problems.append(f"{label}: '{key}' must map a text to a text")
        elif allowed is not None and value not in allowed:
            problems.append(f"{label}: '{key}' maps to '{value}', which is not one of "
                            f"{', '.join(allowed)}")
        else:
            merged[key.strip()] = value
    return merged


def _check_scalar(key: str, value: Any, problems: list[str]) -> Any:
    if key in _NAME_TUPLES:
        return _names(value, key, problems, allow_empty=True)
    if key in _BOOLS:
        if not isinstance(value, bool):
            problems.append(f"{key} must be true or false")
        return value
    if key in _POSITIVE_INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append(f"{key} must be a positive whole number")
        return value
    if key == "phone_regions":
        regions = tuple(r.upper() for r in _names(value, key, problems))
        bad = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            problems.append(f"phone_regions: unknown region code(s) {', '.join(bad)} "
                            "(use two-letter codes such as RU, UA, KZ)")
        return regions
    if key == "time_zone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"time_zone '{value}' is not a known time zone (e.g. Europe/Moscow)")
        return value
    if key == "encoding":
        enc = _ENCODINGS.get(str(value).strip().lower())
        if enc is None:
            problems.append("encoding must be windows-1251 or utf-8")
        return enc
    if key == "sku_source":
        if value not in ("id", "article"):
            problems.append("sku_source must be 'id' (Товар Ид) or 'article' (Артикул)")
        return value
    if key == "default_channel":
        if value not in CHANNELS:
            problems.append(f"default_channel must be one of {', '.join(CHANNELS)}")
        return value
    if key == "web_order_pattern":
        if value is not None:
            try:
                re.compile(value)
            except (re.error, TypeError) as exc:
                problems.append(f"web_order_pattern is not a valid regular expression: {exc}")
        return value
    if key == "price_type":
        if value is not None and not isinstance(value, str):
            problems.append("price_type must be a price type name or Ид")
        return value
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key} must be a non-empty text")
    return value


def load_settings(data: Mapping[str, Any] | None) -> ExchangeConfig:
    """Settings from plain data (None or {} = the defaults); unknown keys and bad values raise ConfigError."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(["settings must be a mapping"])
    problems: list[str] = []
    known = {f.name for f in fields(ExchangeConfig)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"unknown setting '{key}'")
        elif key == "requisites":
            values[key] = _requisites(value, problems)
        elif key == "zip":
            values[key] = _zip(value, problems)
        elif key == "status_text":
            values[key] = _mapping(value, key, DEFAULT_STATUS_TEXT, problems, ORDER_STATUSES)
        elif key == "currencies":
            values[key] = _mapping(value, key, DEFAULT_CURRENCIES, problems)
        else:
            values[key] = _check_scalar(key, value, problems)
    if problems:
        raise ConfigError(problems)
    config = ExchangeConfig(**values)
    if config.file_limit > config.max_upload_bytes:
        raise ConfigError(["file_limit must not be larger than max_upload_bytes"])
    return config
