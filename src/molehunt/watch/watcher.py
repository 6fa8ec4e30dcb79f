"""`molehunt watch`: follow inputs, raise intra-day alerts, close each day with `detect`.

One step of the loop:

1. every followed file is polled; its new whole lines go through the batch ingest;
2. when new events arrived, the critical rules run on the open days (`alerts.open_day_hits`)
   and each new (user, day, rule) hit is sent to the sinks once, then recorded;
3. days that are complete are closed: `run_detection(until=day)` computes them exactly as a
   batch `molehunt detect` would (the same incremental, causal code). While the inputs are
   being caught up (a backlog: a replay, a restart, a burst), closing waits until they are,
   for at most `CLOSE_DEFER_SECONDS`, then closes every completed day in one run; the rules of
   step 2 wait for that close too (it raises the completed days' alerts).

Day close rule: day D is complete once an event dated after D has arrived and either every
input that delivered events in this run has delivered one dated after D, or `grace_seconds`
have passed since the first event dated after D arrived. Events that arrive later for a closed
day are stored (as `ingest` stores them) but not scored (as `detect` would not rescore them),
and reported.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from molehunt.detect.loader import active_rules, workspace_rule_paths
from molehunt.detect.model_run import FittedAhead, fit_ahead
from molehunt.score import run_detection
from molehunt.store import Store
from molehunt.watch.alerts import (
    ALERTS_TABLE,
    WatchAlert,
    alert_id,
    is_critical,
    last_events,
    open_day_hits,
    reads_staged,
)
from molehunt.watch.follow import DEFAULT_POLL_BYTES, FollowedFile, Notice, NoticeSink, kind_of
from molehunt.watch.pending import PENDING_TABLE, ensure_pending_table
from molehunt.watch.sinks import Sink

DEFAULT_GRACE_SECONDS = 120.0
DEFAULT_POLL_SECONDS = 0.1
# Lines are staged (parsed for the alert rules) between commits; a commit writes them as one
# event batch. Fewer, larger batches keep the `events` view fast over a long watch.
DEFAULT_COMMIT_SECONDS = 30.0
DEFAULT_COMMIT_BYTES = 16 * 1024 * 1024
CATCH_UP_SECONDS = 1.0
# During a backlog a day close (a `run_detection`, with a fixed cost of its own) waits until
# the inputs are caught up, or this long, and then closes every day completed meanwhile. Not
# longer: the intra-day rules re-aggregate every open day, so their cost grows with the wait.
CLOSE_DEFER_SECONDS = 3.0


@dataclass(frozen=True)
class WatchConfig:
    """How `watch` behaves.

    Args:
        grace_seconds: Wait after the first event of a later day before closing a day that
            some input has not finished.
        poll_seconds: Pause between polls when nothing new arrived.
        idle_exit_seconds: Stop after this long without new lines (None: run until stopped).
        poll_bytes: Read at most about this much of one file per poll.
        commit_seconds: Commit a file's staged lines once the oldest is this old (0: commit
            every poll, no staging).
        commit_bytes: ... or once this much is read but not committed.
        rule_paths: Extra rule files or folders (`--rules`).
    """

    grace_seconds: float = DEFAULT_GRACE_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS
    idle_exit_seconds: float | None = None
    poll_bytes: int = DEFAULT_POLL_BYTES
    commit_seconds: float = DEFAULT_COMMIT_SECONDS
    commit_bytes: int = DEFAULT_COMMIT_BYTES
    rule_paths: tuple[Path, ...] = ()


@dataclass
class WatchStats:
    """Running totals of one `watch` run.

    Attributes:
        read, stored, rejected, skipped: Lines, summed over every commit of every input.
        staged: Lines read and seen by the alert rules, not committed yet.
        alerts: Alerts raised (intra-day and at day close).
        closed: Days closed, in order.
        late: Events that arrived for an already closed day.
        evaluations: Intra-day rule runs.
        evaluation_seconds: Their total wall time.
        evaluation_cpu_seconds: Their total CPU time (all of this process's threads).
        closes: Day-close runs (`run_detection`); one may close several days.
        deferred: Steps in which a due close waited for the inputs to be caught up.
    """

    read: int = 0
    stored: int = 0
    rejected: int = 0
    skipped: int = 0
    staged: int = 0
    alerts: int = 0
    closed: list[date] = field(default_factory=list)
    late: int = 0
    evaluations: int = 0
    evaluation_seconds: float = 0.0
    evaluation_cpu_seconds: float = 0.0
    closes: int = 0
    deferred: int = 0


def _warm_model_imports() -> None:
    """Import scikit-learn's forests now, in a thread of their own: a day close needs them
    (to fit, or to load a kept model), and importing them takes seconds of one CPU."""
    try:
        importlib.import_module("sklearn.ensemble")
    except Exception:  # the close itself reports a broken install, with its error
        return


class Watcher:
    """Follows inputs into one workspace; call `step()` repeatedly or `run(stop)`.

    Args:
        store: The open workspace (this process is its only writer while watching).
        paths: Files to follow (CERT CSV or JSON Lines).
        sinks: Where alerts go.
        config: Behaviour.
        notify: Receives notices (rotation, truncation, late events, day closes).
        clock: Monotonic seconds (injected by tests).
        now: Wall-clock UTC time of an alert (injected by tests).
    """

    def __init__(
        self,
        store: Store,
        paths: Sequence[Path],
        sinks: Sequence[Sink],
        config: WatchConfig = WatchConfig(),
        notify: NoticeSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.files = [FollowedFile(Path(p), kind_of(Path(p))) for p in paths]
        self.sinks = list(sinks)
        self.config = config
        self.notify: NoticeSink = notify or (lambda _notice: None)
        self.clock = clock
        self.now = now
        self.stats = WatchStats()
        rules = active_rules([*workspace_rule_paths(store.root), *config.rule_paths])
        self.rules = {rule.id: rule for rule in rules}
        self.critical = [rule for rule in rules if is_critical(rule)]
        with store.transaction() as connection:
            connection.execute(ALERTS_TABLE)
        ensure_pending_table(store)
        self.staging = config.commit_seconds > 0 and reads_staged()
        self.raised = {str(r[0]) for r in store.query("SELECT alert_id FROM watch_alerts")}
        self.last_batch = int(store.query("SELECT coalesce(max(batch_id), 0) FROM batches")[0][0])
        self.source_day: dict[int, date] = {}  # newest event day per source seen in this run
        self.first_seen: dict[date, float] = {}  # when the first event of each day arrived
        newest = store.query("SELECT max(time)::DATE FROM events")[0][0]
        self.newest: date | None = newest
        self.pending = False  # events arrived that the critical rules have not seen yet
        self.candidates: set[str] | None = None  # who they belong to (None: maybe anyone)
        closed = self.last_closed()
        if newest is not None and (closed is None or newest > closed):
            self.first_seen[newest] = clock()  # a restart: the grace period starts again
            self.pending = True
        self.idle_since = clock()
        self.evaluated = clock()  # when the rules last ran on the open days
        self.evaluation_took = 0.0  # how long that run took
        self.close_due: float | None = None  # since when a close waits for a backlog
        # Off the critical path: the first day close would otherwise import scikit-learn,
        # and the first close of each model period fit its detector.
        self.ahead: FittedAhead | None = None
        self.warming = self._warm(closed, imports=True)

    def _warm(self, closed: date | None, imports: bool = False) -> threading.Thread:
        """Start a thread that imports the model's libraries (`imports`) and fits the
        detector the close after `closed` needs, if none is kept (`fit_ahead`: its rows are
        read here, the thread does not touch the workspace); a close waits for the thread
        (`warming.join()`) and takes the detector."""
        fit = fit_ahead(self.store, closed) if closed is not None else None

        def warm() -> None:
            try:
                if imports:
                    _warm_model_imports()
                if fit is not None:
                    self.ahead = fit()
            except Exception:  # the close fits it itself, and reports any error
                self.ahead = None

        thread = threading.Thread(target=warm, name="molehunt-warm", daemon=True)
        thread.start()
        return thread

    def last_closed(self) -> date | None:
        """Return the last day detection computed (None: none yet)."""
        tables = {row[0] for row in self.store.query("SELECT table_name FROM duckdb_tables()")}
        if "detection_state" not in tables:
            return None
        rows = self.store.query("SELECT value FROM detection_state WHERE key = 'last_day'")
        return date.fromisoformat(str(rows[0][0])) if rows else None

    def run(self, stop: threading.Event, on_step: Callable[[], None] | None = None) -> WatchStats:
        """Step until `stop` is set (or the inputs stay idle for `idle_exit_seconds`).

        Args:
            stop: Set by a signal handler; the step under way finishes first.
            on_step: Called after every step (the progress line).

        Returns:
            The totals.
        """
        while not stop.is_set():
            busy = self.step()
            if on_step is not None:
                on_step()
            idle = self.clock() - self.idle_since
            limit = self.config.idle_exit_seconds
            if limit is not None and idle >= limit and self.close_due is None:
                break  # (a close that waited for a backlog runs at the next step first)
            if not busy:
                stop.wait(self.config.poll_seconds)
        return self.stats

    def step(self) -> bool:
        """Poll every input once, close complete days, raise new alerts.

        Returns:
            True when new lines were read.
        """
        committed, staged = self._poll()
        if committed:
            self._account_new_batches()
        if staged:
            self._account_staged(staged)
        read = committed or bool(staged)
        if read:
            self.idle_since = self.clock()
        # While a backlog is read, the rules run at most every CATCH_UP_SECONDS, and at most
        # half of the time: the alerts of a backlog cannot be on time anyway, and a run per
        # poll would slow the catch-up.
        # They run before a close, so that a close does not delay the alerts of this poll.
        # A close that waited for a backlog goes first: the open days after it are evaluated
        # at the next step, and evaluating the many days it closes first would be wasted.
        backlog = any(f.catching_up(self.config.commit_bytes) for f in self.files)
        caught_up = self.close_due is not None and not backlog
        # In a backlog that has completed days, their close (at most CLOSE_DEFER_SECONDS
        # away) raises their alerts: evaluating first would aggregate every completed day
        # twice. The open days after them are evaluated once that close is done.
        closing = backlog and self._closable_until() is not None
        pause = max(CATCH_UP_SECONDS, 2 * self.evaluation_took)
        due = not backlog or self.clock() - self.evaluated >= pause
        if self.pending and due and not caught_up and not closing:
            self._evaluate_open_days()
        self._close_complete_days(defer=backlog)
        return read

    def _poll(self, force: bool = False) -> tuple[bool, list[tuple[int, int]]]:
        """Poll every input; return (whether a commit ingested lines, (source, first staged
        line) per input that staged new lines)."""
        committed = False
        staged: list[tuple[int, int]] = []
        now = self.clock()
        for followed in self.files:
            due = force or self.config.commit_seconds <= 0 or not self.staging
            if followed.staged_since is not None:
                due = due or now - followed.staged_since >= self.config.commit_seconds
            due = due or followed.staged_bytes >= self.config.commit_bytes
            report, first = followed.poll(
                self.store,
                self.notify,
                self.config.poll_bytes,
                commit=due,
                now=now,
                commit_bytes=self.config.commit_bytes,
            )
            committed = committed or report is not None
            if first and followed.source_id is not None:
                staged.append((followed.source_id, first))
        reports = [r for followed in self.files for r in followed.reports]
        self.stats.read = sum(r.read for r in reports)
        self.stats.stored = sum(r.stored for r in reports)
        self.stats.rejected = sum(r.rejected for r in reports)
        self.stats.skipped = sum(r.skipped for r in reports)
        self.stats.staged = sum(followed.staged_lines for followed in self.files)
        return committed, staged

    def commit(self) -> None:
        """Commit every input's staged lines (and whatever else is there to read) now."""
        committed, _ = self._poll(force=True)
        if committed:
            self._account_new_batches()

    def finish(self) -> None:
        """On a clean stop: commit everything read and run the rules on what they missed."""
        self.commit()
        if self.pending:
            self._evaluate_open_days()

    def _account_staged(self, staged: list[tuple[int, int]]) -> None:
        """Note the staged rows' days and people (as `_account_new_batches` does for batches)."""
        where = " OR ".join("(source_id = ? AND source_line >= ?)" for _ in staged)
        params: list[object] = [x for pair in staged for x in pair]
        closed = self.last_closed() or date(1900, 1, 1)
        rows = self.store.query(
            f"SELECT source_id, max(time)::DATE, min(time)::DATE FROM {PENDING_TABLE} "
            f"WHERE {where} GROUP BY ALL",
            params,
        )
        self._note_days(rows, self.clock())
        if self.candidates is not None or not self.pending:
            users = self.store.query(
                f"SELECT DISTINCT user FROM {PENDING_TABLE} WHERE ({where}) AND time::DATE > ?",
                [*params, closed],
            )
            self.candidates = (self.candidates or set()) | {str(row[0]) for row in users}
        self.pending = True

    def _note_days(self, rows: list[tuple[object, ...]], arrived: float) -> None:
        for source_id, newest, oldest in rows:
            assert isinstance(newest, date) and isinstance(oldest, date)
            known = self.source_day.get(int(str(source_id)), newest)
            self.source_day[int(str(source_id))] = max(newest, known)
            for day in (oldest, newest):
                self.first_seen.setdefault(day, arrived)
            if self.newest is None or newest > self.newest:
                self.newest = newest

    def _account_new_batches(self) -> None:
        """Note the new batches' newest day per source, and events for closed days."""
        rows = self.store.query(
            "SELECT batch_id, file_name FROM batches WHERE batch_id > ? ORDER BY batch_id",
            [self.last_batch],
        )
        if not rows:
            return
        self.last_batch = int(rows[-1][0])
        files = ", ".join(
            "'" + str(self.store.root / str(r[1])).replace("'", "''") + "'" for r in rows
        )
        closed = self.last_closed()
        low = closed or date(1900, 1, 1)
        per_source = self.store.query(
            f"SELECT source_id, max(time)::DATE, min(time)::DATE, "
            f"count(*) FILTER (WHERE time::DATE <= ?) FROM read_parquet([{files}]) GROUP BY ALL",
            [low],
        )
        if self.candidates is not None or not self.pending:
            users = self.store.query(
                f"SELECT DISTINCT user FROM read_parquet([{files}]) WHERE time::DATE > ?", [low]
            )
            self.candidates = (self.candidates or set()) | {str(row[0]) for row in users}
        arrived = self.clock()
        for source_id, newest, oldest, late in per_source:
            self.source_day[int(source_id)] = max(
                newest, self.source_day.get(int(source_id), newest)
            )
            for day in (oldest, newest):
                self.first_seen.setdefault(day, arrived)
            if self.newest is None or newest > self.newest:
                self.newest = newest
            if late:
                self.stats.late += int(late)
                self.notify(
                    Notice(
                        f"source {source_id}",
                        "late",
                        f"{late:,} events dated on or before the closed day {closed} arrived "
                        "late: stored, not scored (as a batch detect would not rescore them)",
                    )
                )
        self.pending = True

    def _closable_until(self) -> date | None:
        """The newest day that may be closed now (None: none)."""
        if self.newest is None:
            return None
        closed = self.last_closed()
        elapsed = self.clock()
        candidates = sorted(
            (d for d in self.first_seen if closed is None or d > closed), reverse=True
        )
        for later in candidates:  # the newest day whose successor is complete enough
            day = later.fromordinal(later.toordinal() - 1)
            everyone = bool(self.source_day) and all(d > day for d in self.source_day.values())
            waited = elapsed - self.first_seen[later] >= self.config.grace_seconds
            if everyone or waited:
                return day if closed is None or day > closed else None
        return None

    def _close_complete_days(self, defer: bool = False) -> None:
        """Close the completed days (with `defer`, not yet, unless waited long enough)."""
        until = self._closable_until()
        if until is None:
            self.close_due = None
            return
        if defer:
            if self.close_due is None:
                self.close_due = self.clock()
            if self.clock() - self.close_due < CLOSE_DEFER_SECONDS:
                self.stats.deferred += 1
                return
        self.close_due = None
        self.commit()  # the day's staged lines become batches before detection reads them
        self.warming.join()  # never two threads importing the same modules
        summary = run_detection(
            self.store, until=until, rule_paths=self.config.rule_paths, ahead=self.ahead
        )
        self.stats.closes += 1
        self.ahead = None
        self.warming = self._warm(self.last_closed())
        if summary.first_day is None:
            return
        day = summary.first_day
        while day <= until:
            self.stats.closed.append(day)
            day = day.fromordinal(day.toordinal() + 1)
        self.notify(
            Notice(
                "",
                "closed",
                f"closed {summary.first_day} .. {until}: {summary.user_days:,} user-days scored, "
                f"{summary.rule_hits:,} rule hits ({summary.seconds:.1f} s)",
            )
        )
        for day in [d for d in self.first_seen if d <= until]:
            del self.first_seen[day]
        # The open days' baselines now include the closed days' final rows: everyone with
        # open-day events is evaluated once more.
        self.candidates, self.pending = None, self.newest is not None and self.newest > until
        critical = [r.id for r in self.critical]
        if not critical:
            return
        marks = ", ".join("?" for _ in critical)
        hits = self.store.query(
            f"SELECT user, day, rule_id FROM rule_hits WHERE day >= ? AND day <= ? "
            f"AND rule_id IN ({marks})",
            [summary.first_day, until, *critical],
        )
        self._raise([(str(u), d, str(r)) for u, d, r in hits], "day-close")

    def _evaluate_open_days(self) -> None:
        users, self.candidates = self.candidates, set()
        self.pending = False
        self.evaluated = self.clock()
        closed = self.last_closed()
        if self.newest is None or (closed is not None and self.newest <= closed):
            return
        if closed is None or not self.staging:
            self.commit()  # the first day's full feature run reads committed events only
        started, cpu = time.perf_counter(), time.process_time()
        hits = open_day_hits(
            self.store, self.critical, closed, self.newest, users, staged=self.staging
        )
        self.evaluation_took = self.clock() - self.evaluated
        self.stats.evaluations += 1
        self.stats.evaluation_seconds += time.perf_counter() - started
        self.stats.evaluation_cpu_seconds += time.process_time() - cpu
        self._raise(hits, "intra-day")

    def _raise(self, hits: list[tuple[str, date, str]], stage: str) -> None:
        new = [(u, d, r) for u, d, r in hits if alert_id(u, d, r) not in self.raised]
        if not new:
            return
        where = last_events(self.store, [(u, d) for u, d, _ in new], staged=self.staging)
        alerts = []
        for user, day, rule_id in sorted(new):
            rule = self.rules[rule_id]
            last, evidence = where.get((user, day), (None, ""))
            alerts.append(
                WatchAlert(
                    alert_id=alert_id(user, day, rule_id),
                    user=user,
                    day=day,
                    rule_id=rule_id,
                    title=rule.title,
                    description=rule.description,
                    severity=rule.severity,
                    weight=rule.weight,
                    tags=rule.tags,
                    stage=stage,
                    raised=self.now(),
                    last_event=last,
                    evidence=evidence,
                )
            )
        for alert in alerts:  # sent first, then recorded: a crash in between re-sends, never loses
            for sink in self.sinks:
                sink.send(alert)
        with self.store.transaction() as connection:
            for alert in alerts:
                connection.execute(
                    "INSERT OR IGNORE INTO watch_alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        alert.alert_id,
                        alert.user,
                        alert.day,
                        alert.rule_id,
                        alert.stage,
                        alert.raised.replace(tzinfo=None),
                        json.dumps(alert.to_dict(), sort_keys=True),
                    ],
                )
        self.raised.update(alert.alert_id for alert in alerts)
        self.stats.alerts += len(alerts)

    def close(self) -> None:
        """Commit what was read, then flush and close every sink."""
        self.commit()
        for sink in self.sinks:
            sink.close()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
