"""Safe parsing of what 1C uploads: no DTDs, no entities, bounded size and depth.

The bytes go to expat (through ``xmltodict``) with handlers that refuse any
document type declaration, entity declaration or external reference before it
can expand, and that count the nesting depth. The encoding declared in the XML
prolog is honoured (``windows-1251`` is common; UTF-8 with or without a BOM).
Repeating CommerceML elements always come back as lists (``force_list``), so a
file with one ``Документ`` looks like a file with many.
"""
from __future__ import annotations

from typing import Any
from xml.parsers import expat

import xmltodict

FORCE_LIST = frozenset({
    "Документ", "Товар", "Контрагент", "ЗначениеРеквизита", "Контакт", "Группа",
    "Предложение", "Цена", "Контейнер", "ТипЦены", "Представитель", "Скидка",
})
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100


class XMLError(ValueError):
    """A document we cannot read; ``reason`` is a plain sentence for the exchange log."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class BadXML(XMLError):
    """Not well-formed, wrong encoding, or not the document we expected."""


class HostileXML(XMLError):
    """Refused on purpose: DTDs, entities, external references, size or depth limits."""


class XMLTooLarge(HostileXML):
    pass


class XMLTooDeep(HostileXML):
    pass


def _refuse(reason: str):
    def handler(*_args: Any) -> None:
        raise HostileXML(reason)
    return handler


class _GuardedParser:
    """Wraps an expat parser: hostile declarations raise, element depth is counted."""

    def __init__(self, parser: Any, max_depth: int):
        object.__setattr__(self, "_parser", parser)
        object.__setattr__(self, "_max_depth", max_depth)
        object.__setattr__(self, "_depth", 0)
        parser.StartDoctypeDeclHandler = _refuse(
            "The document has a DTD (<!DOCTYPE …>); 1C never sends one, so it was refused.")
        parser.EntityDeclHandler = _refuse(
            "The document declares XML entities; they are refused (billion-laughs protection).")
        parser.UnparsedEntityDeclHandler = _refuse("The document declares an external entity.")
        parser.ExternalEntityRefHandler = _refuse(
            "The document refers to an external entity; it was refused.")
        parser.NotationDeclHandler = _refuse("The document declares a notation; it was refused.")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "StartElementHandler":
            def start(tag: str, attrs: Any, _inner=value) -> None:
                depth = self._depth + 1
                object.__setattr__(self, "_depth", depth)
                if depth > self._max_depth:
                    raise XMLTooDeep(f"The document is nested deeper than {self._max_depth} "
                                     "levels; it was refused.")
                _inner(tag, attrs)
            value = start
        elif name == "EndElementHandler":
            def end(tag: str, _inner=value) -> None:
                object.__setattr__(self, "_depth", self._depth - 1)
                _inner(tag)
            value = end
        setattr(self._parser, name, value)


class _GuardedExpat:
    """Stands in for the ``expat`` module that xmltodict uses to create its parser."""

    def __init__(self, max_depth: int):
        self.max_depth = max_depth

    def ParserCreate(self, encoding: str | None = None, namespace_separator: str | None = None):
        return _GuardedParser(expat.ParserCreate(encoding, namespace_separator), self.max_depth)


def _local_names(_path: Any, key: str, value: Any) -> tuple[str, Any]:
    """``cml:Документ`` → ``Документ``; CommerceML 3 files may carry a prefix."""
    if ":" in key and not key.startswith("@"):
        key = key.rsplit(":", 1)[1]
    return key, value


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
              max_depth: int = DEFAULT_MAX_DEPTH, root: str | None = None,
              force_list: frozenset[str] = FORCE_LIST) -> dict[str, Any]:
    """Parse ``data`` into a dict of the root element's content.

    Returns ``{"КоммерческаяИнформация": {...}}`` style dicts as xmltodict does
    (attributes under ``@name``, mixed text under ``#text``). When ``root`` is
    given, the root element must have that local name.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadXML("The upload must be raw bytes.")
    data = bytes(data)
    if len(data) > max_bytes:
        raise XMLTooLarge(f"The document is {len(data)} bytes, over the limit of {max_bytes} "
                          "bytes; split the exchange into smaller files.")
    if not data.strip():
        raise BadXML("The document is empty.")
    try:
        tree = xmltodict.parse(data, expat=_GuardedExpat(max_depth), disable_entities=True,
                               force_list=tuple(force_list), postprocessor=_local_names)
    except XMLError:
        raise
    except expat.ExpatError as exc:
        raise BadXML(_expat_reason(exc)) from None
    except (ValueError, LookupError) as exc:  # xmltodict's own entity refusal, bad encodings
        text = str(exc)
        if "entit" in text:
            raise HostileXML("The document uses XML entities; they are refused.") from None
        raise BadXML(f"The document cannot be read: {text}.") from None
    if not isinstance(tree, dict) or len(tree) != 1:
        raise BadXML("The document has no root element.")
    name = next(iter(tree))
    if root is not None and name != root:
        raise BadXML(f"The root element is <{name}>, expected <{root}>.")
    if tree[name] is None:
        tree[name] = {}
    return tree


def _expat_reason(exc: expat.ExpatError) -> str:
    message = expat.ErrorString(exc.code) if getattr(exc, "code", None) else str(exc)
    where = f" at line {exc.lineno}, column {exc.offset}" if getattr(exc, "lineno", None) else ""
    if exc.code == expat.errors.codes.get(expat.errors.XML_ERROR_INVALID_TOKEN):
        hint = (" — check that the encoding declared in the first line "
                "(e.g. windows-1251) matches the file")
    elif exc.code == expat.errors.codes.get(expat.errors.XML_ERROR_UNDEFINED_ENTITY):
        hint = " — entities are not allowed"
    else:
        hint = ""
    return f"The document is not well-formed XML: {message}{where}{hint}."


def element_lines(data: bytes, paths: set[tuple[str, ...]], *,
                  max_depth: int = DEFAULT_MAX_DEPTH) -> dict[tuple[str, ...], list[int]]:
    """Per path, the 1-based line numbers where its elements start, in document order.

    A second, cheap pass over an already accepted document, so quarantine
    records can point at the line a 1C administrator will open. ``paths`` are
    local names below the root, e.g. ``{("Документ",), ("Контейнер", "Документ")}``.
    """
    lines: dict[tuple[str, ...], list[int]] = {path: [] for path in paths}
    stack: list[str] = []
    parser = _GuardedParser(expat.ParserCreate(), max_depth)

    def start(tag: str, _attrs: Any) -> None:
        stack.append(tag.rsplit(":", 1)[-1])
        path = tuple(stack[1:])
        if path in lines:
            lines[path].append(parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _tag: stack.pop()
    parser.Parse(bytes(data), True)
    return lines
