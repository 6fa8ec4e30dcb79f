"""Time `detect --engine spark` against DuckDB on the same simulated institute, and compare.

    python bench/bench_spark.py --users 200 --days 120 [--seed S] [--master local[2]]
        [--shuffle-partitions N] [--workdir DIR]

Simulates an institute (context included), ingests it once, copies the workspace, runs a full
DuckDB `run_detection` on one copy and `run_detection_spark` on the other (the Spark session is
started first and timed apart), then one more day on each (the incremental path), and prints
the seconds per stage and the largest score, feature and rule-hit differences between the two.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from molehunt.context import ingest_context
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.spark import run_detection_spark
from molehunt.spark.session import open_session
from molehunt.store import Store


def _timed(
    run: Callable[..., Any], store: Store, until: Any, **kwargs: Any
) -> tuple[Any, dict[str, float]]:
    """Run one detection, returning its summary and the seconds spent in each stage."""
    stages: dict[str, float] = {}
    started = last = time.perf_counter()
    current = "start"

    def progress(stage: str) -> None:
        nonlocal current, last
        now = time.perf_counter()
        stages[current] = stages.get(current, 0.0) + now - last
        current, last = stage, now

    summary = run(store, until, progress, **kwargs)
    stages[current] = stages.get(current, 0.0) + time.perf_counter() - last
    stages["total"] = time.perf_counter() - started
    return summary, stages


def _differences(duckdb_ws: Path, spark_ws: Path) -> dict[str, float]:
    """Largest absolute differences (and counts of rows only one side has)."""
    with Store.open(duckdb_ws, read_only=True) as store:
        store.query(f"ATTACH '{spark_ws / 'molehunt.duckdb'}' AS other (READ_ONLY)")
        score = store.query(
            "SELECT max(abs(a.score - b.score)), count(*) FILTER (WHERE a.rank <> b.rank), "
            "(SELECT count(*) FROM scores) - count(*) "
            "FROM scores a JOIN other.scores b USING (user, day)"
        )[0]
        hits = store.query(
            "SELECT (SELECT count(*) FROM (SELECT user, day, rule_id FROM rule_hits EXCEPT ALL "
            "SELECT user, day, rule_id FROM other.rule_hits)) + (SELECT count(*) FROM (SELECT "
            "user, day, rule_id FROM other.rule_hits EXCEPT ALL SELECT user, day, rule_id "
            "FROM rule_hits))"
        )[0][0]
        numeric = [
            name
            for name, kind, *_ in store.query("DESCRIBE features")
            if kind in ("DOUBLE", "BIGINT", "INTEGER")
        ]
        deltas = ", ".join(f"max(abs(a.{c} - b.{c}))" for c in numeric)
        feature = store.query(
            f"SELECT greatest({deltas}) FROM features a JOIN other.features b USING (user, day)"
        )[0][0]
    return {
        "score max |diff|": float(score[0] or 0.0),
        "rank differences": float(score[1]),
        "user-days missing": float(score[2]),
        "feature max |diff|": float(feature or 0.0),
        "rule hits differing": float(hits),
    }


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    parser.add_argument("--workdir", type=Path, help="where to simulate and keep workspaces")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="molehunt-bench-spark-"))
    simulate(
        SimulationConfig(outdir=work / "sim", users=args.users, days=args.days, seed=args.seed)
    )
    base = work / "base"
    with Store.open(base) as store:
        ingest_cert(store, work / "sim")
        ingest_context(store, work / "sim" / "context")
        events, last = store.query("SELECT count(*), max(time)::DATE FROM events")[0]
    for name in ("duckdb", "spark"):
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(base, work / name)
    print(f"institute: {args.users} people x {args.days} days, {events:,} events")
    with Store.open(work / "duckdb") as store:
        full_duckdb, duckdb_stages = _timed(run_detection, store, last - timedelta(days=1))
        _, duckdb_day = _timed(run_detection, store, last)
    started = time.perf_counter()
    session = open_session(args.master, args.shuffle_partitions)
    startup = time.perf_counter() - started
    with Store.open(work / "spark") as store:
        full_spark, spark_stages = _timed(
            run_detection_spark, store, last - timedelta(days=1), session=session
        )
        _, spark_day = _timed(run_detection_spark, store, last, session=session)
    session.stop()
    print(f"user-days {full_duckdb.user_days:,} (duckdb) / {full_spark.user_days:,} (spark)")
    print(f"spark session start ({args.master}): {startup:.1f} s")
    print(f"{'stage':<10} {'duckdb s':>9} {'spark s':>9}")
    for stage in sorted(set(duckdb_stages) | set(spark_stages), key=list(spark_stages).index):
        duck = duckdb_stages.get(stage)
        print(
            f"{stage:<10} {duck if duck is not None else float('nan'):>9.1f} "
            f"{spark_stages.get(stage, float('nan')):>9.1f}"
        )
    print(f"{'one day':<10} {duckdb_day['total']:>9.1f} {spark_day['total']:>9.1f}")
    for name, value in _differences(work / "duckdb", work / "spark").items():
        print(f"{name}: {value:g}")


if __name__ == "__main__":
    main()
