"""Compile rules into one DuckDB query over the `features` table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from molehunt.detect.rule import Condition, Rule

# A run of at most this many new days evaluates windowed conditions by joining each new row
# with its person's earlier rows (as `features.daily` does its baselines); longer by windows.
JOINED_WINDOWS_MAX_DAYS = 7


def _column(condition: Condition) -> str:
    """Name of the column a condition reads (a windowed aggregate gets its own column)."""
    if condition.window_days <= 1:
        return condition.feature
    return f"{condition.aggregate}_{condition.window_days}d_{condition.feature}"


def _framed_sql(condition: Condition) -> str:
    """The aggregate of `_window_sql` over rows `o` joined with the row `t` it is for."""
    inside = f"o.day > t.day - INTERVAL {condition.window_days} DAYS"
    if condition.aggregate == "days":
        return f"sum(CASE WHEN o.{condition.feature} > 0 THEN 1 ELSE 0 END) FILTER (WHERE {inside})"
    return f"{condition.aggregate}(o.{condition.feature}) FILTER (WHERE {inside})"


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
    windowed = {_column(c): c for r in rules for c in r.conditions if c.window_days > 1}
    longest = max(rule.max_window_days for rule in rules)
    start = "DATE '1900-01-01'" if since is None else f"DATE '{since.isoformat()}'"
    inner_start = (
        start if since is None else f"DATE '{(since - timedelta(days=longest)).isoformat()}'"
    )
    parts = [
        f"SELECT user, day, '{rule.id.replace(chr(39), chr(39) * 2)}' AS rule_id, "
        f"{rule.weight!r}::DOUBLE AS weight, {rule.habituates} AS habituates, "
        f"{rule.is_act} AS act "
        f"FROM windowed WHERE {rule_predicate_sql(rule)}"
        for rule in rules
    ]
    if since is not None and windowed and (until - since).days <= JOINED_WINDOWS_MAX_DAYS:
        # A few new days: each joined with its person's rows of the longest window, one
        # filtered aggregate per window (a window function computes every earlier row's too).
        framed = "".join(f", {_framed_sql(c)} AS {name}" for name, c in windowed.items())
        relation = f"""
    WITH new_days AS (
        SELECT * FROM features WHERE day > {start} AND day <= DATE '{until.isoformat()}'),
    framed AS (
        SELECT t.user AS framed_user, t.day AS framed_day{framed}
        FROM new_days t JOIN features o ON o.user = t.user AND o.day <= t.day
            AND o.day > t.day - INTERVAL {longest} DAYS AND o.day > {inner_start}
        GROUP BY t.user, t.day),
    windowed AS (
        SELECT t.*{"".join(f", f.{name}" for name in windowed)}
        FROM new_days t JOIN framed f ON f.framed_user = t.user AND f.framed_day = t.day)"""
    else:
        extra = "".join(f", {_window_sql(c)}" for c in windowed.values())
        relation = f"""
    WITH windowed AS (
        SELECT * FROM (
            SELECT *{extra} FROM features
            WHERE day > {inner_start} AND day <= DATE '{until.isoformat()}')
        WHERE day > {start})"""
    return f"""{relation}
    {" UNION ALL ".join(parts)}"""
