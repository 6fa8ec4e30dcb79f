"""`watch` end to end in-process: day closes equal batch detect, alerts, inputs that misbehave."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from molehunt.detect import model_run
from molehunt.detect.loader import active_rules
from molehunt.detect.model_run import PERIOD_DAYS
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store
from molehunt.watch import Notice, WatchConfig, Watcher, follow, is_critical
from molehunt.watch.watcher import CLOSE_DEFER_SECONDS
from tests.watch.conftest import MemorySink, Release

SCORES = (
    "SELECT user, day, score, rank, rule_score, model_score, booster, total, evidence_total, "
    "open_case FROM scores ORDER BY day, user"
)


def _critical_hits(workspace: Path) -> set[tuple[str, object, str]]:
    critical = {rule.id for rule in active_rules() if is_critical(rule)}
    with Store.open(workspace, read_only=True) as store:
        rows = store.query("SELECT user, day, rule_id FROM rule_hits")
    return {(u, d, r) for u, d, r in rows if r in critical}


def test_watch_day_by_day_closes_days_with_the_scores_of_batch_detect(
    release: Release, batch_workspace: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    release.context_into(workspace)
    inputs = release.empty_inputs(tmp_path / "in")
    sink = MemorySink()
    notices: list[Notice] = []
    with Store.open(workspace) as store:
        watcher = Watcher(store, inputs, [sink], WatchConfig(grace_seconds=0), notices.append)
        for start in range(0, len(release.days), 3):  # three days a step: fewer detect runs
            for day in release.days[start : start + 3]:
                release.append_day(tmp_path / "in", day)
            watcher.step()
        # Three days a step is a backlog (over 1 MB a poll): the closes wait for a step that
        # finds the inputs caught up, then close every completed day in one run.
        watcher.step()
        assert watcher.stats.closed == release.days[:-1]  # the newest day stays open
        watcher.commit()  # what a stopped watch commits
        assert watcher.stats.read == watcher.stats.stored + watcher.stats.rejected
        run_detection(store)  # what a later `molehunt detect` adds: the last day
        scores = store.query(SCORES)
    with Store.open(batch_workspace, read_only=True) as store:
        assert scores == store.query(SCORES)
    alerted = {(a.user, a.day, a.rule_id) for a in sink.alerts}
    last = release.days[-1]
    expected = {hit for hit in _critical_hits(batch_workspace) if hit[1] < last}
    assert expected, "the planted insiders should fire a critical rule"
    assert alerted >= expected
    assert len(alerted) == len(sink.alerts), "an alert was raised twice"


def test_watch_defers_closes_during_a_backlog_then_closes_the_days_in_one_run(
    release: Release, batch_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    release.context_into(workspace)
    folder = tmp_path / "in"
    inputs = release.empty_inputs(folder)
    sink = MemorySink()
    moment = [0.0]
    with Store.open(workspace) as store:
        watcher = Watcher(
            store, inputs, [sink], WatchConfig(grace_seconds=0), clock=lambda: moment[0]
        )
        for day in release.days[:6]:  # a live feed: days close as they complete
            release.append_day(folder, day)
            watcher.step()
        assert watcher.stats.closed == release.days[:5]
        closes = watcher.stats.closes
        # From now on every poll with new lines is a backlog (a replay of the rest).
        monkeypatch.setattr(follow, "STAGE_LIMIT_BYTES", 1)
        evaluations = watcher.stats.evaluations
        for start in range(6, len(release.days), 3):
            for day in release.days[start : start + 3]:
                release.append_day(folder, day)
            watcher.step()
            moment[0] += 0.25
        assert watcher.stats.closed == release.days[:5], "no close while catching up"
        assert watcher.stats.deferred > 0
        # The completed days' alerts come with their close: the intra-day rules do not
        # aggregate them first (every step of this backlog had completed days).
        assert watcher.stats.evaluations == evaluations
        watcher.step()  # nothing new: caught up
        assert watcher.stats.closed == release.days[:-1]
        assert watcher.stats.closes == closes + 1, "the completed days in one run"
        at_close = {(a.user, a.day, a.rule_id) for a in sink.alerts}
        watcher.commit()
        run_detection(store)
        scores = store.query(SCORES)
    with Store.open(batch_workspace, read_only=True) as store:
        assert scores == store.query(SCORES)
    backlog_days = set(release.days[6:-1])
    expected = {hit for hit in _critical_hits(batch_workspace) if hit[1] in backlog_days}
    assert expected, "the planted insider should fire a critical rule in the backlog"
    assert at_close >= expected, "the close raises the backlog's alerts"


def test_watch_closes_during_a_long_backlog_after_close_defer_seconds(
    release: Release, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    release.context_into(workspace)
    folder = tmp_path / "in"
    inputs = release.empty_inputs(folder)
    monkeypatch.setattr(follow, "STAGE_LIMIT_BYTES", 1)  # every poll is a backlog
    moment = [0.0]
    with Store.open(workspace) as store:
        watcher = Watcher(
            store, inputs, [MemorySink()], WatchConfig(grace_seconds=0), clock=lambda: moment[0]
        )
        release.append_day(folder, release.days[0])
        watcher.step()
        release.append_day(folder, release.days[1])
        watcher.step()  # day 0 is complete: its close waits
        assert watcher.stats.closed == []
        moment[0] += CLOSE_DEFER_SECONDS
        release.append_day(folder, release.days[2])
        watcher.step()  # still a backlog, but the close waited long enough
        assert watcher.stats.closed == release.days[:2]


def test_watch_fits_the_next_periods_detector_before_its_first_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = tmp_path / "sim"
    simulate(SimulationConfig(outdir=sim, users=20, days=45, seed=3))
    for name in ("plain", "watched"):
        with Store.open(tmp_path / name) as store:
            ingest_cert(store, sim)
            first = store.query("SELECT min(time)::DATE FROM events")[0][0]
            newest = store.query("SELECT max(time)::DATE FROM events")[0][0]
            run_detection(store, until=first + timedelta(days=PERIOD_DAYS - 1))
    with Store.open(tmp_path / "plain") as store:
        run_detection(store, until=newest - timedelta(days=1))
        expected = store.query(SCORES)
    with Store.open(tmp_path / "watched") as store:
        # A watch started (or a close done) on the first period's last day fits the second
        # period's detector in its warm-up thread; the first close takes it.
        watcher = Watcher(store, [], [MemorySink()], WatchConfig(grace_seconds=0))
        watcher.warming.join()
        assert watcher.ahead is not None
        assert watcher.ahead.start == first + timedelta(days=PERIOD_DAYS)

        def no_fit(*_args: object) -> None:
            raise AssertionError("the close fitted the detector fitted ahead")

        monkeypatch.setattr(model_run, "_fit_period", no_fit)
        watcher.step()
        assert watcher.stats.closed[-1] == newest - timedelta(days=1)
        assert store.query(SCORES) == expected
        watcher.close()
