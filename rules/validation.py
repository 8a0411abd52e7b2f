"""``validate_policy``: a rule document checked against the vocabulary, or every problem listed.

The document as a whole (policy name, rule fields, periods, unique ids) is
checked here; each rule's conditions and actions by ``rules.checker``.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import ValidationError

from .checker import RuleChecker
from .errors import RuleValidationError, ValidationMessage, shown
from .model import PolicyDocument, Rule
from .schema import PolicyHeaderSchema, RuleSchema, marshmallow_messages
from .vocabulary import POLICY_NAMES, PolicyVocabulary, vocabulary

# Built once: a schema instance holds no state between loads, and building one per
# rule was most of the time spent on a large document.
_RULE_SCHEMA = RuleSchema()


def _fail(path: str, code: str, message: str) -> RuleValidationError:
    return RuleValidationError([ValidationMessage(None, path, code, message)])


def _instant(moment: date | datetime, end: bool) -> datetime:
    if isinstance(moment, datetime):
        return moment
    day = moment + timedelta(days=1) if end else moment
    return datetime.combine(day, time(0), tzinfo=UTC)


def _rule(vocab: PolicyVocabulary, index: int, raw: Any, errors: list) -> Rule | None:
    if not isinstance(raw, dict):
        errors.append(ValidationMessage(None, f"rules[{index}]", "invalid_rule",
                                        f"Rule #{index + 1} must be an object with 'id', 'conditions' and 'actions'."))
        return None
    check = RuleChecker(vocab, index, raw, errors)
    try:
        loaded = _RULE_SCHEMA.load(raw)
    except ValidationError as exc:
        errors.extend(marshmallow_messages(exc, prefix=check.prefix, subject=check.subject,
                                           rule_id=check.rule_id, data=raw))
        loaded = dict(exc.valid_data or {})
    scope = loaded.get("scope") or vocab.default_scope
    if scope not in vocab.scopes:
        check.error("scope", "scope_not_allowed",
                    f"scope {shown(scope)} is not available in the {vocab.name} policy; use "
                    f"{' or '.join(map(repr, vocab.scopes))} (or leave it out).")
        return None
    check.scope = scope
    conditions = None
    raw_conditions = raw.get("conditions")
    if raw_conditions is not None and raw_conditions != {}:
        conditions = check.condition(raw_conditions, "conditions", 1)
    raw_actions = raw.get("actions")
    actions = [check.action(a, f"actions[{j}]") for j, a in enumerate(raw_actions)] \
        if isinstance(raw_actions, list) else []
    start, end = loaded.get("active_from"), loaded.get("active_until")
    if start is not None and end is not None and _instant(end, True) <= _instant(start, False):
        check.error("active_until", "invalid_period",
                    f"active_until ({end.isoformat()}) is not after active_from ({start.isoformat()}), so the "
                    "rule would never apply. Make active_until later than active_from.")
    if vocab.name == "tier" and loaded.get("stop_processing") and any(
            getattr(a, "name", None) == "tier_invitation_only" for a in actions):
        check.error("stop_processing", "invitation_stops",
                    "An invitation-only tier is never given by turnover, so its rule must not stop the "
                    "rules below it: remove stop_processing.")
    if not check.ok:
        return None
    return Rule(id=loaded["id"], scope=scope, actions=tuple(actions), conditions=conditions,
                description=loaded.get("description") or "", priority=loaded.get("priority", 0),
                active_from=start, active_until=end, stop_processing=loaded.get("stop_processing", False),
                position=index)


def validate_policy(doc: Any) -> PolicyDocument:
    """Validate ``{"policy": name, "rules": [...]}`` and return an immutable ``PolicyDocument``.

    Raises ``RuleValidationError`` listing every problem found (all rules are
    checked, not only the first bad one). A rule's ``scope`` defaults to
    ``line`` in the accrual and mission policies and to ``document`` elsewhere;
    a rule without ``conditions`` (or with ``{}``) always applies, but an
    explicit empty ``all``/``any`` is an error.
    """
    if not isinstance(doc, dict):
        raise _fail("", "not_an_object",
                    "A policy must be a JSON object such as {\"policy\": \"accrual\", \"rules\": [...]}.")
    policy = doc.get("policy")
    if not isinstance(policy, str) or policy not in POLICY_NAMES:
        raise _fail("policy", "unknown_policy" if policy is not None else "required",
                    f"The policy name {shown(policy)} is not known; it must be one of: {', '.join(POLICY_NAMES)}."
                    if policy is not None else
                    f"The document needs a 'policy' name, one of: {', '.join(POLICY_NAMES)}.")
    errors: list[ValidationMessage] = []
    try:
        header = PolicyHeaderSchema().load(doc)
    except ValidationError as exc:
        errors.extend(marshmallow_messages(exc, prefix="", subject=f"The {policy} policy", data=doc))
        header = dict(exc.valid_data or {})
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list):
        raise RuleValidationError(errors)
    vocab = vocabulary(policy)
    built = [_rule(vocab, i, raw, errors) for i, raw in enumerate(raw_rules)]
    first_seen: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        rid = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(rid, str) or not rid:
            continue
        if rid in first_seen:
            errors.append(ValidationMessage(
                rid, f"rules[{i}].id", "duplicate_id",
                f"Rule {shown(rid)}: the id is already used by rule #{first_seen[rid] + 1}; "
                "every rule needs its own id."))
        else:
            first_seen[rid] = i
    if errors:
        raise RuleValidationError(errors)
    return PolicyDocument(policy, tuple(built), header.get("description") or "")  # type: ignore[arg-type]
