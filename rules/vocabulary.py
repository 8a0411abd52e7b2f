"""Which variables, scopes and actions each policy offers (SPEC §3).

The business-rules variables classes are generated here from the declarations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from business_rules.actions import BaseActions
from business_rules.variables import BaseVariables

from .actions import (
    AccrualActions,
    ActionSpec,
    AwardActions,
    ExpiryActions,
    MissionActions,
    RedemptionActions,
    TierActions,
)
from .variables import DOCUMENT, EVENT, LINE, LOT, MEMBER, Variable, variables_class

POLICY_NAMES = ("accrual", "redemption", "event", "referral", "birthday", "mission", "expiry", "tier")


@dataclass(frozen=True)
class PolicyVocabulary:
    """The language of one policy.

    ``line`` lists the variables only a line-scope rule may use; ``document``
    the variables every rule may use. ``scopes[0]`` is the default scope.
    """

    name: str
    scopes: tuple[str, ...]
    line: tuple[Variable, ...]
    document: tuple[Variable, ...]
    actions_class: type[BaseActions]
    label: str = ""
    variables_by_name: dict[str, Variable] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "variables_by_name", {v.name: v for v in self.line + self.document})

    @property
    def default_scope(self) -> str:
        return self.scopes[0]

    def variables_for(self, scope: str) -> tuple[Variable, ...]:
        return self.line + self.document if scope == "line" else self.document

    @cached_property
    def actions(self) -> dict[str, ActionSpec]:
        return self.actions_class.specs()

    @cached_property
    def _classes(self) -> dict[str, type[BaseVariables]]:
        prefix = "".join(part.title() for part in self.name.split("_"))
        return {scope: variables_class(f"{prefix}{scope.title()}Variables", self.variables_for(scope))
                for scope in self.scopes}

    def variables_class(self, scope: str) -> type[BaseVariables]:
        """The business-rules variables class for rules of ``scope``."""
        return self._classes[scope]

    def operators(self) -> dict[str, dict[str, str]]:
        """Per field type: operator name → input type (business-rules' own list)."""
        types = {v.field_type for v in self.line + self.document}
        return {t.name: {op["name"]: op["input_type"] for op in t.get_all_operators()} for t in types}


_ORDER = DOCUMENT + MEMBER

VOCABULARIES: dict[str, PolicyVocabulary] = {
    "accrual": PolicyVocabulary("accrual", ("line", "document"), LINE, _ORDER, AccrualActions,
                                "Points for purchases"),
    "redemption": PolicyVocabulary("redemption", ("document", "line"), LINE, _ORDER, RedemptionActions,
                                   "Paying with points"),
    "mission": PolicyVocabulary("mission", ("line", "document"), LINE, _ORDER, MissionActions,
                                "Mission progress"),
    "event": PolicyVocabulary("event", ("document",), (), EVENT + MEMBER, AwardActions, "Event bonuses"),
    "referral": PolicyVocabulary("referral", ("document",), (), EVENT + MEMBER, AwardActions,
                                 "Referral bonuses"),
    "birthday": PolicyVocabulary("birthday", ("document",), (), EVENT + MEMBER, AwardActions,
                                 "Birthday bonuses"),
    "expiry": PolicyVocabulary("expiry", ("document",), (), LOT + MEMBER, ExpiryActions, "Point expiry"),
    "tier": PolicyVocabulary("tier", ("document",), (), MEMBER, TierActions, "Tiers"),
}


def vocabulary(policy: str) -> PolicyVocabulary:
    return VOCABULARIES[policy]


def describe_scope(variable: Variable) -> str:
    return {"line": "a line", "document": "the document", "member": "the member",
            "event": "the event", "lot": "the lot"}[variable.kind]


def dump_params(spec: ActionSpec) -> list[dict[str, Any]]:
    """Each parameter's type and allowed range: ``minimum``/``maximum`` as exact text,
    ``min``/``max``/``decimals`` as numbers for the editor's inputs."""
    out = []
    for p in spec.params:
        item = {"name": p.name, "fieldType": p.field_type, "minimum": p.minimum, "maximum": p.maximum,
                "exclusive_minimum": p.exclusive_minimum, "integer": p.integer, "expects": p.describe()}
        if p.range is not None:
            item.update(p.range.to_json())
        if p.options:
            item["options"] = list(p.options)
        out.append(item)
    return out


def dump_range(variable: Variable) -> dict[str, Any]:
    """The values a condition may compare a numeric variable with (empty for other types)."""
    if variable.range is None:
        return {}
    return {"minimum": format(variable.range.minimum, "f"), "maximum": format(variable.range.maximum, "f"),
            **variable.range.to_json(), "expects": variable.range.describe()}
