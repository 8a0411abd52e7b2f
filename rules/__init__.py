"""The rule language: policies as validated JSON, compiled, evaluated and explained.

Pure Python, no database; nothing here imports the rest of the project.
See each module for the exact semantics:

* ``validation`` / ``settings``: ``validate_policy``, ``validate_settings``; ``limits``: the
  allowed range of every number (checked on save, exported) and of every result;
* ``errors``: ``RuleValidationError`` (save) and ``EvaluationError`` (an evaluation
  the ledger cannot hold: refuse the document);
* ``compiler``: ``compile_policy`` (closures + equality indexes);
* ``accrual``: ``evaluate_accrual`` (SPEC §3), ``explain``: its trace; both apply the
  action closures of ``earning`` and return the ``results`` dataclasses;
* ``reference``: the same semantics through ``business_rules.engine``;
* ``redemption``, ``expiry``, ``awards`` (event/birthday/referral, tier), ``mission``;
* ``simulation``: ``simulate``/``compare``; ``export``: ``export_vocabulary``;
* ``defaults``: the shipped demo policies (``rules/defaults/*.json``).
"""
from .accrual import evaluate_accrual
from .awards import AwardResult, TierResult, evaluate_award, evaluate_tier
from .compiler import CompiledPolicy, compile_policy
from .defaults import default_policies
from .errors import EvaluationError, RuleValidationError, ValidationMessage
from .expiry import DEFAULT_WARN_DAYS, ExpiryResult, evaluate_expiry
from .export import export_vocabulary
from .mission import MissionLine, MissionResult, evaluate_mission
from .model import Action, Group, Leaf, PolicyDocument, Rule
from .redemption import RedemptionResult, evaluate_redemption
from .reference import reference_accrual
from .results import AccrualResult, LineResult
from .settings import DEFAULT_SETTINGS, ProgramSettings, validate_settings
from .simulation import SimulationResult, compare, simulate
from .validation import validate_policy
from .vocabulary import POLICY_NAMES

__all__ = [
    "AccrualResult", "Action", "AwardResult", "CompiledPolicy", "DEFAULT_SETTINGS", "DEFAULT_WARN_DAYS",
    "EvaluationError", "ExpiryResult", "Group", "Leaf", "LineResult", "MissionLine", "MissionResult", "POLICY_NAMES",
    "PolicyDocument", "ProgramSettings", "RedemptionResult", "Rule", "RuleValidationError", "SimulationResult",
    "TierResult", "ValidationMessage", "compare", "compile_policy", "default_policies", "evaluate_accrual",
    "evaluate_award", "evaluate_expiry", "evaluate_mission", "evaluate_redemption", "evaluate_tier",
    "export_vocabulary", "reference_accrual", "simulate", "validate_policy", "validate_settings",
]
