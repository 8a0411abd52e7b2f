"""The XML form of API resources: the same data as the JSON, built with xmltodict.

A list becomes a container element whose children take the singular of its
name (``entries`` → ``entry``, ``lines`` → ``line``), so a shop can read the
balance with any XML parser [000].

Characters XML 1.0 cannot carry at all (control characters other than tab,
line feed and carriage return; lone surrogates; U+FFFE and U+FFFF) are
replaced by U+FFFD REPLACEMENT CHARACTER in text, so every document parses; a
member named "A\x01B" reads as "A\ufffdB". The JSON form keeps the original.
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
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 does not allow replaced by U+FFFD."""
    return _NOT_XML.sub(REPLACEMENT, text)


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
    if isinstance(value, str):
        return xml_text(value)
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
