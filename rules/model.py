"""Validated, immutable rule documents: conditions, actions, rules, the policy document."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .values import decimal_to_json


@dataclass(frozen=True, slots=True)
class Leaf:
    """One comparison: ``name`` ``operator`` ``value`` (value None for no-input operators)."""

    name: str
    operator: str
    value: Any  # Decimal | str | None

    def to_business_rules(self) -> dict[str, Any]:
        return {"name": self.name, "operator": self.operator, "value": self.value}

    def to_json(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, Decimal):
            value = decimal_to_json(value)
        elif isinstance(value, tuple):  # a select_multiple list, kept immutable in the model
            value = list(value)
        return {"name": self.name, "operator": self.operator, "value": value}

    def variables(self):
        yield self.name


@dataclass(frozen=True, slots=True)
class Group:
    """``all`` (every child holds) or ``any`` (at least one holds); never empty."""

    kind: str  # "all" | "any"
    children: tuple[Condition, ...]

    def to_business_rules(self) -> dict[str, Any]:
        return {self.kind: [c.to_business_rules() for c in self.children]}

    def to_json(self) -> dict[str, Any]:
        return {self.kind: [c.to_json() for c in self.children]}

    def variables(self):
        for child in self.children:
            yield from child.variables()


Condition = Leaf | Group


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    params: Mapping[str, Any]  # read-only; values Decimal or str

    def to_business_rules(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name,
                "params": {k: decimal_to_json(v) if isinstance(v, Decimal) else v
                           for k, v in self.params.items()}}


def freeze_params(params: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(params))


def _moment_json(moment: date | datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule. ``conditions`` None means the rule always applies."""

    id: str
    scope: str
    actions: tuple[Action, ...]
    conditions: Condition | None = None
    description: str = ""
    priority: int = 0
    active_from: date | datetime | None = None
    active_until: date | datetime | None = None
    stop_processing: bool = False
    position: int = 0  # index in the document: the tie-break after priority

    @property
    def sort_key(self) -> tuple[int, int]:
        return (-self.priority, self.position)

    def period(self, tz) -> tuple[datetime | None, datetime | None]:
        """[from, until) as aware datetimes; a date means its whole day in ``tz``
        (``active_until`` 2025-03-31 lasts until the end of 31 March)."""
        start = self.active_from
        end = self.active_until
        if isinstance(start, date) and not isinstance(start, datetime):
            start = datetime.combine(start, time(0), tzinfo=tz)
        if isinstance(end, date) and not isinstance(end, datetime):
            end = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
        return start, end

    def to_business_rules(self) -> dict[str, Any]:
        """The plain business-rules form (``conditions``/``actions``), Decimal values kept."""
        return {"conditions": self.conditions.to_business_rules() if self.conditions else {},
                "actions": [a.to_business_rules() for a in self.actions]}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "scope": self.scope,
            "priority": self.priority,
            "active_from": _moment_json(self.active_from),
            "active_until": _moment_json(self.active_until),
            "stop_processing": self.stop_processing,
            "conditions": self.conditions.to_json() if self.conditions else {},
            "actions": [a.to_json() for a in self.actions],
        }


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A validated policy: its name and rules in document order."""

    policy: str
    rules: tuple[Rule, ...]
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """The normalised document; ``validate_policy`` accepts it unchanged."""
        data: dict[str, Any] = {"policy": self.policy, "rules": [r.to_json() for r in self.rules]}
        if self.description:
            data["description"] = self.description
        return data

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def sorted_rules(self, scope: str) -> tuple[Rule, ...]:
        """Rules of one scope in evaluation order: higher priority first, then document order."""
        return tuple(sorted((r for r in self.rules if r.scope == scope), key=lambda r: r.sort_key))
