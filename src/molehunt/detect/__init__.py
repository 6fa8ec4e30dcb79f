"""Detection: rules as data (YAML) compiled to SQL, and unsupervised detectors."""

from __future__ import annotations

from molehunt.detect.errors import DetectorError, RuleError
from molehunt.detect.lint import Issue, lint_rules
from molehunt.detect.loader import active_rules, builtin_rule_files, list_rules
from molehunt.detect.models import BaseDetector, detectors
from molehunt.detect.rule import Condition, Rule

__all__ = [
    "BaseDetector",
    "Condition",
    "DetectorError",
    "Issue",
    "Rule",
    "RuleError",
    "active_rules",
    "builtin_rule_files",
    "detectors",
    "lint_rules",
    "list_rules",
]
