"""A long detect runs one period at a time: the same tables as one pass, resumable between periods.

What must hold for a user: splitting history into periods (so memory and spill do not grow with
it) changes no feature, rule hit, model score or risk score, and a run stopped between two
periods (or inside one) keeps every period it finished and a rerun completes it to the same
scores.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from molehunt.context import ingest_context
from molehunt.detect import model_run
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.score.pipeline import detection_periods
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store

WHOLE = 100_000  # days: one period holds the whole history (the one-pass computation)
TABLES = (
    "features_raw",
    "rule_hits",
    "model_scores",
    "daily_evidence",
    "score_reference",
    "scores",
    "context_daily",
    "user_host_first",
    "host_week",
)


class Stop(Exception):
    """Raised from the progress callback: a run interrupted at a chosen stage."""


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 people x 75 days with context and a departing insider, ingested, not detected."""
    folder = tmp_path_factory.mktemp("periods")
    scenarios = (("departing-classified-theft", 1), ("cert-2", 1))
    simulate(
        SimulationConfig(outdir=folder / "sim", users=40, days=75, seed=8, scenarios=scenarios)
    )
    workspace = folder / "ingested"
    with Store.open(workspace) as store:
        ingest_cert(store, folder / "sim")
        ingest_context(store, folder / "sim" / "context")
    return workspace


@pytest.fixture(scope="module")
def whole(ingested: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tables of one detect over the whole history in one period."""
    workspace = tmp_path_factory.mktemp("whole") / "ws"
    shutil.copytree(ingested, workspace)
    with Store.open(workspace) as store:
        summary = run_detection(store, period_days=WHOLE)
        return {"summary": summary, **_tables(store)}


def _tables(store: Store) -> dict[str, Any]:
    found = {table: store.query(f"SELECT * FROM {table} ORDER BY ALL") for table in TABLES}
    found["features"] = store.query("SELECT * FROM features ORDER BY user, day")
    return found


def _same(a: object, b: object) -> bool:
    """Equal, or floats equal up to summation order: DuckDB adds a sum's rows (a day's
    megabytes, a window's frame) in an order that depends on threads and on the rows around
    them, as in any incremental run (scores are rounded to 9 decimals and compare equal)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return a == b


def _assert_same_tables(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for table in (*TABLES, "features"):
        assert len(found[table]) == len(expected[table]), f"{table}: other row count"
        for row, other in zip(found[table], expected[table], strict=True):
            assert all(_same(a, b) for a, b in zip(row, other, strict=True)), (table, row, other)


@pytest.mark.parametrize("period_days", [9, 30])
def test_detect_in_periods_equals_one_pass(
    ingested: Path, whole: dict[str, Any], tmp_path: Path, period_days: int
) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(ingested, workspace)
    stages: list[str] = []
    with Store.open(workspace) as store:
        summary = run_detection(store, period_days=period_days, progress=stages.append)
        found = _tables(store)
    expected = whole["summary"]
    span = (expected.last_day - expected.first_day).days + 1
    periods = -(-span // period_days)
    assert [s for s in stages if s.startswith("scores")] == [
        f"scores {n}/{periods}" for n in range(1, periods + 1)
    ]
    assert (summary.first_day, summary.last_day, summary.days, summary.user_days) == (
        expected.first_day,
        expected.last_day,
        expected.days,
        expected.user_days,
    )
    assert (summary.rule_hits, summary.context) == (expected.rule_hits, expected.context)
    assert found["scores"], "nothing scored: the comparison proved nothing"
    _assert_same_tables(found, whole)


@pytest.mark.parametrize("stage", ["features 2/3", "model 3/3", "scores 2/3"])
def test_detect_stopped_in_a_period_keeps_earlier_periods_and_reruns_to_same_tables(
    ingested: Path, whole: dict[str, Any], tmp_path: Path, stage: str
) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(ingested, workspace)

    def stop_at(reached: str) -> None:
        if reached == stage:
            raise Stop(reached)

    with Store.open(workspace) as store:
        with pytest.raises(Stop, match=stage):
            run_detection(store, period_days=30, progress=stop_at)
        last = date.fromisoformat(
            store.query("SELECT value FROM detection_state WHERE key = 'last_day'")[0][0]
        )
        first = whole["summary"].first_day
        finished = int(stage.split(" ")[1].split("/")[0]) - 1  # periods committed before
        assert last == first + timedelta(days=30 * finished - 1)
        assert store.query("SELECT max(day) FROM scores") == [(last,)]
        summary = run_detection(store, period_days=30)
        assert summary.first_day == last + timedelta(days=1)
        assert not summary.recomputed
        found = _tables(store)
    _assert_same_tables(found, whole)


def test_detection_periods_align_with_the_first_day_and_cover_the_range(tmp_path: Path) -> None:
    with Store.open(tmp_path / "ws") as store:
        with store.transaction() as connection:
            connection.execute("CREATE TABLE features (user VARCHAR, day DATE)")
            connection.execute("INSERT INTO features VALUES ('a', DATE '2010-01-01')")
        periods = detection_periods(store, date(2010, 1, 5), date(2010, 3, 5), 30)
        one_day = detection_periods(store, date(2010, 1, 30), date(2010, 1, 31), 30)
        with pytest.raises(ValueError, match="period_days must be at least 1"):
            detection_periods(store, None, date(2010, 3, 5), 0)
    assert periods == [
        (date(2010, 1, 5), date(2010, 1, 30)),
        (date(2010, 1, 30), date(2010, 3, 1)),
        (date(2010, 3, 1), date(2010, 3, 5)),
    ]
    assert one_day == [(date(2010, 1, 30), date(2010, 1, 31))]


def test_one_day_runs_fit_each_model_once_and_equal_one_pass(
    ingested: Path, whole: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Day-by-day detect (a nightly run, `watch` closing each day) reuses the period's fitted
    detector from the workspace instead of refitting it from the same rows every day, and
    gives the tables of one pass (context signals and model scores included)."""
    fitted: list[date] = []
    fit = model_run._fit_period

    def counted(store: Store, start: date, detector: str, seed: int) -> Any:
        fitted.append(start)
        return fit(store, start, detector, seed)

    monkeypatch.setattr(model_run, "_fit_period", counted)
    workspace = tmp_path / "ws"
    shutil.copytree(ingested, workspace)
    first, last = whole["summary"].first_day, whole["summary"].last_day
    with Store.open(workspace) as store:
        run_detection(store, until=first + timedelta(days=49))
        assert fitted == [first, first + timedelta(days=30)]
        fitted.clear()
        day = first + timedelta(days=50)
        while day <= last:
            assert run_detection(store, until=day).last_day == day
            day += timedelta(days=1)
        # One fit, of the period that began among these days; the earlier one was kept.
        assert fitted == [first + timedelta(days=60)]
        # Set back one day (as `bench_detect.py --repeat-last-day` does): nothing refitted.
        with store.transaction() as connection:
            connection.execute(
                "UPDATE detection_state SET value = ? WHERE key = 'last_day'",
                [(last - timedelta(days=1)).isoformat()],
            )
        assert run_detection(store).last_day == last
        assert fitted == [first + timedelta(days=60)]
        assert store.query("SELECT count(*) FROM model_scores WHERE model_score > 0")[0][0] > 0
        found = _tables(store)
    _assert_same_tables(found, whole)
