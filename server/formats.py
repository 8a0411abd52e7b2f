"""Content negotiation: JSON by default, XML for `Accept: application/xml` or `?format=xml`.

Views produce JSON; when the client asked for XML, the finished JSON response
is rendered again as XML from the same data, so the two cannot drift apart.
Timestamps are ISO 8601 with their offset in both (never Flask's RFC 822).
Before any view runs, an API request is refused when its JSON body is larger
than ``MAX_JSON_BYTES`` (uploads have their own, larger limit), nests deeper
than ``MAX_JSON_DEPTH`` (before any parser recurses into it), or when
its body, path, query or idempotency key holds a NUL character, which no
PostgreSQL text column can store.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider

from exporters.xml import to_xml
from server.errors import ApiError

# Real documents nest a handful of levels (a policy: rule, conditions, all/any,
# condition); 64 leaves room, and stays far below every recursive parser's limit.
MAX_JSON_DEPTH = 64
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# A JSON \u0000 escape: preceded by an even number of backslashes (so not "\\u0000").
_NUL_ESCAPE = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')
NUL_MESSAGE = "Text may not contain the NUL character (\\u0000); nothing was read."


def nested_deeper_than(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` opens more than ``limit`` arrays/objects inside each
    other; strings are skipped, so brackets inside them do not count. No parsing."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    return f"The JSON is nested more than {limit} levels deep; nothing was read."


def iso(moment: datetime | date) -> str:
    """ISO 8601; a datetime always with its offset (a naive one is UTC, as the models store)."""
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


class DecimalJSON(DefaultJSONProvider):
    """Parse JSON numbers into Decimal (never float), write Decimal exactly and
    datetimes as ISO 8601."""

    sort_keys = False

    def loads(self, s, **kwargs):
        if nested_deeper_than(s):
            raise ValueError(too_deep_message())
        kwargs.setdefault("parse_float", Decimal)
        return json.loads(s, **kwargs)

    @staticmethod
    def default(o):
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, (datetime, date)):
            return iso(o)
        return DefaultJSONProvider.default(o)


def wants_xml() -> bool:
    fmt = request.args.get("format")
    if fmt:
        return fmt.lower() == "xml"
    best = request.accept_mimetypes.best_match(["application/json", "application/xml",
                                                "text/xml"])
    return best in ("application/xml", "text/xml")


def xml_root(name: str) -> None:
    """Name the root element of this response's XML form."""
    g.xml_root = name


def xml_document(name: str) -> Callable:
    """Name the root element of a view's XML answer before anything else runs, so an
    answer that does not come from the view's body (an idempotent replay) has it too."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            xml_root(name)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def _to_xml(response: Response) -> Response:
    if response.direct_passthrough or response.mimetype != "application/json":
        return response
    data = json.loads(response.get_data(), parse_float=Decimal)
    root = "error" if response.status_code >= 400 else g.get("xml_root", "response")
    if isinstance(data, list):
        data = {"items": data}
    response.set_data(to_xml(root, data))
    response.mimetype = "application/xml"
    response.headers["Vary"] = "Accept"
    return response


def _refuse_unreadable_input() -> None:
    # The API only: the 1C protocol answers in its own text format, and any other
    # reader of JSON goes through DecimalJSON.loads, which refuses the same depth.
    if not request.path.startswith("/api/"):
        return
    if "\x00" in request.path or "\x00" in request.headers.get("Idempotency-Key", "") or any(
            "\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        raise ApiError(422, "validation_error", NUL_MESSAGE)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.is_json:
        # A JSON body is read into memory whole: cap it far below MAX_CONTENT_LENGTH (413).
        request.max_content_length = current_app.config["MAX_JSON_BYTES"]
        raw = request.get_data(cache=True)
        if nested_deeper_than(raw):
            raise ApiError(400, "invalid_json", too_deep_message())
        if _NUL_ESCAPE.search(raw):
            raise ApiError(422, "validation_error", NUL_MESSAGE)


def init_app(app: Flask) -> None:
    app.json = DecimalJSON(app)
    app.before_request(_refuse_unreadable_input)

    @app.after_request
    def _negotiate(response: Response):
        if request.path.startswith("/api/") and not request.path.endswith("openapi.json") \
                and wants_xml():
            return _to_xml(response)
        return response
