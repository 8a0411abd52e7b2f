"""marshmallow schemas for the structure of rule and settings documents.

The schemas check shape and primitive types only; the vocabulary checks
(variables, operators, actions, params) live in ``rules.validation``.
Errors come back as ``ValidationMessage`` objects via ``marshmallow_messages``.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .errors import ValidationMessage, shown
from .limits import DELAY_DAYS, LIFETIME_MONTHS, POINT_VALUE, PRECISION, PRIORITY, Range
from .values import parse_moment, to_decimal

MAX_RULES = 500
MAX_ID_LENGTH = 100


class StrictBoolean(fields.Field):
    """JSON true/false only: "yes" or 1 in a rule document is a mistake, not a boolean."""

    default_error_messages = {"invalid": "Not a valid boolean."}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class StrictInteger(fields.Field):
    """A JSON integer (no booleans, no 1.5, no "10")."""

    default_error_messages = {"invalid": "Not a valid integer."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.make_error("invalid")


class DecimalValue(fields.Field):
    """A finite decimal from a JSON number or numeric text, without float drift."""

    default_error_messages = {"invalid": "Not a valid number."}

    def _deserialize(self, value, attr, data, **kwargs):
        number = to_decimal(value)
        if number is None:
            raise self.make_error("invalid")
        return number


class InRange(validate.Validator):
    """A number within one of the ranges of ``rules.limits``."""

    def __init__(self, allowed: Range):
        self.allowed = allowed

    def __call__(self, value):
        problem = self.allowed.problem(Decimal(value))
        if problem is not None:
            raise ValidationError(f"Must be {self.allowed.describe(problem)}.")
        return value


class Moment(fields.Field):
    """An ISO date (``2025-03-01``) or an ISO datetime with a time zone."""

    default_error_messages = {"invalid": "Not a valid moment."}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = parse_moment(value)
        if moment is None:
            raise self.make_error("invalid")
        return moment


class ActionSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=[validate.Length(min=1), validate.Length(max=MAX_ID_LENGTH)])
    description = fields.String(load_default="", allow_none=True)
    scope = fields.String(load_default=None, validate=validate.OneOf(("line", "document")))
    priority = StrictInteger(load_default=0, validate=InRange(PRIORITY))
    active_from = Moment(load_default=None, allow_none=True)
    active_until = Moment(load_default=None, allow_none=True)
    stop_processing = StrictBoolean(load_default=False)
    conditions = fields.Raw(load_default=None, allow_none=True)
    actions = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))


class PolicyHeaderSchema(Schema):
    class Meta:
        unknown = RAISE

    policy = fields.String(required=True)
    rules = fields.List(fields.Raw(), required=True, validate=validate.Length(max=MAX_RULES))
    # Free text the editor may keep with a document; not interpreted.
    description = fields.String(load_default="", allow_none=True)


class SettingsSchema(Schema):
    class Meta:
        unknown = RAISE

    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    precision = StrictInteger(validate=InRange(PRECISION))
    rounding = fields.String(validate=validate.OneOf(("down", "half_up", "half_even", "up")))
    accrue_on = fields.String(validate=validate.OneOf(("paid", "fulfilled")))
    holding_days = StrictInteger(validate=InRange(DELAY_DAYS))
    point_value = DecimalValue(validate=InRange(POINT_VALUE))
    default_lifetime_months = StrictInteger(allow_none=True, validate=InRange(LIFETIME_MONTHS))
    negative_balance_allowed = StrictBoolean()
    visibility = fields.String(validate=validate.OneOf(("everyone", "members")))
    excluded_groups = fields.List(fields.String(validate=validate.Length(min=1)))
    time_zone = fields.String()
    phone_regions = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z]{2}$")))


# What each field expects, in words, for the messages.
EXPECTED = {
    "policy": "the policy name as text",
    "rules": f"a list of rules (at most {MAX_RULES})",
    "description": "text",
    "id": f"a non-empty text of at most {MAX_ID_LENGTH} characters, unique in the document",
    "scope": "'line' or 'document'",
    "priority": f"{PRIORITY.between()}, such as 10 (higher runs first)",
    "active_from": "a date (2025-03-01) or a date and time with a time zone (2025-03-01T08:00:00+01:00)",
    "active_until": "a date (2025-03-31) or a date and time with a time zone (2025-03-31T20:00:00+02:00)",
    "stop_processing": "true or false",
    "conditions": "an object with 'all' or 'any'",
    "actions": "a list with at least one action such as {\"name\": \"earn_fixed\", \"params\": {\"points\": 10}}",
    "name": "the action name as text",
    "params": "an object of parameter values",
    "currency": "a three-letter currency code in capitals such as PLN",
    "precision": f"the number of decimals of a point balance: {PRECISION.between()}",
    "rounding": "one of down, half_up, half_even, up",
    "accrue_on": "'paid' or 'fulfilled'",
    "holding_days": f"a number of days, {DELAY_DAYS.between()}",
    "point_value": f"the money one point pays for, {POINT_VALUE.describe()}, such as 0.5",
    "default_lifetime_months": f"a number of months, {LIFETIME_MONTHS.between()}, or null for points that never expire",
    "negative_balance_allowed": "true or false",
    "visibility": "'everyone' or 'members'",
    "excluded_groups": "a list of member group codes",
    "time_zone": "a time zone name such as Europe/Warsaw",
    "phone_regions": "a list of two-letter country codes in capitals such as PL",
}

_CODES = {
    "Missing data for required field.": "required",
    "Unknown field.": "unknown_field",
    "Field may not be null.": "null_not_allowed",
}


def _code_for(text: str) -> str:
    if text in _CODES:
        return _CODES[text]
    if text.startswith("Not a valid") or text.startswith("Invalid"):
        return "invalid_type"
    if text.startswith("Shorter than minimum length"):
        return "too_short"
    if text.startswith("Longer than maximum length"):
        return "too_long"
    if text.startswith("Must be one of"):
        return "invalid_choice"
    if text.startswith(("Must be greater", "Must be less", "Must be between", "Must be a ")):
        return "out_of_range"
    return "invalid_value"


def _walk(errors: Any, path: str):
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int):
                yield from _walk(value, f"{path}[{key}]")
            else:
                yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, (dict, list)):
                yield from _walk(item, path)
            else:
                yield path, str(item)
    else:
        yield path, str(errors)


def marshmallow_messages(error: ValidationError, *, prefix: str, subject: str,
                         rule_id: str | None = None, data: Any = None) -> list[ValidationMessage]:
    """Turn a marshmallow error into marketer-readable messages.

    ``prefix`` is the path of the validated object (``rules[2]``), ``subject``
    names it in the sentence (``Rule 'x'``).
    """
    out: list[ValidationMessage] = []
    for path, text in _walk(error.messages, ""):
        field = path.split(".")[0].split("[")[0]
        code = _code_for(text)
        full_path = f"{prefix}.{path}" if prefix and path else (prefix or path)
        if code == "required":
            message = f"{subject}: '{field}' is missing; it must be {EXPECTED.get(field, 'given')}."
        elif code == "unknown_field":
            known = ", ".join(k for k in EXPECTED if k in _known_fields(prefix))
            message = f"{subject}: {shown(field)} is not a known field" + (
                f"; the fields are: {known}." if known else ".")
        else:
            got = ""
            if isinstance(data, dict) and path == field and field in data:
                got = f"; got {shown(data[field])}"
            message = f"{subject}: '{path or field}' must be {EXPECTED.get(field, 'valid')}{got}."
        out.append(ValidationMessage(rule_id=rule_id, path=full_path, code=code, message=message))
    return out


def _known_fields(prefix: str) -> tuple[str, ...]:
    if prefix.startswith("rules[") and ".actions" in prefix:
        return tuple(ActionSchema().fields)
    if prefix.startswith("rules["):
        return tuple(RuleSchema().fields)
    if prefix == "settings":
        return tuple(SettingsSchema().fields)
    return tuple(PolicyHeaderSchema().fields)
