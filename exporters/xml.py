"""The XML form of API resources: the same data as the JSON, built with xmltodict.

A list becomes a container element whose children take the singular of its
name (``entries`` → ``entry``, ``lines`` → ``line``), so a shop can read the
balance with any XML parser [000].
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xmltodict

_IRREGULAR = {"entries": "entry", "expiring": "lot", "data": "item", "errors": "error",
              "details": "detail", "fields": "field", "children": "child"}
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def singular(name: str) -> str:
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return "item"


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Decimal, int, float)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _element_name(key: str) -> str:
    key = str(key)
    return key if _NAME_OK.match(key) and not key.lower().startswith("xml") else "_" + re.sub(
        r"[^A-Za-z0-9_.-]", "_", key)


def _convert(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {_element_name(k): _convert(v, _element_name(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        child = singular(name)
        return {child: [_convert(item, child) for item in value]} if value else None
    return _value(value)


def to_xml(root: str, data: Any, *, pretty: bool = True) -> str:
    """Render ``data`` under a ``root`` element as an XML document (UTF-8 declared)."""
    body = {root: _convert(data, root)}
    return xmltodict.unparse(body, encoding="utf-8", pretty=pretty, indent="  ")
