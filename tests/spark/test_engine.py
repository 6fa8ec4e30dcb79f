"""`detect --engine spark` computes what DuckDB computes, and writes it where DuckDB would.

A simulated institute (60 people x 60 days, context included, the default insiders) is
detected twice: by DuckDB in one run, and by Spark (`local[2]`) in two incremental runs (the
second reads the first's history back from the workspace). Features, rule hits and scores
must agree: numbers within 1e-9, everything else exactly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from molehunt.context import ingest_context
from molehunt.errors import WorkspaceError
from molehunt.ingest import ingest_cert
from molehunt.score import daily_queue, run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.spark import run_detection_spark
from molehunt.store import Store

TOLERANCE = 1e-9
KEYS = {"features": ("user", "day"), "rule_hits": ("user", "day", "rule_id")}
KEYS |= {"scores": ("user", "day"), "model_scores": ("user", "day")}


@dataclass(frozen=True)
class Detected:
    base: Path
    duckdb: Path
    spark: Path
    split: date


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Detected:
    folder = tmp_path_factory.mktemp("spark-institute")
    simulate(
        SimulationConfig(
            outdir=folder / "sim",
            users=60,
            days=60,
            seed=5,
        )
    )
    base = folder / "base"
    with Store.open(base) as store:
        ingest_cert(store, folder / "sim")
        ingest_context(store, folder / "sim" / "context")
    shutil.copytree(base, folder / "duckdb")
    shutil.copytree(base, folder / "spark")
    with Store.open(folder / "duckdb") as store:
        summary = run_detection(store)
        assert summary.rule_hits > 0 and summary.context
    assert summary.last_day is not None
    # A short second run (5 days) takes the joined frames of features and rule windows,
    # the first the windows: both shapes of the SQL are translated to Spark and compared.
    split = summary.last_day - timedelta(days=5)
    with Store.open(folder / "spark") as store:
        first = run_detection_spark(store, split, session=spark)
        second = run_detection_spark(store, session=spark)
    assert (first.last_day, second.last_day) == (split, summary.last_day)
    assert first.user_days + second.user_days == summary.user_days
    assert first.rule_hits + second.rule_hits == summary.rule_hits
    return Detected(base, folder / "duckdb", folder / "spark", split)


def _rows(workspace: Path, table: str) -> tuple[list[str], dict[tuple[Any, ...], tuple[Any, ...]]]:
    with Store.open(workspace, read_only=True) as store:
        names = [row[0] for row in store.query(f"DESCRIBE {table}")]
        rows = store.query(f"SELECT * FROM {table}")
    keys = [names.index(k) for k in KEYS[table]]
    return names, {tuple(row[i] for i in keys): row for row in rows}


def _differences(table: str, detected: Detected) -> list[str]:
    names, expected = _rows(detected.duckdb, table)
    spark_names, got = _rows(detected.spark, table)
    assert spark_names == names
    assert set(got) == set(expected), f"{table}: different keys"
    found = []
    for key, row in expected.items():
        for name, want, have in zip(names, row, got[key], strict=True):
            if isinstance(want, float) and isinstance(have, float):
                if abs(want - have) > TOLERANCE:
                    found.append(f"{table} {key} {name}: duckdb {want!r}, spark {have!r}")
            elif want != have:
                found.append(f"{table} {key} {name}: duckdb {want!r}, spark {have!r}")
    return found


@pytest.mark.parametrize("table", list(KEYS))
def test_spark_engine_table_equals_duckdbs(table: str, detected: Detected) -> None:
    assert _differences(table, detected)[:5] == []


def test_spark_engine_scores_are_not_trivial(detected: Detected) -> None:
    """The comparison means something: real scores, alerts and model scores are present."""
    with Store.open(detected.spark, read_only=True) as store:
        top, positive = store.query(
            "SELECT max(score), count(*) FILTER (WHERE model_score > 0) FROM scores"
        )[0]
    assert top >= 50 and positive > 0


def test_spark_engine_workspace_serves_the_same_queue(detected: Detected) -> None:
    with Store.open(detected.duckdb, read_only=True) as store:
        expected = [(e.user, round(e.score, 9)) for e in daily_queue(store, top=5)]
    with Store.open(detected.spark, read_only=True) as store:
        got = [(e.user, round(e.score, 9)) for e in daily_queue(store, top=5)]
    assert got == expected and expected


def test_spark_engine_full_disk_is_one_line_and_commits_nothing(
    detected: Detected, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("java.io.IOException: No space left on device")

    monkeypatch.setattr("molehunt.spark.engine.compute_features", full_disk)
    shutil.copytree(detected.base, tmp_path / "ws")
    with Store.open(tmp_path / "ws") as store:
        with pytest.raises(WorkspaceError, match="Spark could not write .*No space left"):
            run_detection_spark(store, session=spark)
        assert store.query("SELECT count(*) FROM scores")[0][0] == 0
    assert not any((tmp_path / "ws" / ".spark").iterdir())
