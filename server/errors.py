"""Errors as data: every failure is JSON (or XML) with a stable code, never an HTML page.

Domain exceptions carry a ``code``; this module maps them to HTTP statuses in
one table, so views raise and never format errors themselves.
"""
from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

import rules
from engine import ledger, members, policies, simulations
from engine.documents import orders, redemptions
from engine.engagement.refusals import Refusal
from engine.members import adjustments

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


# Most specific first: the first matching class decides the status.
STATUS_BY_EXCEPTION: list[tuple[type[BaseException], int]] = [
    (members.UnknownMember, 404),
    (orders.UnknownDocument, 404),
    (redemptions.UnknownRedemption, 404),
    (policies.UnknownPolicy, 404),
    (members.DuplicateMember, 409),
    (orders.DocumentConflict, 409),
    (redemptions.RedemptionConflict, 409),
    (ledger.IdempotencyConflict, 409),
    (policies.NothingToPublish, 409),
    (ledger.InsufficientPoints, 422),
    (members.InvalidMemberData, 422),
    (orders.DocumentError, 422),
    (redemptions.RedemptionError, 422),
    (adjustments.AdjustmentError, 422),
    (rules.RuleValidationError, 422),
    (rules.EvaluationError, 422),
    (simulations.NotSimulable, 422),
]

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_error",
              429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


def _response(status: int, body: dict):
    response = jsonify(body)
    response.status_code = status
    return response


def _domain_details(exc: BaseException) -> dict | None:
    if isinstance(exc, rules.RuleValidationError):
        return {"errors": [m.to_dict() for m in exc.errors]}
    if isinstance(exc, ledger.InsufficientPoints):
        return {"requested": str(exc.requested), "available": str(exc.available)}
    field = getattr(exc, "field", None)
    return {"field": field} if field else None


def handle_domain(exc: Exception):
    for cls, status in STATUS_BY_EXCEPTION:
        if isinstance(exc, cls):
            code = "invalid_policy" if isinstance(exc, rules.RuleValidationError) else exc.code
            return _response(status, error_body(code, str(exc), _domain_details(exc)))
    raise exc


def handle_refusal(exc: Refusal):
    """A program's refusal (promo codes, rewards) carries its own code and status."""
    return _response(exc.status, error_body(exc.code, str(exc), exc.details))


def handle_http(exc: HTTPException):
    original = getattr(exc, "original_exception", None)
    if original is not None and not isinstance(original, HTTPException):
        return handle_unexpected(original)  # Flask's own 500 for an escaped exception
    status = exc.code or 500
    details = None
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs/marshmallow: {"json": {"field": ["message"]}}
        details = {"fields": {k: v for location in messages.values() for k, v in location.items()}
                   if all(isinstance(v, dict) for v in messages.values()) else messages}
        message = "the request has invalid fields"
        code = "validation_error"
    else:
        message = exc.description or HTTP_CODES.get(status, "error")
        code = getattr(exc, "error_code", None) or HTTP_CODES.get(status, "error")
    response = _response(status, error_body(code, message, details))
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def handle_api_error(exc: ApiError):
    return _response(exc.status, error_body(exc.code, exc.message, exc.details))


def handle_unexpected(exc: Exception):
    """The last resort: whatever escaped every other handler is a logged 500 whose
    id is both in the answer and in the log line, so a report can be traced."""
    error_id = str(uuid.uuid4())
    log.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
    body = error_body("internal_error", f"The server failed; the error was logged as {error_id}.")
    body["error_id"] = error_id
    return _response(500, body)


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Refusal, handle_refusal)
    for cls, _status in STATUS_BY_EXCEPTION:
        app.register_error_handler(cls, handle_domain)
    app.register_error_handler(Exception, handle_unexpected)
