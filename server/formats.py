"""Content negotiation: JSON by default, XML for `Accept: application/xml` or `?format=xml`.

Views produce JSON; when the client asked for XML, the finished JSON response
is rendered again as XML from the same data, so the two cannot drift apart.
"""
from __future__ import annotations

import json
from decimal import Decimal

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider

from exporters.xml import to_xml


class DecimalJSON(DefaultJSONProvider):
    """Parse JSON numbers into Decimal (never float) and write Decimal exactly."""

    sort_keys = False

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        return json.loads(s, **kwargs)

    @staticmethod
    def default(o):
        if isinstance(o, Decimal):
            return str(o)
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


def init_app(app: Flask) -> None:
    app.json = DecimalJSON(app)

    @app.after_request
    def _negotiate(response: Response):
        if request.path.startswith("/api/") and not request.path.endswith("openapi.json") \
                and wants_xml():
            return _to_xml(response)
        return response
