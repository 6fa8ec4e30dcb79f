"""`watch` end to end in-process: day closes equal batch detect, alerts, inputs that misbehave."""

from __future__ import annotations

from pathlib import Path

from molehunt.detect.loader import active_rules
from molehunt.score import run_detection
from molehunt.store import Store
from molehunt.watch import Notice, WatchConfig, Watcher, is_critical
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
