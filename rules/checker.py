"""``RuleChecker``: one rule's conditions and actions checked against its policy's vocabulary.

Nothing in a document reaches Python attributes: variable, operator and action
names are looked up in the vocabulary's own tables, never with ``getattr`` on
user text; a regular expression must pass ``regex_guard`` first; every number
must lie in its range (``rules.limits``), and a message names that range.
"""
from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

from business_rules.fields import FIELD_NO_INPUT, FIELD_NUMERIC, FIELD_SELECT, FIELD_SELECT_MULTIPLE, FIELD_TEXT
from marshmallow import ValidationError

from .errors import ValidationMessage, shown
from .model import Action, Group, Leaf, freeze_params
from .regex_guard import UnsafePattern, check_pattern
from .schema import ActionSchema, marshmallow_messages
from .values import to_decimal
from .vocabulary import PolicyVocabulary, describe_scope

MAX_DEPTH = 8
MAX_LEAVES = 100
_TEXT_NEEDS_VALUE = {"starts_with", "ends_with", "contains", "matches_regex"}
_TYPE_WORDS = {"string": "text", "numeric": "number", "boolean": "yes/no", "select": "list",
               "select_multiple": "list"}


class RuleChecker:
    """Collects the problems of one rule while building its immutable form."""

    def __init__(self, vocab: PolicyVocabulary, index: int, raw: dict, errors: list):
        self.vocab = vocab
        self.prefix = f"rules[{index}]"
        rid = raw.get("id")
        self.rule_id = rid if isinstance(rid, str) and rid else None
        self.subject = f"Rule {shown(self.rule_id)}" if self.rule_id else f"Rule #{index + 1}"
        self.errors = errors
        self.count = len(errors)
        self.scope = vocab.default_scope
        self.leaves = 0

    @property
    def ok(self) -> bool:
        return len(self.errors) == self.count

    def error(self, path: str, code: str, message: str) -> None:
        full = f"{self.prefix}.{path}" if path else self.prefix
        self.errors.append(ValidationMessage(self.rule_id, full, code, f"{self.subject}: {message}"))

    # conditions -------------------------------------------------------------

    def condition(self, node: Any, path: str, depth: int):
        if not isinstance(node, dict):
            self.error(path, "invalid_condition",
                       f"{path} must be an object: {{\"all\": [...]}}, {{\"any\": [...]}} or "
                       "{\"name\": ..., \"operator\": ..., \"value\": ...}.")
            return None
        if depth > MAX_DEPTH:
            self.error(path, "too_complex", f"{path} is nested more than {MAX_DEPTH} levels deep; simplify it.")
            return None
        groups = [k for k in ("all", "any") if k in node]
        if groups:
            if len(node) != 1:
                self.error(path, "mixed_condition",
                           f"{path} mixes {', '.join(sorted(map(repr, node)))}; a group holds only 'all' or only "
                           "'any'. Nest one inside the other to combine them.")
                return None
            kind = groups[0]
            children = node[kind]
            if not isinstance(children, list):
                self.error(f"{path}.{kind}", "invalid_condition",
                           f"'{kind}' in {path} must be a list of conditions.")
                return None
            if not children:
                self.error(f"{path}.{kind}", "empty_group",
                           f"the '{kind}' group at {path} is empty. Add at least one condition, or remove "
                           "the conditions altogether for a rule that always applies.")
                return None
            built = [self.condition(c, f"{path}.{kind}[{i}]", depth + 1) for i, c in enumerate(children)]
            return Group(kind, tuple(built)) if None not in built else None
        return self.leaf(node, path)

    def leaf(self, node: dict, path: str):
        self.leaves += 1
        if self.leaves == MAX_LEAVES + 1:
            self.error(path, "too_complex", f"the rule has more than {MAX_LEAVES} conditions; split it.")
        unknown = sorted(set(node) - {"name", "operator", "value"})
        if unknown:
            self.error(f"{path}.{unknown[0]}", "unknown_field",
                       f"condition {path} has the unknown field(s) {', '.join(map(shown, unknown[:5]))}; "
                       "a condition has "
                       "'name', 'operator' and 'value'.")
            return None
        name, operator = node.get("name"), node.get("operator")
        allowed_here = self.vocab.variables_for(self.scope)
        if not isinstance(name, str) or not name:
            self.error(f"{path}.name", "required",
                       f"condition {path} needs a variable 'name', one of: {_names(allowed_here)}.")
            return None
        variable = self.vocab.variables_by_name.get(name)
        if variable is None:
            self.error(f"{path}.name", "unknown_variable",
                       f"condition {path} uses the variable {shown(name)}, which does not exist in the "
                       f"{self.vocab.name} policy. Variables you can use here: {_names(allowed_here)}.")
            return None
        if variable not in allowed_here:
            self.error(f"{path}.name", "line_variable_in_document_rule",
                       f"condition {path} uses {shown(name)}, which describes {describe_scope(variable)}, but this "
                       "rule has document scope. Set \"scope\": \"line\" to test each line, or use one of: "
                       f"{_names(allowed_here)}.")
            return None
        operators = _operators(variable.field_type)
        type_word = _TYPE_WORDS.get(variable.type_name, variable.type_name)
        if not isinstance(operator, str) or operator not in operators:
            problem = "is missing" if operator is None else f"{shown(operator)} cannot be used"
            self.error(f"{path}.operator", "invalid_operator" if operator is not None else "required",
                       f"condition {path}: the operator {problem} with {shown(name)} (a {type_word} variable). "
                       f"Allowed operators: {', '.join(sorted(operators))}.{_list_hint(variable, operator)}")
            return None
        value = self.value(node, path, variable, operator, operators[operator], type_word)
        return None if value is _BAD else Leaf(name, operator, value)

    def value(self, node, path, variable, operator, input_type, type_word):
        raw = node.get("value")
        where = f"condition {path} ({variable.name} {operator})"
        if input_type == FIELD_NO_INPUT:
            return None  # business-rules ignores it; normalise so the stored form is clean
        if "value" not in node:
            self.error(f"{path}.value", "required", f"{where} needs a 'value'.")
            return _BAD
        if input_type == FIELD_NUMERIC:
            allowed = variable.range
            number = to_decimal(raw)
            if number is None:
                self.error(f"{path}.value", "invalid_value",
                           f"{where} compares a number, so the value must be {allowed.describe()}; got {shown(raw)}.")
                return _BAD
            problem = allowed.problem(number)
            if problem is not None:
                self.error(f"{path}.value", _VALUE_CODES[problem],
                           f"{where}: the value must be {allowed.describe(problem)} (got {_number(number)}).")
                return _BAD
            return number
        if input_type in (FIELD_TEXT, FIELD_SELECT):
            if not isinstance(raw, str):
                self.error(f"{path}.value", "invalid_value",
                           f"{where} compares {type_word}, so the value must be text in quotes; got {shown(raw)}.")
                return _BAD
            if not raw and (operator in _TEXT_NEEDS_VALUE or input_type == FIELD_SELECT):
                self.error(f"{path}.value", "empty_value", f"{where} needs a non-empty value.")
                return _BAD
            exact = operator == "equal_to"
            if variable.options and (exact or operator == "equal_to_case_insensitive" or input_type == FIELD_SELECT):
                known = raw in variable.options if exact else raw.lower() in {o.lower() for o in variable.options}
                if not known:
                    self.error(f"{path}.value", "unknown_option",
                               f"{where}: {shown(raw)} is not a possible value of {variable.name!r}; "
                               f"the values are: {', '.join(variable.options)}.")
                    return _BAD
            if operator == "matches_regex":
                try:
                    check_pattern(raw)
                except UnsafePattern as exc:
                    self.error(f"{path}.value", "unsafe_regex", f"{where}: the pattern is refused: {exc}.")
                    return _BAD
                except re.error as exc:
                    self.error(f"{path}.value", "invalid_regex",
                               f"{where}: {shown(raw)} is not a valid regular expression ({exc}).")
                    return _BAD
            return raw
        if input_type == FIELD_SELECT_MULTIPLE:
            if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
                self.error(f"{path}.value", "invalid_value",
                           f"{where} needs a non-empty list of texts; got {shown(raw)}.")
                return _BAD
            return tuple(raw)
        self.error(f"{path}.operator", "invalid_operator", f"{where}: unsupported operator.")  # pragma: no cover
        return _BAD

    # actions ----------------------------------------------------------------

    def action(self, raw: Any, path: str):
        if not isinstance(raw, dict):
            self.error(path, "invalid_action",
                       f"{path} must be an object such as "
                       "{\"name\": \"earn_fixed\", \"params\": {\"points\": 10}}.")
            return None
        try:
            loaded = _ACTION_SCHEMA.load(raw)
        except ValidationError as exc:
            for msg in marshmallow_messages(exc, prefix=f"{self.prefix}.{path}", subject=self.subject,
                                            rule_id=self.rule_id, data=raw):
                self.errors.append(msg)
            return None
        name = loaded["name"]
        specs = self.vocab.actions
        here = sorted(n for n, s in specs.items() if self.scope in s.scopes)
        spec = specs.get(name)
        if spec is None:
            self.error(f"{path}.name", "unknown_action",
                       f"{path} uses the action {shown(name)}, which does not exist in the {self.vocab.name} policy. "
                       f"Actions you can use here: {', '.join(here)}.")
            return None
        if self.scope not in spec.scopes:
            self.error(f"{path}.name", "action_not_allowed_in_scope",
                       f"the action {shown(name)} works only in {' or '.join(spec.scopes)}-scope rules, and this rule "
                       f"has {self.scope} scope. Actions you can use here: {', '.join(here)}.")
            return None
        params = loaded["params"] or {}
        expected = ", ".join(f"{p.name} ({p.describe()})" for p in spec.params) or "none"
        ok = True
        for key in sorted(set(params) - set(spec.param_names)):
            self.error(f"{path}.params.{key}", "unknown_param",
                       f"the action {shown(name)} has no parameter {shown(key)}; its parameters: {expected}.")
            ok = False
        clean: dict[str, Any] = {}
        for p in spec.params:
            where = f"{path}.params.{p.name}"
            if p.name not in params:
                self.error(where, "missing_param", f"the action {shown(name)} needs {p.name!r}: {p.describe()}.")
                ok = False
                continue
            value = self.param(p, params[p.name], name, where)
            ok = ok and value is not _BAD
            clean[p.name] = value
        return Action(name, freeze_params(clean)) if ok else None

    def param(self, p, raw, action_name, where):
        if p.options:
            if isinstance(raw, str) and raw in p.options:
                return raw
            self.error(where, "invalid_param",
                       f"the {p.name} of {action_name} must be {p.describe()}; got {shown(raw)}.")
            return _BAD
        if p.field_type == FIELD_TEXT:
            if isinstance(raw, str) and raw.strip():
                return raw.strip()
            self.error(where, "invalid_param",
                       f"the {p.name} of {action_name} must be {p.describe()}; got {shown(raw)}.")
            return _BAD
        number = to_decimal(raw)
        if number is None:
            self.error(where, "invalid_param",
                       f"the {p.name} of {action_name} must be {p.describe()}; got {shown(raw)}.")
            return _BAD
        problem = p.range.problem(number)
        if problem is not None:
            self.error(where, _PARAM_CODES[problem],
                       f"the {p.name} of {action_name} must be {p.range.describe(problem)} (got {_number(number)}).")
            return _BAD
        return int(number) if p.integer else number


_PARAM_CODES = {"out_of_range": "param_out_of_range", "not_whole": "invalid_param",
                "too_many_decimals": "too_many_decimals"}
_VALUE_CODES = {"out_of_range": "value_out_of_range", "not_whole": "invalid_value",
                "too_many_decimals": "too_many_decimals"}


def _number(number: Decimal) -> str:
    text = str(number)
    return text if len(text) <= 40 else text[:39] + "…"


_BAD = object()
# Built once: a schema instance holds no state between loads, and building one per
# rule was most of the time spent on a large document.
_ACTION_SCHEMA = ActionSchema()


@functools.cache
def _operators(field_type) -> dict[str, str]:
    """Operator name → input type of a business-rules field type."""
    return {op["name"]: op["input_type"] for op in field_type.get_all_operators()}


def _list_hint(variable, operator) -> str:
    """A list variable compares with a list: say how to write the single-value forms."""
    if variable.type_name != "select_multiple" or operator not in ("contains", "does_not_contain", "contains_any"):
        return ""
    return (" To test one value use contains_all with a list such as [\"eco\"]; for any of several, "
            "shares_at_least_one_element_with; for none of them, shares_no_elements_with.")


def _names(variables) -> str:
    return ", ".join(v.name for v in variables)
