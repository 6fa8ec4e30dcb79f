"""`molehunt rules lint`: every problem of rule files, each with file:line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molehunt.detect.errors import RuleError
from molehunt.detect.loader import RawRule, expand_rule_paths, read_raw_rules
from molehunt.detect.rule import SEVERITIES, Rule
from molehunt.errors import SourceLocation
from molehunt.features.catalog import feature_names

MAX_WINDOW_DAYS = 180


@dataclass(frozen=True)
class Issue:
    """One problem found in a rule file.

    Args:
        path: The file.
        line: 1-based line.
        message: What is wrong and what was expected.
        level: `error` (the rule cannot run) or `warning`.
        rule_id: The rule concerned, when known.
    """

    path: str
    line: int | None
    message: str
    level: str = "error"
    rule_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.level}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping.

        Returns:
            path, line, level, rule_id, message.
        """
        return {
            "path": self.path,
            "line": self.line,
            "level": self.level,
            "rule_id": self.rule_id,
            "message": self.message,
        }


def _issue(
    source: SourceLocation, message: str, level: str = "error", rule_id: str | None = None
) -> Issue:
    return Issue(str(source.path), source.line, message, level, rule_id)


def _check_rule(raw: RawRule, known: set[str]) -> list[Issue]:
    def at(key: str) -> SourceLocation:
        return SourceLocation(raw.source.path, raw.key_lines.get(key, raw.source.line))

    rule_id = str(raw.data.get("id")) if "id" in raw.data else None
    try:
        rule = Rule.from_dict(raw.data, raw.source)
    except RuleError as error:
        text = error.message
        key = "weight" if "weight" in text and "required" not in text else ""
        if "condition" in text or "aggregate" in text:
            key = "all" if "all" in raw.data else "any"
        return [_issue(at(key) if key else raw.source, error.message, rule_id=rule_id)]
    issues: list[Issue] = []
    if not 0 <= rule.weight <= 100:
        issues.append(
            _issue(at("weight"), f"weight {rule.weight:g} outside 0..100", rule_id=rule.id)
        )
    if rule.severity not in SEVERITIES:
        issues.append(
            _issue(
                at("severity"),
                f"severity {rule.severity!r} not one of {SEVERITIES}",
                rule_id=rule.id,
            )
        )
    for condition in rule.conditions:
        if condition.feature not in known:
            issues.append(
                _issue(
                    at(rule.match),
                    f"unknown feature {condition.feature!r} in '{condition}' "
                    "(see docs/features.md)",
                    rule_id=rule.id,
                )
            )
        if not 1 <= condition.window_days <= MAX_WINDOW_DAYS:
            issues.append(
                _issue(
                    at(rule.match),
                    f"window of {condition.window_days} days outside "
                    f"1..{MAX_WINDOW_DAYS} in '{condition}'",
                    rule_id=rule.id,
                )
            )
    if not rule.description:
        issues.append(_issue(raw.source, "rule has no description", "warning", rule.id))
    return issues


def lint_rules(paths: Iterable[Path]) -> list[Issue]:
    """Check rule files and return every problem found (empty when all is well).

    Checks: YAML syntax, structure, required and unknown keys, condition grammar, feature
    names, windows, weights, severities, and ids repeated within the checked files.

    Args:
        paths: Rule files or folders.

    Returns:
        The issues, in file order.
    """
    known = set(feature_names())
    issues: list[Issue] = []
    seen: dict[str, SourceLocation] = {}
    for path in expand_rule_paths(paths):
        try:
            raws = list(read_raw_rules(path))
        except RuleError as error:
            issues.append(_issue(error.source or SourceLocation(path), error.message))
            continue
        for raw in raws:
            issues += _check_rule(raw, known)
            rule_id = raw.data.get("id")
            if rule_id is None:
                continue
            if str(rule_id) in seen:
                first = seen[str(rule_id)]
                issues.append(
                    _issue(
                        raw.source,
                        f"duplicate rule id {rule_id!r} (first at {first})",
                        rule_id=str(rule_id),
                    )
                )
            else:
                seen[str(rule_id)] = raw.source
    return issues
