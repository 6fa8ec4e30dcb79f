"""Switch a rule on or off from the workbench: an override file in `<workspace>/rules/`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from molehunt.detect import builtin_rule_files, lint_rules
from molehunt.detect.loader import list_rules, workspace_rule_paths
from molehunt.serve.errors import NotFoundError, ServeError

OVERRIDE_PREFIX = "workbench-"
HEADER = (
    "# Written by the molehunt workbench: overrides the rule of the same id (enabled only).\n"
    "# Takes effect at the next `molehunt detect`, which recomputes every day (rules are part\n"
    "# of the detection fingerprint).\n"
)


def rules_with_issues(root: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the rules in force (id, title, weight, severity, enabled, where) and lint issues."""
    rules = [
        {
            "id": rule.id,
            "title": rule.title,
            "weight": rule.weight,
            "severity": rule.severity,
            "enabled": rule.enabled,
            "source": str(rule.source.path) if rule.source else "",
        }
        for rule in list_rules(workspace_rule_paths(root))
    ]
    # Checked apart: a workspace rule with a built-in's id is an override, not a duplicate.
    issues = lint_rules(builtin_rule_files()) + lint_rules(workspace_rule_paths(root))
    return rules, [str(issue) for issue in issues]


def set_rule_enabled(root: Path, rule_id: str, enabled: bool) -> Path:
    """Switch a rule on or off by writing `<workspace>/rules/workbench-<id>.yaml`.

    Args:
        root: The workspace.
        rule_id: The rule.
        enabled: On or off.

    Returns:
        The override file written.

    Raises:
        NotFoundError: No such rule.
        ServeError: The rule is already defined in a workspace rule file of someone else's
            (edit `enabled` there, so that one file says what the rule is).
    """
    rules = {rule.id: rule for rule in list_rules(workspace_rule_paths(root))}
    if rule_id not in rules:
        raise NotFoundError(f"no rule {rule_id!r}")
    rule = rules[rule_id]
    folder = root / "rules"
    target = folder / f"{OVERRIDE_PREFIX}{rule_id}.yaml"
    source = Path(rule.source.path) if rule.source else None
    if source is not None and source.parent == folder and source != target:
        raise ServeError(f"rule {rule_id!r} is defined in {source}; set `enabled` there")
    data = rule.to_dict()
    data["enabled"] = enabled
    folder.mkdir(exist_ok=True)
    partial = target.with_suffix(".partial")
    text = HEADER + yaml.safe_dump([data], sort_keys=False, allow_unicode=True)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    return target
