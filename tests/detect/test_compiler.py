"""Windowed rule conditions of a few new days, joined with earlier rows: the windows' hits.

What must hold for a user: a nightly run (one new day, or a few after a pause) evaluates a
rule's N-day windows by joining each new day with the person's earlier rows instead of window
functions over every earlier row, and hits exactly the user-days the windows hit.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from molehunt.detect import compiler
from molehunt.detect.compiler import compile_rules
from molehunt.detect.loader import active_rules
from molehunt.features.daily import derived_feature_columns

UNTIL = date(2010, 6, 30)


@pytest.fixture(scope="module")
def connection() -> duckdb.DuckDBPyConnection:
    """`features` of 30 people over 200 days, small counts and rare large ones, days off."""
    columns = [c for c in derived_feature_columns() if c not in ("user", "day", "peer_group")]
    db = duckdb.connect()
    db.execute("SET threads = 1")
    db.execute("SELECT setseed(0.11)")
    values = ", ".join(
        "CASE WHEN random() < 0.02 THEN NULL ELSE "
        f"[0, 0, 0, 1, 4, 40][1 + floor(random() * 6)::INTEGER]::DOUBLE END AS {c}"
        for c in columns
    )
    db.execute(
        f"""CREATE TABLE features AS
        SELECT 'U' || lpad(person::VARCHAR, 2, '0') AS user,
            DATE '{UNTIL.isoformat()}' - back::INTEGER AS day, 'G' AS peer_group, {values}
        FROM range(30) p(person), range(200) o(back) WHERE random() >= 0.3"""
    )
    return db


@pytest.mark.parametrize("days", [1, 3, 7])
def test_a_few_new_days_hit_what_the_windows_hit(
    connection: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, days: int
) -> None:
    rules = active_rules(())
    assert any(c.window_days > 1 for rule in rules for c in rule.conditions)
    since = UNTIL - timedelta(days=days)
    joined_sql = compile_rules(rules, since, UNTIL)
    monkeypatch.setattr(compiler, "JOINED_WINDOWS_MAX_DAYS", 0)
    windowed_sql = compile_rules(rules, since, UNTIL)
    assert "framed AS" in joined_sql and "framed AS" not in windowed_sql
    query = "SELECT * FROM ({}) ORDER BY ALL"
    joined = connection.execute(query.format(joined_sql)).fetchall()
    windowed = connection.execute(query.format(windowed_sql)).fetchall()
    assert joined == windowed
    windowed_rules = {r.id for r in rules if any(c.window_days > 1 for c in r.conditions)}
    assert {hit[2] for hit in joined} & windowed_rules  # windows of the joined path do hit
