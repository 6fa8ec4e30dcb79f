"""Crash safety of `molehunt watch`: killed (SIGKILL) at seeded random moments while files grow.

What must hold for a user: whenever watch dies, the workspace still opens, every day it
reports as closed is whole in every table, and a restarted watch (then `detect` for the
newest, still open day) ends with exactly the scores of a run that was never interrupted.

`MOLEHUNT_WATCH_CRASH_TRIALS=20 pytest tests/watch/test_crash_safety.py` runs the full 20
trials (CI runs 2: each trial is a watch run and a half).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.store import Store
from tests.watch.conftest import ACTIVITY, Release, copy_workspace, read_release

TRIALS = int(os.environ.get("MOLEHUNT_WATCH_CRASH_TRIALS", "2"))
SCORES = (
    "SELECT user, day, score, rank, rule_score, model_score, booster, total, evidence_total, "
    "open_case FROM scores ORDER BY day, user"
)
FEED_SECONDS = 0.12  # between two appended days


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Release, Path, list[Any]]:
    """25 people x 20 days; a workspace holding its context; batch scores as the reference."""
    from molehunt.simulate import SimulationConfig, simulate

    folder = tmp_path_factory.mktemp("crash-watch")
    simulate(SimulationConfig(outdir=folder / "sim", users=25, days=20, seed=29))
    release = read_release(folder / "sim")
    release.context_into(folder / "context")
    with Store.open(folder / "batch") as store:
        ingest_cert(store, folder / "sim")
        run_detection(store)
        scores = store.query(SCORES)
    return release, folder / "context", scores


def _watch(workspace: Path, inputs: Path, idle: float | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "molehunt", "-w", str(workspace), "-q", "watch"]
    command += [str(inputs / name) for name in ACTIVITY]
    command += ["--grace", "0", "--commit-every", "0.3", "--poll", "0.05"]
    command += ["--sink", f"jsonl:{workspace.parent / 'alerts.jsonl'}"]
    if idle is not None:
        command += ["--exit-when-idle", str(idle)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _feed(release: Release, inputs: Path, days: list[Any], hurry: threading.Event) -> None:
    """Append a day every FEED_SECONDS; once `hurry` is set (the kill), the rest at once."""
    for day in days:
        release.append_day(inputs, day)
        hurry.wait(FEED_SECONDS)


def _assert_whole_days(store: Store) -> None:
    """Every day up to `detection_state.last_day` is whole; nothing lies beyond it."""
    tables = {row[0] for row in store.query("SELECT table_name FROM duckdb_tables()")}
    if "detection_state" not in tables:
        return
    state = dict(store.query("SELECT key, value FROM detection_state"))
    last = state.get("last_day")
    if last is None:
        assert "scores" not in tables or store.query("SELECT count(*) FROM scores") == [(0,)]
        return
    assert store.query("SELECT max(day)::VARCHAR FROM scores") == [(last,)]
    done = f"day <= DATE '{last}'"
    for table in ("model_scores", "scores"):
        differ = store.query(
            f"SELECT count(*) FROM ((SELECT user, day FROM features WHERE {done} EXCEPT ALL "
            f"SELECT user, day FROM {table} WHERE {done}) UNION ALL (SELECT user, day FROM "
            f"{table} WHERE {done} EXCEPT ALL SELECT user, day FROM features WHERE {done}))"
        )
        assert differ == [(0,)], f"{table}: days up to {last} not whole"
    reconciled = store.query(
        "SELECT count(*) FROM sources WHERE rows_read <> rows_stored + rows_rejected"
    )
    assert reconciled == [(0,)]


def test_watch_killed_at_random_moments_restarts_to_identical_scores(
    small: tuple[Release, Path, list[Any]], tmp_path: Path
) -> None:
    release, context, reference = small
    generator = random.Random(20261201)
    killed = 0
    for trial in range(TRIALS):
        root = tmp_path / f"trial{trial}"
        workspace = copy_workspace(context, root / "ws")
        inputs = root / "in"
        release.empty_inputs(inputs)
        for day in release.days[:3]:
            release.append_day(inputs, day)
        hurry = threading.Event()
        feeder = threading.Thread(target=_feed, args=(release, inputs, release.days[3:], hurry))
        child = _watch(workspace, inputs, idle=None)
        feeder.start()
        time.sleep(generator.uniform(1.0, 1.0 + FEED_SECONDS * len(release.days)))
        child.send_signal(signal.SIGKILL)
        killed += child.wait(timeout=60) == -signal.SIGKILL
        assert child.stderr is not None
        child.stderr.close()
        hurry.set()
        feeder.join()
        with Store.open(workspace) as store:  # opens; nothing half written
            _assert_whole_days(store)
        restarted = _watch(workspace, inputs, idle=1.5)
        _, err = restarted.communicate(timeout=300)
        assert restarted.returncode == 0, err.decode()
        with Store.open(workspace) as store:
            _assert_whole_days(store)
            assert store.query("SELECT max(day) FROM scores")[0][0] == release.days[-2]
            run_detection(store)  # the newest day, which watch leaves open
            assert store.query(SCORES) == reference, f"trial {trial}: scores differ"
    assert killed == TRIALS
