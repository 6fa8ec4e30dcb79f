"""Re-ingest is safe: grown files add only new rows; a killed ingest resumes cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from molehunt.ingest import ingest_cert
from molehunt.store import Store

HEADER = "id,date,user,pc,activity\n"


def rows(start: int, stop: int) -> str:
    return "".join(
        f"{{L{n:07d}}},01/{1 + n % 28:02d}/2010 07:{n % 60:02d}:00,U{n % 50:04d},PC-{n % 9},"
        f"{'Logon' if n % 2 else 'Logoff'}\n"
        for n in range(start, stop)
    )


def test_grown_file_adds_only_new_rows(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "logon.csv"
    path.write_text(HEADER + rows(0, 100))
    assert ingest_cert(store, path).stored == 100
    with path.open("a") as handle:
        handle.write(rows(100, 130))
    report = ingest_cert(store, path)
    assert (report.files[0].status, report.read, report.stored) == ("resumed", 30, 30)
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(130, 130)]
    assert store.query("SELECT min(source_line), max(source_line) FROM events") == [(2, 131)]


def test_same_file_under_other_path_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "a" / "logon.csv"
    path.parent.mkdir()
    path.write_text(HEADER + rows(0, 10))
    ingest_cert(store, path)
    copy = tmp_path / "b" / "logon.csv"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    assert ingest_cert(store, copy).files[0].status == "unchanged"
    assert store.query("SELECT count(*) FROM events") == [(10,)]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import molehunt.ingest.reader as reader
    reader.DEFAULT_CHUNK_BYTES = 4096
    from molehunt.ingest import ingest_cert
    from molehunt.store import Store
    from molehunt.store.database import Store as StoreClass
    mode, when = sys.argv[3], int(sys.argv[4])
    commits = 0
    def progress(path, done, rows):
        global commits
        commits += 1
        if mode == "after-commit" and commits == when:
            os.kill(os.getpid(), signal.SIGKILL)
    original = StoreClass.write_batch
    def write_batch(self, *args, **kwargs):
        rows = original(self, *args, **kwargs)
        if mode == "inside-transaction" and commits == when:
            os.kill(os.getpid(), signal.SIGKILL)  # Parquet renamed, transaction not committed
        return rows
    StoreClass.write_batch = write_batch
    ingest_cert(Store.open(sys.argv[1]), sys.argv[2], progress)
    """
)


@pytest.mark.parametrize("mode", ["after-commit", "inside-transaction"])
def test_sigkill_midway_then_rerun_leaves_no_duplicates(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "logon.csv"
    path.write_text(HEADER + rows(0, 3000))
    workspace = tmp_path / "ws"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    result = subprocess.run(
        [sys.executable, str(script), str(workspace), str(path), mode, "5"],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert result.returncode == -signal.SIGKILL
    with Store.open(workspace) as store:
        partial = store.query("SELECT count(*) FROM events")[0][0]
        assert 0 < partial < 3000
        # Only whole batches: the stored lines are exactly a prefix of the file.
        assert store.query("SELECT max(source_line) - min(source_line) + 1 FROM events") == [
            (partial,)
        ]
        report = ingest_cert(store, path)
        assert report.read == 3000 - partial
        assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [
            (3000, 3000)
        ]
        assert store.query("SELECT rows_read, rows_stored FROM sources") == [(3000, 3000)]
    leftovers = [p.name for p in (workspace / "events").iterdir() if p.name.startswith(".stage")]
    assert leftovers == []
