"""Rule files: round trip, overrides, disabling, and lint messages with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.detect import Rule, RuleError, builtin_rule_files, lint_rules, list_rules
from molehunt.detect.loader import active_rules, load_rule_file
from molehunt.detect.rule import Condition


def test_builtin_pack_lints_clean() -> None:
    assert [str(issue) for issue in lint_rules(builtin_rule_files())] == []


@pytest.mark.parametrize("rule", list_rules(), ids=lambda rule: rule.id)
def test_rule_round_trips(rule: Rule) -> None:
    assert Rule.from_dict(rule.to_dict()) == rule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x > 3", Condition("x", ">", 3.0)),
        ("sum(job_visits, 30d) >= 10", Condition("job_visits", ">=", 10.0, 30, "sum")),
        ("days(y, 7d) == 2.5", Condition("y", "==", 2.5, 7, "days")),
    ],
)
def test_condition_grammar(text: str, expected: Condition) -> None:
    assert Condition.parse(text) == expected
    assert Condition.parse(str(expected)) == expected


def test_user_rule_overrides_and_disables(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "- id: leak-site-upload\n  title: Mine\n  weight: 5\n  all: [leak_uploads > 2]\n"
        "- id: mass-mail\n  title: off\n  weight: 1\n  enabled: false\n  all: [mass_emails > 0]\n",
        encoding="utf-8",
    )
    rules = {rule.id: rule for rule in list_rules([tmp_path])}
    assert rules["leak-site-upload"].title == "Mine"
    assert "mass-mail" not in {rule.id for rule in active_rules([tmp_path])}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- id: a\n  title: t\n  weight: 5\n  all: [nosuch > 1]\n", 4, "unknown feature 'nosuch'"),
        ("- id: a\n  title: t\n  weight: 500\n  all: [logons > 1]\n", 3, "outside 0..100"),
        ("- id: a\n  title: t\n  all: [logons > 1]\n", 1, "required key 'weight'"),
        ("- id: a\n  title: t\n  weight: 5\n  all: [logons >> 1]\n", 4, "cannot read condition"),
        ("- id: a\n  title: [\n", 3, "invalid YAML"),
        (
            "- id: a\n  title: t\n  weight: 5\n  colour: red\n  all: [logons > 1]\n",
            1,
            "unknown rule key",
        ),
    ],
)
def test_lint_reports_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    issues = [issue for issue in lint_rules([path]) if issue.level == "error"]
    assert issues, "expected an error"
    assert issues[0].line == line
    assert message in issues[0].message
    assert str(issues[0]).startswith(f"{path}:{line}: error:")


def test_loading_an_invalid_file_raises_with_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- id: a\n  title: t\n", encoding="utf-8")
    with pytest.raises(RuleError, match="bad.yaml:1: rule lacks required key"):
        load_rule_file(path)
