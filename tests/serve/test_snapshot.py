"""The server reads while another process writes: snapshot copies, never a held lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from molehunt.serve import create_app
from molehunt.serve.snapshot import SNAPSHOT_DIR, remove_abandoned_snapshots
from molehunt.serve.workbench import Workbench
from molehunt.store import Store
from tests.serve.conftest import Bench

WRITER = """
import sys
from molehunt.store import Store
with Store.open(sys.argv[1], lock_wait=0) as store:
    with store.transaction() as tx:
        tx.execute("DELETE FROM scores WHERE day = (SELECT max(day) FROM scores)")
    print("ready", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def writer(workspace: Path) -> Iterator[None]:
    """Another process that holds the workspace open for writing (as detect does)."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(workspace)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.strip() == "ready", "the writer could not open the workspace"
        yield
    finally:
        _, errors = process.communicate(input="\n", timeout=60)
        assert process.returncode == 0, errors


def queue_day(bench: Bench) -> tuple[str, bool]:
    response = bench.client.get("/api/v1/queue?top=1", headers=bench.headers("analyst"))
    assert response.status_code == 200, response.text
    return response.json()["day"], response.json()["stale"]


def test_reads_continue_while_a_writer_holds_the_workspace(bench: Bench) -> None:
    before, stale = queue_day(bench)
    assert not stale
    with writer(bench.workspace):
        during, stale = queue_day(bench)
        assert (during, stale) == (before, True), "answer from the last copy, marked stale"
    after, stale = queue_day(bench)
    assert not stale and after < before, "once the writer is done, its changes are visible"


def test_a_writer_can_start_while_the_server_runs(bench: Bench) -> None:
    queue_day(bench)
    with Store.open(bench.workspace, lock_wait=0) as store:  # fails at once if the server held it
        assert store.query("SELECT count(*) FROM scores")[0][0] > 0


def test_no_copy_yet_and_a_writer_busy_is_503(detected: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(detected, workspace)
    app = create_app(workspace, check_interval=0.0)
    with writer(workspace), TestClient(app) as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        token = Workbench(workspace, app.state.context.now).create_token("a", "analyst")[1]
        busy = client.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"})
        assert busy.status_code == 503 and "being written" in busy.json()["error"]


def test_copies_of_a_killed_server_are_removed_at_start(bench: Bench) -> None:
    folder = bench.workspace / SNAPSHOT_DIR
    folder.mkdir(exist_ok=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    (folder / f"snapshot-{dead_pid}-1.duckdb").write_bytes(b"x")
    (folder / f"snapshot-{os.getpid()}-99.duckdb").write_bytes(b"x")
    assert remove_abandoned_snapshots(folder) == 1
    assert [p.name for p in folder.iterdir()] == [f"snapshot-{os.getpid()}-99.duckdb"]
