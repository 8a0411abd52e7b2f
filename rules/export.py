"""``export_vocabulary``: what the admin UI generates its rule editor from.

Per policy, the ``business_rules.export_rule_data`` output (variables with
field types, labels and options; operators per type; actions with params and
field types), enriched with what business-rules has no words for: each
variable's kind (line, document, member, event, lot) and the rule scopes that
may use it (and, for a numeric variable, the range a condition may compare
it with: ``minimum``/``maximum`` as text, ``min``/``max``/``decimals``/``integer``
as numbers), each action's scopes and parameter ranges (the same keys), and
the policy's scopes. The ranges come from the table in ``rules.limits``.
"""
from __future__ import annotations

from typing import Any

from business_rules.utils import export_rule_data

from .limits import PRIORITY
from .vocabulary import POLICY_NAMES, PolicyVocabulary, dump_params, dump_range, vocabulary

_RULE_FIELDS = {
    "id": "text, unique in the document",
    "description": "text",
    "scope": "line or document",
    "priority": f"{PRIORITY.between()}, higher runs first (ties: document order)",
    "active_from": "date or date-time with a time zone; the rule applies from then",
    "active_until": "date (inclusive: the whole day) or date-time (exclusive)",
    "stop_processing": "true: no later rule runs (for this line) once this one matched",
    "conditions": "{\"all\": [...]} or {\"any\": [...]} of {name, operator, value}; omit to always apply",
    "actions": "list of {name, params}, at least one",
}


def _export_one(vocab: PolicyVocabulary) -> dict[str, Any]:
    widest = "line" if "line" in vocab.scopes else vocab.scopes[0]
    data = export_rule_data(vocab.variables_class(widest), vocab.actions_class)
    by_name = vocab.variables_by_name
    for item in data["variables"]:
        variable = by_name[item["name"]]
        item["kind"] = variable.kind
        item["scopes"] = ["line"] if variable.kind == "line" else list(vocab.scopes)
        item["help"] = variable.help
        item.update(dump_range(variable))
    used_types = {v.type_name for v in by_name.values()}
    data["variable_type_operators"] = {t: ops for t, ops in data["variable_type_operators"].items()
                                       if t in used_types}
    specs = vocab.actions
    for item in data["actions"]:
        spec = specs[item["name"]]
        item["scopes"] = list(spec.scopes)
        item["help"] = spec.help
        extra = {p["name"]: p for p in dump_params(spec)}
        item["params"] = [dict(param, **extra[param["name"]]) for param in item["params"] or []]
    order = {v.name: i for i, v in enumerate(vocab.line + vocab.document)}
    data["variables"].sort(key=lambda v: order[v["name"]])
    kinds: dict[str, list[str]] = {}
    for variable in vocab.line + vocab.document:
        kinds.setdefault(variable.kind, []).append(variable.name)
    data.update(policy=vocab.name, label=vocab.label, scopes=list(vocab.scopes),
                default_scope=vocab.default_scope, variables_by_kind=kinds, rule_fields=_RULE_FIELDS)
    return data


def export_vocabulary(policy: str | None = None) -> dict[str, Any]:
    """The vocabulary of one policy, or ``{policy name: vocabulary}`` for all of them."""
    if policy is not None:
        if policy not in POLICY_NAMES:
            raise KeyError(f"there is no policy called {policy!r}; the policies are: {', '.join(POLICY_NAMES)}")
        return _export_one(vocabulary(policy))
    return {name: _export_one(vocabulary(name)) for name in POLICY_NAMES}
