"""`derived_features_sql(columns=...)`: some columns, each computed as in the full query."""

from __future__ import annotations

import random
from datetime import date, timedelta

import duckdb
import pytest

from molehunt.features import daily
from molehunt.features.catalog import CONTEXT_COLUMNS, load_features
from molehunt.features.daily import derived_feature_columns, derived_features_sql

SINCE, UNTIL = date(2010, 3, 1), date(2010, 3, 6)


@pytest.fixture(scope="module")
def connection() -> duckdb.DuckDBPyConnection:
    """`features_raw` (4 people, 2 peer groups, 90 days of random counts) and `context_daily`."""
    chooser = random.Random(3)
    names = [f.name for f in load_features()]
    db = duckdb.connect()
    raw_columns = ", ".join(f"{name} DOUBLE" for name in names)
    db.execute(
        f"CREATE TABLE features_raw (user VARCHAR, day DATE, peer_group VARCHAR, {raw_columns})"
    )
    context_columns = ", ".join(f"{name} {kind}" for name, kind in CONTEXT_COLUMNS.items())
    db.execute(f"CREATE TABLE context_daily (user VARCHAR, day DATE, {context_columns})")
    first = UNTIL - timedelta(days=89)
    for person in range(4):
        for offset in range(90):
            if chooser.random() < 0.2:  # days off
                continue
            day = first + timedelta(days=offset)
            counts = [float(chooser.choice((0, 0, 1, 2, 5, 30))) for _ in names]
            db.execute(
                f"INSERT INTO features_raw VALUES (?, ?, ?{', ?' * len(names)})",
                [f"U{person}", day, f"G{person % 2}", *counts],
            )
            context = [
                chooser.random() < 0.3 if kind == "BOOLEAN" else chooser.choice((0, 0, 1, 3))
                for kind in CONTEXT_COLUMNS.values()
            ]
            db.execute(
                f"INSERT INTO context_daily VALUES (?, ?{', ?' * len(context)})",
                [f"U{person}", day, *context],
            )
    return db


def test_derived_feature_columns_are_the_full_querys_columns(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    for context in (True, False):
        found = connection.execute(f"DESCRIBE {derived_features_sql(SINCE, UNTIL, context)}")
        assert [row[0] for row in found.fetchall()] == derived_feature_columns()


def test_all_columns_asked_for_is_the_full_query_byte_for_byte() -> None:
    everything = derived_feature_columns()
    for since in (None, SINCE):
        for context in (True, False):
            full = derived_features_sql(since, UNTIL, context)
            assert derived_features_sql(since, UNTIL, context, everything) == full


def test_a_subset_of_columns_has_the_full_querys_values(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    everything = derived_feature_columns()
    derived = [c for c in everything if c.startswith(("z_", "dev_", "first_", "trend_"))]
    chooser = random.Random(5)
    subsets = [
        ["prior_days"],
        [next(iter(CONTEXT_COLUMNS))],
        [c for c in everything if c.startswith("first_")][:2],
        chooser.sample(derived, 12),
        chooser.sample(everything[5:], 30),
    ]
    for columns in subsets:
        full = connection.execute(
            f"SELECT user, day, {', '.join(columns)} FROM "
            f"({derived_features_sql(SINCE, UNTIL, True)}) ORDER BY user, day"
        ).fetchall()
        sql = derived_features_sql(SINCE, UNTIL, True, columns)
        assert len(sql) < len(derived_features_sql(SINCE, UNTIL, True))
        part = connection.execute(
            f"SELECT user, day, {', '.join(columns)} FROM ({sql}) ORDER BY user, day"
        ).fetchall()
        assert part == full
        assert len(full) > 10


def test_an_unknown_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a derived feature column: no_such_column"):
        derived_features_sql(SINCE, UNTIL, True, ["prior_days", "no_such_column"])


@pytest.mark.parametrize(
    ("since", "until"),
    [(SINCE, UNTIL), (UNTIL - timedelta(days=1), UNTIL), (UNTIL - timedelta(days=7), UNTIL)],
)
def test_a_few_new_days_joined_with_earlier_rows_equal_the_windows(
    connection: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    since: date,
    until: date,
) -> None:
    """A run of a few days computes its frames by a join (`JOINED_FRAMES_MAX_DAYS`), a long
    one by windows: both give every column, up to the order floats are summed in."""
    assert (until - since).days <= daily.JOINED_FRAMES_MAX_DAYS
    query = "SELECT * FROM ({}) ORDER BY user, day"
    joined_sql = derived_features_sql(since, until, True)
    joined = connection.execute(query.format(joined_sql)).fetchall()
    monkeypatch.setattr(daily, "JOINED_FRAMES_MAX_DAYS", -1)
    windowed_sql = derived_features_sql(since, until, True)
    assert "framed AS" in joined_sql and "framed AS" not in windowed_sql
    windowed = connection.execute(query.format(windowed_sql)).fetchall()
    assert len(joined) == len(windowed) > 4 * (until - since).days // 2
    for row, other in zip(joined, windowed, strict=True):
        for a, b in zip(row, other, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert abs(a - b) <= 1e-9 * max(1.0, abs(b)), (row[:2], a, b)
            else:
                assert a == b, (row[:2], a, b)
