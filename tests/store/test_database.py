"""The workspace: created on first use, migrated or refused by schema version."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from molehunt.errors import WorkspaceError
from molehunt.store import SCHEMA_VERSION, Store


def test_open_creates_workspace_with_current_schema(tmp_path: Path) -> None:
    with Store.open(tmp_path / "ws") as store:
        assert store.query("SELECT value FROM meta") == [(str(SCHEMA_VERSION),)]
        assert store.query("SELECT count(*) FROM events") == [(0,)]
    assert (tmp_path / "ws" / "molehunt.duckdb").is_file()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path / "ws").close()
    connection = duckdb.connect(str(tmp_path / "ws" / "molehunt.duckdb"))
    connection.execute("UPDATE meta SET value = '999'")
    connection.close()
    with pytest.raises(WorkspaceError, match="schema version 999, newer than this molehunt"):
        Store.open(tmp_path / "ws")


@pytest.mark.parametrize(
    "content",
    ["CREATE TABLE something (x INTEGER)", "CREATE VIEW something AS SELECT 1 AS x"],
    ids=["a-table", "only-a-view"],
)
def test_foreign_database_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "ws").mkdir()
    connection = duckdb.connect(str(tmp_path / "ws" / "molehunt.duckdb"))
    connection.execute(content)
    connection.close()
    with pytest.raises(WorkspaceError, match="is not a molehunt workspace"):
        Store.open(tmp_path / "ws")


def test_missing_workspace_not_created_when_asked(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no molehunt workspace at"):
        Store.open(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()


def test_orphan_batch_file_removed_on_open(tmp_path: Path) -> None:
    Store.open(tmp_path / "ws").close()
    orphan = tmp_path / "ws" / "events" / "batch-00000001-deadbeef.parquet"
    orphan.write_bytes(b"partial")
    Store.open(tmp_path / "ws").close()
    assert not orphan.exists()


def test_memory_limit_leaves_python_its_share_and_bad_value_refused(tmp_path: Path) -> None:
    # The budget is the process's: DuckDB gets 80% of 1 GB, the rest is for Python's arrays.
    with Store.open(tmp_path / "ws", memory_limit="1GB") as store:
        limit = store.query("SELECT current_setting('memory_limit')")[0][0]
        assert limit == "762.9 MiB"  # DuckDB reports 0.8 GB (8 x 10^8 bytes) in MiB
    with pytest.raises(WorkspaceError, match="bad memory limit 'lots'"):
        Store.open(tmp_path / "ws", memory_limit="lots")


def test_a_deleted_batch_file_is_one_clear_error_naming_it(tmp_path: Path) -> None:
    from molehunt.ingest import ingest_events

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"time": "2010-01-04T09:00:00Z", "user": "U1", "host": "PC-1", "channel": "logon", '
        '"action": "logon"}\n',
        encoding="utf-8",
    )
    with Store.open(tmp_path / "ws") as store:
        ingest_events(store, [events])
    batch = next((tmp_path / "ws" / "events").glob("batch-*.parquet"))
    batch.unlink()
    with pytest.raises(WorkspaceError, match=rf"1 of 1 event batch files .* events/{batch.name}"):
        Store.open(tmp_path / "ws")
    # the ledger's verification still opens it, and learns which file is gone
    with Store.open(tmp_path / "ws", read_only=True, allow_missing_batches=True) as store:
        assert store.missing_batches == [f"events/{batch.name}"]
        assert store.query("SELECT count(*) FROM events") == [(0,)]


def test_a_workspace_of_an_older_schema_is_migrated_to_the_newest(tmp_path: Path) -> None:
    from molehunt.store.database import _migrations

    (tmp_path / "ws").mkdir()
    connection = duckdb.connect(str(tmp_path / "ws" / "molehunt.duckdb"))
    connection.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    connection.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    for number, sql in _migrations():
        if number <= 2:
            connection.execute(sql)
    connection.close()
    with Store.open(tmp_path / "ws") as store:
        assert store.query("SELECT key, value FROM meta") == [
            ("schema_version", str(SCHEMA_VERSION))
        ]
        # a table of the identity map's migration (0006) exists now
        assert store.query("SELECT count(*) FROM identities") == [(0,)]
