"""`molehunt detect`: features -> rules -> model -> scores, incrementally and causally.

This orchestrator lives in `score` (the last stage it reaches) so imports still flow one way:
features -> detect -> score.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from molehunt.context import compute_context_daily
from molehunt.detect.compiler import compile_rules
from molehunt.detect.loader import active_rules, workspace_rule_paths
from molehunt.detect.model_run import PERIOD_DAYS, FittedAhead, FittedModels, score_days
from molehunt.detect.rule import Rule
from molehunt.errors import WorkspaceError
from molehunt.features.daily import compute_features, has_context
from molehunt.features.enrich import refresh_reference_tables
from molehunt.ledger import record_analyst_actions, record_score_days
from molehunt.score.risk import DEFAULT_SCORING, ScoringConfig, compute_scores
from molehunt.store.database import Store, Transaction

Progress = Callable[[str], None]
# Days computed per period of a long run: two of the model's periods (each model is fitted
# once). At 1,000 people x 500 days, 30-day periods cost 30% more CPU than one pass (a period's
# fixed part: planning, reference reads, the model fit); 60-day periods cost about the same
# as one pass, at a peak RSS of 2.1 GB instead of 2.8. At 4,000 people a period is 240,000
# user-days.
DEFAULT_PERIOD_DAYS = 2 * PERIOD_DAYS
DERIVED_TABLES = (
    "features_raw",
    "features",
    "rule_hits",
    "model_scores",
    "daily_evidence",
    "score_reference",
    "scores",
)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS detection_state (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE IF NOT EXISTS rule_hits (user VARCHAR, day DATE, rule_id VARCHAR, weight DOUBLE, "
    "habituates BOOLEAN, act BOOLEAN)",
    "CREATE TABLE IF NOT EXISTS model_scores (user VARCHAR, day DATE, model_score DOUBLE)",
    "CREATE TABLE IF NOT EXISTS scores (user VARCHAR, day DATE, score DOUBLE, rank INTEGER, "
    "rule_score DOUBLE, model_score DOUBLE, booster DOUBLE, total DOUBLE, evidence_total DOUBLE, "
    "open_case BOOLEAN)",
)


@dataclass(frozen=True)
class DetectionSummary:
    """What one `run_detection` call computed.

    Args:
        first_day: First day computed in this run (None: nothing new).
        last_day: Last day computed so far (None: no events).
        days: Days computed in this run.
        user_days: User-days scored in this run.
        rule_hits: Rule hits found in this run.
        rules: Enabled rules.
        context: Whether `context_daily` was joined.
        recomputed: Whether everything was recomputed (first run or changed configuration).
        seconds: Wall time.
    """

    first_day: date | None
    last_day: date | None
    days: int
    user_days: int
    rule_hits: int
    rules: int
    context: bool
    recomputed: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping (dates as ISO strings).

        Returns:
            The fields.
        """
        data = asdict(self)
        for key in ("first_day", "last_day"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


# Packages whose code decides features, rule hits and scores: a new molehunt whose detection
# code differs recomputes everything instead of appending days computed another way.
DETECTION_PACKAGES = (
    "molehunt.features",
    "molehunt.detect",
    "molehunt.detect.models",
    "molehunt.score",
)


def _fingerprint(rules: list[Rule], detector: str, seed: int, config: ScoringConfig) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for package, name in (
        ("molehunt.features", "features.yaml"),
        ("molehunt.features", "domains.yaml"),
    ):
        digest.update((resources.files(package) / name).read_bytes())
    for package in DETECTION_PACKAGES:
        for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                digest.update(entry.name.encode() + entry.read_bytes())
    digest.update(repr(sorted((r.to_dict()["id"], repr(r.to_dict())) for r in rules)).encode())
    digest.update(f"{detector}|{seed}|{config!r}".encode())
    return digest.hexdigest()


def _state(connection: Transaction, key: str) -> str | None:
    rows = connection.execute("SELECT value FROM detection_state WHERE key = ?", [key])
    return str(rows[0][0]) if rows else None


def _set_state(connection: Transaction, key: str, value: str) -> None:
    connection.execute("INSERT OR REPLACE INTO detection_state VALUES (?, ?)", [key, value])


def _prepare(connection: Transaction, fingerprint: str) -> tuple[date | None, bool]:
    """Create tables; reset when the configuration changed; drop rows of unfinished runs."""
    for statement in SCHEMA:
        connection.execute(statement)
    last = _state(connection, "last_day")
    if _state(connection, "fingerprint") != fingerprint:
        for table in (*DERIVED_TABLES, "user_host_first", "model_cache"):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA:
            connection.execute(statement)
        connection.execute("DELETE FROM detection_state")
        _set_state(connection, "fingerprint", fingerprint)
        return None, True
    since = date.fromisoformat(last) if last else None
    # Rows after the last completed day were left by a killed run (the scores and `last_day`
    # commit last, together): drop them, also when no day was completed yet.
    low = since or date(1900, 1, 1)
    existing = {r[0] for r in connection.execute("SELECT table_name FROM duckdb_tables()")}
    for table in DERIVED_TABLES:
        if table in existing:
            connection.execute(f"DELETE FROM {table} WHERE day > ?", [low])
    if "user_host_first" in existing:
        connection.execute("DELETE FROM user_host_first WHERE first_day > ?", [low])
    if "model_cache" in existing:
        # A kept detector is trusted only if all its training days (before its start) are
        # committed: after a killed run they are, but a run set back (or reset) is not.
        connection.execute("DELETE FROM model_cache WHERE start > ?", [low + timedelta(days=1)])
    return since, since is None


def _record_ledger(store: Store, since: date | None, until: date) -> None:
    """Record each day's score hash in the evidence ledger, then the day recorded up to."""
    record_score_days(store, since, until)
    with store.transaction() as connection:
        _set_state(connection, "ledger_day", until.isoformat())


def _has_context_records(store: Store) -> bool:
    """Tell whether any context (registry, clearances, HR events, travel) was ingested."""
    tables = ("documents", "clearances", "hr_events", "travel")
    union = " UNION ALL ".join(f"SELECT 1 FROM {table}" for table in tables)
    return bool(store.query(f"SELECT EXISTS ({union})")[0][0])


def run_detection(
    store: Store,
    until: date | None = None,
    progress: Progress | None = None,
    *,
    rule_paths: Iterable[Path] = (),
    detector: str = "isolation_forest",
    seed: int = 0,
    config: ScoringConfig = DEFAULT_SCORING,
    period_days: int = DEFAULT_PERIOD_DAYS,
    ahead: FittedAhead | None = None,
) -> DetectionSummary:
    """Compute features, rule hits, model scores and risk scores for every new day.

    Days after the last computed day and up to `until` (default: the last event day) are
    computed; earlier days are never recomputed, so a day's score is what was known at its
    end. A changed rule set, feature or domain list, detector or scoring recomputes all.

    A long range is computed one period of `period_days` at a time, each period as an
    incremental run after the one before (so with the same results as one run over the
    range) that commits its scores and last day: memory and DuckDB's spill are bounded by a
    period, not by the length of the history, and a run killed between periods resumes
    after the last one committed.

    Args:
        store: The workspace.
        until: Last day to compute (inclusive).
        progress: Called with a short stage description.
        rule_paths: Extra rule files or folders (`--rules`), after `<workspace>/rules`.
        detector: Key of `molehunt.detect.models.detectors`.
        seed: Seed of the model.
        config: Scoring weights.
        period_days: Days computed per period (aligned with the model's periods).
        ahead: A detector `fit_ahead` fitted after the last computed day (used only when
            this run starts after that same day and keeps none for its period).

    Returns:
        The summary.

    Raises:
        RuleError: A rule file is invalid.
    """
    started = time.perf_counter()
    report = progress or (lambda _stage: None)
    rules = active_rules([*workspace_rule_paths(store.root), *rule_paths])
    since, end, recomputed = begin_run(store, rules, until, detector, seed, config)
    if end is None or (since is not None and end <= since):
        return DetectionSummary(None, since, 0, 0, 0, len(rules), False, recomputed, 0.0)
    periods = detection_periods(store, since, end, period_days)
    with store.transaction() as connection:
        refresh_reference_tables(connection, since, end)
    models = FittedModels.load(store, detector, seed, since)
    models.adopt(ahead, since)
    run = _Run(store, rules, models, config)
    for number, (low, high) in enumerate(periods, start=1):
        step = report if len(periods) == 1 else _numbered(report, number, len(periods))
        run.detect_period(low, high, relabel=low == since, report=step)
    return finish_run(
        store,
        since,
        end,
        DetectionSummary(
            first_day=run.first_day,
            last_day=end,
            days=run.days,
            user_days=run.user_days,
            rule_hits=run.rule_hits,
            rules=len(rules),
            context=run.context,
            recomputed=recomputed,
            seconds=round(time.perf_counter() - started, 3),
        ),
    )


def _numbered(report: Progress, number: int, count: int) -> Progress:
    return lambda stage: report(f"{stage} {number}/{count}")


def detection_periods(
    store: Store, since: date | None, end: date, period_days: int = DEFAULT_PERIOD_DAYS
) -> list[tuple[date | None, date]]:
    """Split the days (since, end] into the periods `run_detection` computes one at a time.

    Periods are aligned with the model's (`origin + k * period_days`, origin being the first
    day of data), so a period's model is fitted once.

    Args:
        store: The workspace.
        since: Last day already computed (None: nothing yet).
        end: Last day to compute.
        period_days: Days per period (at least 1).

    Returns:
        (last day before the period, last day of the period) pairs, in order; the first
        pair starts at `since`.
    """
    if period_days < 1:
        raise ValueError(f"period_days must be at least 1, got {period_days}")
    origin: date | None = None
    if (
        since is not None
        and store.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'features'")[0][0]
    ):
        origin = store.query("SELECT min(day) FROM features")[0][0]
    if origin is None:
        origin = store.query("SELECT min(time)::DATE FROM events")[0][0] or end
    first = since + timedelta(days=1) if since is not None else origin
    high = origin + timedelta(days=period_days * ((first - origin).days // period_days + 1) - 1)
    periods: list[tuple[date | None, date]] = []
    low = since
    while True:
        periods.append((low, min(high, end)))
        if high >= end:
            return periods
        low, high = high, high + timedelta(days=period_days)


class _Run:
    """One `run_detection` call's periods and what they added up to."""

    def __init__(
        self, store: Store, rules: list[Rule], models: FittedModels, config: ScoringConfig
    ) -> None:
        self.store, self.rules, self.models, self.config = store, rules, models, config
        self.context_records = _has_context_records(store)
        self.first_day: date | None = None
        self.days = self.user_days = self.rule_hits = 0
        self.context = False

    def detect_period(
        self, since: date | None, until: date, *, relabel: bool, report: Progress
    ) -> None:
        """Compute the days (since, until] and commit them with `last_day` = until.

        Features and rule hits commit first, then model scores, scores and the last day
        together: a run killed in between leaves rows after `last_day`, which the next run
        drops (`_prepare`) before computing those days again.
        """
        store = self.store
        if self.context_records:
            report("context")
            compute_context_daily(store, until, since=since, relabel=relabel)
        with store.transaction() as connection:
            report("features")
            compute_features(connection, since, until, refresh=False)
            self.context = self.context or has_context(connection)
            report("rules")
            hits = connection.execute(
                f"INSERT INTO rule_hits {compile_rules(self.rules, since, until)}"
            )
        report("model")
        models = self.models
        model = score_days(store, since, until, models.detector, models.seed, models)
        store.register("new_model_scores", model)
        try:
            with store.transaction() as connection:
                connection.execute("INSERT INTO model_scores SELECT * FROM new_model_scores")
                report("scores")
                self.user_days += compute_scores(connection, since, until, self.config)
                days = connection.execute(
                    "SELECT min(day), count(DISTINCT day) FROM scores WHERE day > ?",
                    [since or date(1900, 1, 1)],
                )[0]
                models.save(connection)
                _set_state(connection, "last_day", until.isoformat())
        finally:
            store.unregister("new_model_scores")
        self.first_day = self.first_day or days[0]
        self.days += int(days[1])
        self.rule_hits += int(hits[0][0]) if hits else 0


def begin_run(
    store: Store,
    rules: list[Rule],
    until: date | None,
    detector: str,
    seed: int,
    config: ScoringConfig,
) -> tuple[date | None, date | None, bool]:
    """Start a detection run (either engine): the days to compute, after any catch-up.

    Resets the workspace when the detection's fingerprint changed, and records in the ledger
    the days a run killed after its scores committed left unrecorded.

    Args:
        store: The workspace.
        rules: The active rules.
        until: Last day to compute (None: the last event day).
        detector: The model.
        seed: Its seed.
        config: Scoring weights.

    Returns:
        (last day already computed, last day to compute, whether everything is recomputed).
    """
    with store.transaction() as connection:
        since, recomputed = _prepare(connection, _fingerprint(rules, detector, seed, config))
        recorded = _state(connection, "ledger_day")
    newest = _newest_day(store, since)
    end = min(until, newest) if until is not None and newest is not None else (until or newest)
    if since is not None and recorded != since.isoformat():
        # A run killed after its scores committed, before the ledger recorded them.
        _record_ledger(store, date.fromisoformat(recorded) if recorded else None, since)
    return since, end, recomputed


def _newest_day(store: Store, since: date | None) -> date | None:
    """The last day with events; `since` when no event is dated after it.

    Only the batches' row groups holding events after `since` are read (their time statistics
    exclude the rest), not the time of every event ever stored.
    """
    newest: date | None
    if since is None:
        newest = store.query("SELECT max(time)::DATE FROM events")[0][0]
        return newest
    low = f"TIMESTAMP '{(since + timedelta(days=1)).isoformat()}'"
    newest = store.query(f"SELECT max(time)::DATE FROM events WHERE time >= {low}")[0][0]
    return since if newest is None else newest


def finish_run(
    store: Store, since: date | None, end: date, summary: DetectionSummary
) -> DetectionSummary:
    """End a detection run whose scores committed: the ledger records the new days and the
    workbench's audit rows written since (the next run or `ledger record` does, if busy).

    Args:
        store: The workspace.
        since: Last day computed before the run.
        end: Last day it computed.
        summary: What the run did.

    Returns:
        `summary`.
    """
    _record_ledger(store, since, end)
    try:
        record_analyst_actions(store)
    except WorkspaceError:
        pass
    return summary
