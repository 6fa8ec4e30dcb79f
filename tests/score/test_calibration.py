"""Rule rarity, the calibrated score and the classified-movement sentences."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from molehunt.explain.classified import ClassifiedMovement
from molehunt.score.risk import DEFAULT_SCORING, OPERATING_THRESHOLD, rarity_sql, score_from_total

START = date(2010, 1, 4)


def _population(hitters: dict[str, int]) -> duckdb.DuckDBPyConnection:
    """1,000 people active for 61 days; rule R hit `hitters[R]` of them on each earlier day."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE features AS SELECT 'u' || i AS user, ?::DATE + d::INTEGER AS day "
        "FROM range(1000) t(i), range(61) s(d)",
        [START],
    )
    con.execute("CREATE TABLE rule_hits (user VARCHAR, day DATE, rule_id VARCHAR)")
    for rule, count in hitters.items():
        con.execute(
            "INSERT INTO rule_hits SELECT 'u' || i, ?::DATE + d::INTEGER, ? "
            "FROM range(?) t(i), range(61) s(d)",
            [START, rule, count],
        )
    return con


def test_a_rule_common_in_the_population_counts_little() -> None:
    con = _population({"rare": 1, "common": 100, "everyone": 1000})
    last = START + timedelta(days=60)
    rows = dict(
        con.execute(
            f"SELECT rule_id, rarity FROM ({rarity_sql(last - timedelta(days=1), DEFAULT_SCORING)})"
        ).fetchall()
    )
    assert rows["rare"] > 0.8
    assert 0.1 < rows["common"] < 0.5
    assert rows["everyone"] == DEFAULT_SCORING.rarity_floor


def test_the_reference_total_scores_the_operating_threshold() -> None:
    assert score_from_total(40.0, 40.0) == OPERATING_THRESHOLD
    assert score_from_total(0.0, 40.0) == 0.0
    assert 0 < score_from_total(10.0, 40.0) < score_from_total(80.0, 40.0) < 100


def test_a_classified_movement_names_level_compartment_and_clearance() -> None:
    notice = date(2010, 6, 14)
    moved = ClassifiedMovement(
        "removable", "SECRET", "K-7", 37, notice - timedelta(days=12), notice, True, False
    )
    assert moved.text(notice, notice=True) == (
        "copied 37 SECRET documents of project K-7 (not cleared for K-7) to removable media "
        "in the 12 days before the notice"
    )
    mailed = ClassifiedMovement("emailed", "TOP SECRET", None, 1, notice, notice, False, True)
    assert mailed.text(notice, notice=False) == (
        "mailed 1 TOP SECRET document (above clearance: TOP SECRET) outside the organisation"
    )
