"""`FeatureDefinition.aggregate_sql`: each measure computes what its definition says."""

from __future__ import annotations

import random

import duckdb
import pytest

from molehunt.features.catalog import FeatureDefinition, load_features

DISTINCT = [f for f in load_features() if f.measure.startswith("distinct:")]


@pytest.fixture(scope="module")
def enriched() -> duckdb.DuckDBPyConnection:
    """Enriched-looking events: repeated, NULL and filtered-out values, user-days without any
    row that passes a feature's filter."""
    chooser = random.Random(5)
    db = duckdb.connect()
    db.execute(
        "CREATE TABLE enriched (user VARCHAR, day INTEGER, channel VARCHAR, host VARCHAR, "
        "object VARCHAR, is_new_host BOOLEAN)"
    )
    rows = [
        (
            f"U{chooser.randrange(6)}",
            chooser.randrange(8),
            chooser.choice(("logon", "file", "http", "print", "email")),
            chooser.choice((None, "PC-1", "PC-2", "PC-3", "PRN-1")),
            chooser.choice((None, "a.docx", "b.pdf", "c.txt", "")),
            chooser.choice((None, True, False)),
        )
        for _ in range(3000)
    ]
    db.executemany("INSERT INTO enriched VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO enriched VALUES ('U9', 0, 'logon', NULL, NULL, NULL)")  # nothing
    return db


@pytest.mark.parametrize("feature", DISTINCT, ids=lambda f: f.name)
def test_a_distinct_measure_counts_the_distinct_values_its_filter_keeps(
    enriched: duckdb.DuckDBPyConnection, feature: FeatureDefinition
) -> None:
    column = feature.measure.partition(":")[2]
    reference = f"coalesce(count(DISTINCT {column}) FILTER (WHERE {feature.where}), 0)::DOUBLE"
    rows = enriched.execute(
        f"SELECT user, day, {feature.aggregate_sql()}, {reference} AS reference "
        "FROM enriched GROUP BY user, day"
    ).fetchall()
    assert len(rows) > 40
    assert all(value == expected for _, _, value, expected in rows)
    assert any(value == 0 for _, _, value, _ in rows), "a user-day without any kept value"
    assert any(value >= 2 for _, _, value, _ in rows), "a user-day with repeated values"


_MEASURES = [
    FeatureDefinition("counted", "is_new_host AND channel <> 'http'"),
    FeatureDefinition("counted_all", "true"),
    FeatureDefinition("summed", "is_new_host", measure="sum:day"),
    FeatureDefinition("distinct", "is_new_host OR channel = 'file'", measure="distinct:object"),
]


@pytest.mark.parametrize("feature", _MEASURES, ids=lambda f: f.name)
def test_every_measure_equals_its_definition_even_where_every_condition_is_null(
    enriched: duckdb.DuckDBPyConnection, feature: FeatureDefinition
) -> None:
    kind, _, column = feature.measure.partition(":")
    body = {"count": "count(*)", "sum": f"sum({column})", "distinct": f"count(DISTINCT {column})"}
    reference = f"coalesce({body[kind]} FILTER (WHERE {feature.where}), 0)::DOUBLE"
    rows = enriched.execute(
        f"SELECT user, day, {feature.aggregate_sql()}, {reference} AS reference "
        "FROM enriched GROUP BY user, day"
    ).fetchall()
    assert all(value == expected for _, _, value, expected in rows)
    only_null = [value for user, _, value, _ in rows if user == "U9"]  # is_new_host NULL
    assert only_null == [1.0 if feature.where == "true" else 0.0], "NULL conditions count 0"
