"""The rule language: policies as validated JSON, compiled, evaluated and explained.

Pure Python, no database. Public API (see each module for the semantics):
validation (``validate_policy``, ``validate_settings``), compilation
(``compile_policy``), evaluators for every policy, the business-rules
reference, simulation, the vocabulary export and the shipped defaults.
"""
from .accrual import AccrualResult, LineResult, evaluate_accrual
from .compiler import CompiledPolicy, compile_policy
from .defaults import default_policies
from .errors import RuleValidationError, ValidationMessage
from .model import Action, Group, Leaf, PolicyDocument, Rule
from .reference import reference_accrual
from .settings import DEFAULT_SETTINGS, ProgramSettings, validate_settings
from .validation import validate_policy
from .vocabulary import POLICY_NAMES

__all__ = [
    "AccrualResult", "Action", "CompiledPolicy", "DEFAULT_SETTINGS", "Group", "Leaf", "LineResult",
    "POLICY_NAMES", "PolicyDocument", "ProgramSettings", "Rule", "RuleValidationError",
    "ValidationMessage", "compile_policy", "default_policies", "evaluate_accrual", "reference_accrual",
    "validate_policy", "validate_settings",
]
