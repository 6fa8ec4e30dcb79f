"""`run_detection_spark`: `molehunt detect --engine spark`, the same stages as `run_detection`.

The stages and their SQL are DuckDB's own (`compute_features`, `compile_rules`,
`compute_scores`); they run here on a `SparkTables`, which translates each statement to Spark
SQL at run time. What stays on the driver, with DuckDB, is small or inherently serial: the
detection state (which days are done), the context signals (`compute_context_daily`), the
isolation forest (`score_days`, one scikit-learn fit per 30-day period on a sample of at most
20,000 user-days) and the evidence ledger.

Writes follow `run_detection`'s two commits: features and rule hits first, then model scores,
evidence, references, scores and the day done, together; a killed run leaves days after
`last_day`, which the next run drops (either engine).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from molehunt.context import compute_context_daily
from molehunt.detect.compiler import compile_rules
from molehunt.detect.loader import active_rules, workspace_rule_paths
from molehunt.detect.model_run import score_days
from molehunt.errors import ConfigError, MolehuntError, WorkspaceError
from molehunt.features.daily import compute_features, has_context
from molehunt.score.pipeline import (
    DetectionSummary,
    Progress,
    _has_context_records,
    _set_state,
    begin_run,
    finish_run,
)
from molehunt.score.risk import DEFAULT_SCORING, ScoringConfig, compute_scores
from molehunt.spark.session import DEFAULT_MASTER, INSTALL_HINT, open_session
from molehunt.store.database import Store

SCRATCH_DIR = ".spark"
# What the operating system says when Spark's writes fail for a reason the user can fix.
_WRITE_FAILURES = ("No space left on device", "Disk quota exceeded", "Read-only file system")


def run_detection_spark(
    store: Store,
    until: date | None = None,
    progress: Progress | None = None,
    *,
    rule_paths: Iterable[Path] = (),
    master: str = DEFAULT_MASTER,
    session: Any = None,
    shuffle_partitions: int | None = None,
    detector: str = "isolation_forest",
    seed: int = 0,
    config: ScoringConfig = DEFAULT_SCORING,
) -> DetectionSummary:
    """Compute features, rule hits, model scores and risk scores for every new day, on Spark.

    Same contract as `molehunt.score.run_detection` (causal, incremental, the same tables);
    the two engines may take turns on one workspace.

    Args:
        store: The workspace; its folder must be readable and writable by every Spark
            executor at the same path (shared storage) when `master` is a cluster.
        until: Last day to compute (inclusive).
        progress: Called with a short stage description.
        rule_paths: Extra rule files or folders (`--rules`), after `<workspace>/rules`.
        master: Spark master URL (ignored when `session` is given).
        session: A running `SparkSession` to use (kept open); None: start one on `master`
            and stop it at the end.
        shuffle_partitions: `spark.sql.shuffle.partitions` of a session started here.
        detector: Key of `molehunt.detect.models.detectors`.
        seed: Seed of the model.
        config: Scoring weights.

    Returns:
        The summary.

    Raises:
        ConfigError: PySpark or Java is missing, or the master is unreachable.
        RuleError: A rule file is invalid.
    """
    try:
        from molehunt.spark.tables import SparkTables
    except ImportError as error:  # sqlglot, part of the spark extra
        raise ConfigError(f"--engine spark needs {error.name}: {INSTALL_HINT}") from error
    started = time.perf_counter()
    report = progress or (lambda _stage: None)
    rules = active_rules([*workspace_rule_paths(store.root), *rule_paths])
    since, end, recomputed = begin_run(store, rules, until, detector, seed, config)
    if end is None or (since is not None and end <= since):
        return DetectionSummary(None, since, 0, 0, 0, len(rules), False, recomputed, 0.0)
    report("spark")
    spark = session or open_session(master, shuffle_partitions)
    if _has_context_records(store):
        report("context")
        compute_context_daily(store, end, since=since)
    # Scratch folders of runs killed before their clean-up (the open workspace excludes a
    # concurrent run: DuckDB lets one process write it).
    shutil.rmtree(store.root / SCRATCH_DIR, ignore_errors=True)
    tables = SparkTables(spark, store, store.root / SCRATCH_DIR / uuid.uuid4().hex)
    try:
        report("features")
        compute_features(tables, since, end)
        context = has_context(tables)
        report("rules")
        hits = tables.execute(f"INSERT INTO rule_hits {compile_rules(rules, since, end)}")
        with store.transaction() as connection:
            tables.write_back(connection)
        report("model")
        model_file = tables.scratch / "new_model_scores.parquet"
        pq.write_table(score_days(store, since, end, detector, seed), model_file)
        tables.attach_parquet("new_model_scores", model_file)
        tables.execute("INSERT INTO model_scores SELECT * FROM new_model_scores")
        report("scores")
        user_days = compute_scores(tables, since, end, config)
        low = (since or date(1900, 1, 1)).isoformat()
        days = tables.execute(
            f"SELECT min(day), count(DISTINCT day) FROM scores WHERE day > DATE '{low}'"
        )[0]
        with store.transaction() as connection:
            tables.write_back(connection)
            _set_state(connection, "last_day", end.isoformat())
    except MolehuntError:
        raise
    except Exception as error:  # Spark's failures arrive as Py4J and analysis exceptions
        reason = next((r for r in _WRITE_FAILURES if r in str(error)), None)
        if reason is None:
            raise  # a bug: its traceback is kept
        raise WorkspaceError(
            f"Spark could not write to {tables.scratch}: {reason}; the days this run did not "
            "finish are computed again by the next one: make room, then run again"
        ) from error
    finally:
        tables.close()
        if session is None:
            spark.stop()
    return finish_run(
        store,
        since,
        end,
        DetectionSummary(
            first_day=days[0],
            last_day=end,
            days=int(days[1]),
            user_days=user_days,
            rule_hits=int(hits[0][0]) if hits else 0,
            rules=len(rules),
            context=context,
            recomputed=recomputed,
            seconds=round(time.perf_counter() - started, 3),
        ),
    )
