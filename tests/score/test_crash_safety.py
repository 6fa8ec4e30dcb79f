"""Crash safety of `molehunt detect`: killed at random moments, on a full disk, read-only.

What must hold for a user: whatever happens to a detect run, the workspace still opens, every
day it reports as computed is whole in every table, and the next run gives exactly the scores
an uninterrupted run would have given; a disk that fills up or a workspace that cannot be
written gives one line naming the workspace and the reason, and changes nothing.

`MOLEHUNT_CRASH_TRIALS=20 pytest tests/score/test_crash_safety.py` runs more kill trials.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from molehunt.context import ingest_context
from molehunt.ingest import ingest_cert
from molehunt.ledger import verify_ledger
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store

TRIALS = int(os.environ.get("MOLEHUNT_CRASH_TRIALS", "10"))
SCORES = (
    "SELECT user, day, score, rank, rule_score, model_score, booster, total, evidence_total, "
    "open_case FROM scores ORDER BY day, user"
)


@dataclass(frozen=True)
class Institute:
    workspace: Path  # ingested, never detected: copy it before use
    scores: list[tuple[Any, ...]]  # of one uninterrupted `molehunt detect`
    seconds: float  # wall time of that run, interpreter start included


def _detect(workspace: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "molehunt", "--workspace", str(workspace), "-q", "detect"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="module")
def institute(tmp_path_factory: pytest.TempPathFactory) -> Institute:
    """40 people x 40 days with context, ingested once; one uninterrupted detect as reference."""
    folder = tmp_path_factory.mktemp("crash")
    simulate(SimulationConfig(outdir=folder / "sim", users=40, days=40, seed=5))
    workspace = folder / "ingested"
    with Store.open(workspace) as store:
        ingest_cert(store, folder / "sim")
        ingest_context(store, folder / "sim" / "context")
    reference = _copy(workspace, folder / "reference")
    started = time.perf_counter()
    result = _detect(reference)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    with Store.open(reference) as store:
        scores = store.query(SCORES)
    assert len(scores) > 1000
    return Institute(workspace, scores, seconds)


def _assert_whole_days(store: Store) -> None:
    """Every day up to `detection_state.last_day` is whole; no score lies beyond it."""
    tables = {row[0] for row in store.query("SELECT table_name FROM duckdb_tables()")}
    state = (
        dict(store.query("SELECT key, value FROM detection_state"))
        if "detection_state" in tables
        else {}
    )
    last = state.get("last_day")
    if last is None:
        assert "scores" not in tables or store.query("SELECT count(*) FROM scores") == [(0,)]
        return
    assert store.query("SELECT max(day)::VARCHAR FROM scores") == [(last,)]
    done = f"day <= DATE '{last}'"
    for table in ("features", "model_scores", "scores"):
        # The same user-days as the features, each exactly once.
        missing = store.query(
            f"SELECT count(*) FROM (SELECT user, day FROM features WHERE {done} "
            f"EXCEPT ALL SELECT user, day FROM {table} WHERE {done})"
        )
        extra = store.query(
            f"SELECT count(*) FROM (SELECT user, day FROM {table} WHERE {done} "
            f"EXCEPT ALL SELECT user, day FROM features WHERE {done})"
        )
        assert (missing, extra) == ([(0,)], [(0,)]), f"{table}: days up to {last} not whole"
    orphans = store.query(
        f"SELECT count(*) FROM rule_hits h WHERE {done} AND NOT EXISTS "
        "(SELECT 1 FROM scores s WHERE s.user = h.user AND s.day = h.day)"
    )
    assert orphans == [(0,)], "rule hits of a user-day without a score"


def test_detect_killed_at_random_moments_reruns_to_identical_scores(
    institute: Institute, tmp_path: Path
) -> None:
    generator = random.Random(20261201)
    killed = 0
    for trial in range(TRIALS):
        workspace = _copy(institute.workspace, tmp_path / f"trial{trial}")
        command = [sys.executable, "-m", "molehunt", "-w", str(workspace), "-q", "detect"]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(generator.uniform(0.25, 1.0) * institute.seconds)
        child.send_signal(signal.SIGKILL)
        killed += child.wait(timeout=60) == -signal.SIGKILL
        with Store.open(workspace) as store:  # opens after any kill
            _assert_whole_days(store)
            run_detection(store)
            assert store.query(SCORES) == institute.scores, f"trial {trial}: other scores"
            assert verify_ledger(store).is_valid, f"trial {trial}: ledger does not verify"
        shutil.rmtree(workspace)
    assert killed > 0, "no run was killed before it finished: the test proved nothing"


def _mount(*arguments: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small or read-only file system")
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here: {result.stderr.strip()}")


def _used_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _snapshot(workspace: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(workspace)): p.read_bytes() for p in workspace.rglob("*") if p.is_file()
    }


def _assert_one_line(result: subprocess.CompletedProcess[str], workspace: Path, why: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    assert str(workspace) in lines[0] and why in lines[0], lines[0]


def test_detect_on_full_disk_gives_one_line_and_keeps_the_workspace(
    institute: Institute, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    # Room for the ingested workspace and half a megabyte: detect needs several.
    size = _used_bytes(institute.workspace) + 512 * 1024
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk))
    try:
        workspace = _copy(institute.workspace, disk / "ws")
        result = _detect(workspace)
        _assert_one_line(result, workspace, "No space left on device")
        kept = _copy(workspace, tmp_path / "kept")
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    with Store.open(kept) as store:
        _assert_whole_days(store)
        assert store.query("SELECT value FROM detection_state WHERE key = 'last_day'") == []
        run_detection(store)  # with room again, the same scores as ever
        assert store.query(SCORES) == institute.scores


def test_detect_on_read_only_workspace_gives_one_line_and_changes_nothing(
    institute: Institute, tmp_path: Path
) -> None:
    workspace = _copy(institute.workspace, tmp_path / "ws")
    before = _snapshot(workspace)
    if os.geteuid() == 0:  # root writes through file modes: make the file system read-only
        _mount("--bind", str(workspace), str(workspace))
        try:
            _mount("-o", "remount,bind,ro", str(workspace))
            result = _detect(workspace)
        finally:
            subprocess.run(["umount", str(workspace)], check=True)
        why = "Read-only file system"
    else:
        for path in [workspace, *workspace.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        try:
            result = _detect(workspace)
        finally:
            for path in [workspace, *workspace.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
        why = "Permission denied"
    _assert_one_line(result, workspace, why)
    assert _snapshot(workspace) == before
