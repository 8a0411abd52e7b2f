"""Program settings: a validated, versioned document like a policy (name ``settings``)."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError

from .errors import RuleValidationError, ValidationMessage, shown
from .schema import SettingsSchema, marshmallow_messages
from .values import decimal_to_json

SETTINGS_POLICY = "settings"

_ROUNDING = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "up": ROUND_UP}


@dataclass(frozen=True)
class ProgramSettings:
    """The program-wide knobs of SPEC §3.

    ``rounding`` is applied once per document to its point total: ``down``
    truncates toward zero, ``up`` rounds away from zero, ``half_up`` and
    ``half_even`` are the usual commercial and banker's rounding.
    ``excluded_groups`` are *member* groups that take no part in the program:
    accrual earns nothing for them and redemption is refused.
    ``point_value`` is the money one point pays for, unless the redemption
    policy sets another with ``set_point_value``.
    """

    currency: str = "PLN"
    precision: int = 0
    rounding: str = "down"
    accrue_on: str = "fulfilled"
    holding_days: int = 0
    point_value: Decimal = Decimal("1")
    default_lifetime_months: int | None = 12
    negative_balance_allowed: bool = True
    visibility: str = "everyone"
    excluded_groups: tuple[str, ...] = ()
    time_zone: str = "Europe/Warsaw"
    phone_regions: tuple[str, ...] = ("PL",)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def _quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.precision)

    @cached_property
    def _rounding_mode(self) -> str:
        return _ROUNDING[self.rounding]

    def round_points(self, points: Decimal) -> Decimal:
        """Round a point amount to the program precision with the program rounding."""
        if not isinstance(points, Decimal):
            points = Decimal(points)
        return points.quantize(self._quantum, rounding=self._rounding_mode)

    def floor_points(self, points: Decimal) -> Decimal:
        """Round toward zero to the program precision (limits are never rounded up)."""
        return Decimal(points).quantize(self._quantum, rounding=ROUND_DOWN)

    def is_excluded(self, member_group: str) -> bool:
        return bool(member_group) and member_group in self.excluded_groups

    def to_json(self) -> dict[str, Any]:
        """The normalised settings document, accepted again by ``validate_settings``."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = decimal_to_json(value)
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return {"policy": SETTINGS_POLICY, "settings": data}


DEFAULT_SETTINGS = ProgramSettings()


def validate_settings(doc: Any) -> ProgramSettings:
    """Validate a settings document and return ``ProgramSettings``.

    Two shapes are accepted: the policy-like ``{"policy": "settings",
    "settings": {...}}`` (what ``to_json`` produces) and a flat ``{...}`` of
    the fields themselves. Missing fields take the SPEC §3 defaults; unknown
    fields are errors (a misspelt setting must not be silently ignored).
    """
    if not isinstance(doc, dict):
        raise RuleValidationError([ValidationMessage(
            None, "", "not_an_object",
            "The settings must be a JSON object such as "
            "{\"policy\": \"settings\", \"settings\": {\"precision\": 0}}.")])
    body = doc
    if "policy" in doc or "settings" in doc:
        extra = sorted(set(doc) - {"policy", "settings"})
        problems = []
        if doc.get("policy") != SETTINGS_POLICY:
            problems.append(ValidationMessage(
                None, "policy", "unknown_policy",
                f"This document names the policy {shown(doc.get('policy'))}; a settings document must say "
                "\"policy\": \"settings\"."))
        if not isinstance(doc.get("settings"), dict):
            problems.append(ValidationMessage(
                None, "settings", "invalid_type", "'settings' must be an object of setting names and values."))
        for key in extra:
            problems.append(ValidationMessage(
                None, key, "unknown_field",
                f"{shown(key)} is not expected next to 'policy' and 'settings'; put settings inside 'settings'."))
        if problems:
            raise RuleValidationError(problems)
        body = doc["settings"]
    problems = []
    try:
        loaded = SettingsSchema().load(body)
    except ValidationError as exc:
        problems = marshmallow_messages(exc, prefix="settings", subject="Settings", data=body)
    # Checked here too, so one answer lists every problem at once.
    zone = body.get("time_zone") if isinstance(body, dict) else None
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(ValidationMessage(
                None, "settings.time_zone", "unknown_time_zone",
                f"Settings: time zone {shown(zone)} is not known; use a name such as Europe/Warsaw or UTC."))
    if problems:
        raise RuleValidationError(problems)
    for key in ("excluded_groups", "phone_regions"):
        if key in loaded:
            loaded[key] = tuple(loaded[key])
    return replace(DEFAULT_SETTINGS, **loaded)
