"""Compile rules into one DuckDB query over the `features` table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from molehunt.detect.rule import Condition, Rule


def _column(condition: Condition) -> str:
    """Name of the column a condition reads (a windowed aggregate gets its own column)."""
    if condition.window_days <= 1:
        return condition.feature
    return f"{condition.aggregate}_{condition.window_days}d_{condition.feature}"


def _window_sql(condition: Condition) -> str:
    frame = (
        "OVER (PARTITION BY user ORDER BY day RANGE BETWEEN "
        f"INTERVAL {condition.window_days - 1} DAYS PRECEDING AND CURRENT ROW)"
    )
    if condition.aggregate == "days":
        body = f"sum(CASE WHEN {condition.feature} > 0 THEN 1 ELSE 0 END)"
    else:
        body = f"{condition.aggregate}({condition.feature})"
    return f"{body} {frame} AS {_column(condition)}"


def condition_sql(condition: Condition) -> str:
    """Return the SQL predicate of one condition (NULL, e.g. during warm-up, is false).

    Args:
        condition: The condition.

    Returns:
        SQL text.
    """
    op = "=" if condition.op == "==" else condition.op
    return f"coalesce({_column(condition)} {op} {condition.value!r}, false)"


def rule_predicate_sql(rule: Rule) -> str:
    """Return the SQL predicate that is true on the user-days the rule hits.

    Args:
        rule: The rule.

    Returns:
        SQL text over the columns of `compile_rules`' inner relation.
    """
    joiner = " AND " if rule.match == "all" else " OR "
    return "(" + joiner.join(condition_sql(c) for c in rule.conditions) + ")"


def compile_rules(rules: Sequence[Rule], since: date | None, until: date) -> str:
    """Return (user, day, rule_id, weight, habituates, act) for every rule hit in (since, until].

    Windowed conditions read the rows of the window's earlier days, so the inner relation
    starts `max window` days before `since`.

    Args:
        rules: Enabled rules.
        since: Last day already evaluated (None: from the start).
        until: Last day to evaluate.

    Returns:
        SQL text; an empty result shape when there are no rules.
    """
    if not rules:
        return (
            "SELECT NULL::VARCHAR AS user, NULL::DATE AS day, NULL::VARCHAR AS rule_id, "
            "NULL::DOUBLE AS weight, NULL::BOOLEAN AS habituates, NULL::BOOLEAN AS act WHERE false"
        )
    windowed = {
        _column(c): _window_sql(c) for r in rules for c in r.conditions if c.window_days > 1
    }
    longest = max(rule.max_window_days for rule in rules)
    start = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    inner_start = (
        start if since is None else f"DATE '{(since - timedelta(days=longest)).isoformat()}'"
    )
    extra = "".join(f", {sql}" for sql in windowed.values())
    parts = [
        f"SELECT user, day, '{rule.id.replace(chr(39), chr(39) * 2)}' AS rule_id, "
        f"{rule.weight!r}::DOUBLE AS weight, {rule.habituates} AS habituates, "
        f"{rule.is_act} AS act "
        f"FROM windowed WHERE {rule_predicate_sql(rule)}"
        for rule in rules
    ]
    return f"""
    WITH windowed AS (
        SELECT * FROM (
            SELECT *{extra} FROM features
            WHERE day > {inner_start} AND day <= DATE '{until.isoformat()}')
        WHERE day > {start})
    {" UNION ALL ".join(parts)}"""
