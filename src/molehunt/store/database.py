"""The workspace store: the one component that owns the DuckDB connection."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from molehunt.errors import WorkspaceError
from molehunt.events import EVENT_COLUMNS

DATABASE_FILE = "molehunt.duckdb"
# The process's memory budget. DuckDB's own default is 80% of RAM; a bound keeps detection
# inside its 3 GB budget by spilling to disk instead.
DEFAULT_MEMORY_LIMIT = "3GB"
# DuckDB's cap is this share of the budget: the process also holds its libraries, Arrow
# results and model matrices, about 0.4 GB beyond DuckDB's cap at 1,000 people x 500 days
# (with DuckDB at the whole 3GB, detect peaked at 3,265 MB RSS in the context step).
DATABASE_SHARE = 0.8
_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})
EVENTS_DIR = "events"
# The rows of a group of small files while their batches are written (`write_batches`).
_GROUP_TABLE = "molehunt_group_rows"
# The main database's migrations; the workbench's own database (cases, audit log, tokens) has
# its own folder, so that the web workbench can write while `detect` holds the main file's lock.
MAIN_SCHEMA = "schema"
WORKBENCH_SCHEMA = "workbench_schema"
WORKBENCH_FILE = "workbench.duckdb"
# DuckDB lets one process write a database file or several read it, never both: a second
# process fails at once with a lock error. Opening retries for this long before giving up.
DEFAULT_LOCK_WAIT = 5.0
_LOCK_MESSAGE = "Could not set lock"
# What the operating system says when a write fails for a reason the user can fix.
_WRITE_FAILURES = (
    "No space left on device",
    "Disk quota exceeded",
    "Read-only file system",
    "Permission denied",
)


def _migrations(schema: str = MAIN_SCHEMA) -> list[tuple[int, str]]:
    """Return (version, sql) of every shipped migration (`<schema>/NNNN_*.sql`), in order."""
    folder = resources.files("molehunt.store") / schema
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


# The schema version this code writes: the newest shipped migration.
SCHEMA_VERSION = _migrations()[-1][0]


def _connect(database: Path, read_only: bool, lock_wait: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying for `lock_wait` seconds while another process holds the file's lock."""
    deadline = time.monotonic() + lock_wait
    while True:
        try:
            return duckdb.connect(str(database), read_only=read_only)
        except duckdb.Error as error:
            if _LOCK_MESSAGE not in str(error) or time.monotonic() >= deadline:
                first = str(error).splitlines()[0]
                raise WorkspaceError(
                    f"cannot open workspace database {database}: {first}"
                ) from error
            time.sleep(0.05)


class Transaction:
    """The handle for writes inside `Store.transaction()`; every statement runs to completion.

    Args:
        connection: The connection the transaction is open on.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (empty for statements without a result)."""
        cursor = self._connection.execute(sql, parameters or [])
        return cursor.fetchall() if cursor.description else []


class Store:
    """A workspace: one DuckDB database plus immutable Parquet event batches.

    Only this class imports duckdb. Writers go through `transaction()`; readers use
    `query()` or, from another thread, `cursor()`.

    Args:
        root: Workspace folder.
        connection: The open DuckDB connection (use `Store.open`).
    """

    def __init__(
        self,
        root: Path,
        connection: duckdb.DuckDBPyConnection,
        database: Path | None = None,
        schema: str = MAIN_SCHEMA,
    ) -> None:
        self.root = root
        self.database = database or root / DATABASE_FILE
        self.schema = schema
        self._connection = connection
        self._lock = threading.RLock()
        self.allow_missing_batches = False
        self.missing_batches: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        root: Path | str,
        *,
        create: bool = True,
        read_only: bool = False,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        database: Path | str = DATABASE_FILE,
        schema: str = MAIN_SCHEMA,
        lock_wait: float = DEFAULT_LOCK_WAIT,
        allow_missing_batches: bool = False,
    ) -> Store:
        """Open (and if needed create or migrate) the workspace at `root`.

        Args:
            root: Workspace folder.
            create: Create the workspace when it does not exist.
            read_only: Open without write access (no migration, no clean-up).
            memory_limit: The process's memory budget (e.g. '3GB'): DuckDB is capped at
                `DATABASE_SHARE` of it (the rest is Python's); larger work spills to
                `<workspace>/.tmp`.
            database: The database file, relative to `root` or absolute (a snapshot copy of
                the main file, or the workbench's `WORKBENCH_FILE`).
            schema: The migrations folder: `MAIN_SCHEMA` (events, detection) or
                `WORKBENCH_SCHEMA` (cases, audit log, tokens; no events).
            lock_wait: Seconds to keep retrying while another process holds the file.
            allow_missing_batches: Open even when event batch files listed in `batches` are
                gone (`events` then reads the others; `missing_batches` names the lost ones):
                for `molehunt ledger verify`, which reports them.

        Returns:
            The open store.

        Raises:
            WorkspaceError: The folder is missing (and `create` is false), locked by another
                process, not a molehunt workspace, of a newer schema version, or (unless
                `allow_missing_batches`) missing event batch files.
        """
        root = Path(root).expanduser().absolute()
        path = root / database
        if not path.exists():
            if not create or read_only:
                raise WorkspaceError(
                    f"no molehunt workspace at {root} (expected {DATABASE_FILE}; "
                    "run `molehunt ingest` first or pass --workspace)"
                )
            if root.exists() and not root.is_dir():
                raise WorkspaceError(f"workspace path {root} is a file; expected a folder")
            root.mkdir(parents=True, exist_ok=True)
        main = schema == MAIN_SCHEMA
        if main:
            (root / EVENTS_DIR).mkdir(exist_ok=True)
        connection = _connect(path, read_only, lock_wait)
        store = cls(root, connection, path, schema)
        store.allow_missing_batches = allow_missing_batches
        try:
            store._configure(memory_limit)
            version = None
            if not read_only:
                version = store._migrate()
                if main:
                    store._remove_orphan_batches()
            store._check_version(version)
            if main:
                store._create_events_view()
        except BaseException:
            connection.close()
            raise
        return store

    def close(self) -> None:
        """Checkpoint and close the connection.

        Raises:
            WorkspaceError: The checkpoint could not be written (full disk, read-only
                workspace); committed data stays in the write-ahead log.
        """
        with self._lock:
            try:
                self._connection.close()
            except duckdb.Error as error:
                self._raise_write_error(error)
                raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        try:
            self.close()
        except WorkspaceError:
            if exc_type is None:  # else the error already in flight says what went wrong
                raise

    def _raise_write_error(self, error: duckdb.Error) -> None:
        """Raise a failed write the user can fix (full disk, read-only) as one line naming
        the workspace; return for any other error (a bug: its traceback is kept)."""
        text = str(error)
        reason = next((r for r in _WRITE_FAILURES if r in text), None)
        if reason is None:
            return
        first = text.splitlines()[0]
        raise WorkspaceError(
            f"cannot write to workspace {self.root}: {reason} ({first}); the unfinished step "
            "was rolled back: make room or make the workspace writable, then run again"
        ) from error

    def _configure(self, memory_limit: str) -> None:
        # Row order is carried by explicit columns (source_line, day); unordered writes are
        # parallel (Parquet COPY ~15% faster).
        self._connection.execute("SET preserve_insertion_order = false")
        # molehunt shows its own progress (on a terminal only); DuckDB's bar would print
        # to stderr even in pipelines and logs.
        self._connection.execute("SET enable_progress_bar = false")
        self._connection.execute("SET TimeZone = 'UTC'")
        self._connection.execute(f"SET temp_directory = '{self.root / '.tmp'}'")
        try:
            self._connection.execute(f"SET memory_limit = {_sql_string(memory_limit)}")
        except duckdb.Error as error:
            raise WorkspaceError(
                f"bad memory limit {memory_limit!r}: expected a size such as 3GB or 500MB"
            ) from error
        budget = _size_bytes(memory_limit)
        if budget is not None:
            share = int(budget * DATABASE_SHARE)
            self._connection.execute(f"SET memory_limit = '{share}B'")

    def _schema_version(self) -> int | None:
        # The tables and views SHOW TABLES lists, from the catalog functions: a third of its
        # cost, and every command runs this when it opens the workspace.
        where = "database_name IN (current_database(), 'temp') AND schema_name = current_schema()"
        tables = {
            row[0]
            for row in self._connection.execute(
                f"SELECT table_name FROM duckdb_tables() WHERE {where} UNION ALL "
                f"SELECT view_name FROM duckdb_views() WHERE NOT internal AND {where}"
            ).fetchall()
        }
        if "meta" not in tables:
            return 0 if not tables else None
        row = self._connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
        return int(row[0]) if row else None

    def _migrate(self) -> int:
        """Apply the pending migrations in one transaction; return the schema version."""
        version = self._schema_version()
        if version is None:
            raise WorkspaceError(f"{self.database} is not a molehunt workspace (no schema version)")
        if version > self._newest_version():
            return version  # refused by _check_version with a clear message
        pending = [(number, sql) for number, sql in _migrations(self.schema) if number > version]
        if not pending:
            return version
        newest = pending[-1][0]
        with self.transaction() as connection:
            if version == 0:
                connection.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
                connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(newest)])
            # One statement string for all of them: a fifth cheaper than one call each.
            connection.execute(";\n".join(sql for _number, sql in pending))
            if version != 0:  # one transaction: the version is set once, to the last one's
                connection.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(newest)]
                )
        return newest

    def _newest_version(self) -> int:
        return SCHEMA_VERSION if self.schema == MAIN_SCHEMA else _migrations(self.schema)[-1][0]

    def _check_version(self, version: int | None = None) -> None:
        """Refuse a folder that is no workspace, or one newer than this code.

        Args:
            version: The version `_migrate` found or wrote (None: read it).
        """
        if version is None:
            version = self._schema_version()
        if version is None or version == 0:
            raise WorkspaceError(f"{self.database} is not a molehunt workspace")
        newest = self._newest_version()
        if version > newest:
            raise WorkspaceError(
                f"workspace {self.root} has schema version {version}, newer than this molehunt "
                f"understands ({newest}); upgrade molehunt to open it"
            )

    def _remove_orphan_batches(self) -> None:
        """Delete Parquet files that no committed batch refers to (left by a killed ingest)."""
        known = {row[0] for row in self.query("SELECT file_name FROM batches")}
        for path in (self.root / EVENTS_DIR).iterdir():
            relative = f"{EVENTS_DIR}/{path.name}"
            if path.is_dir() and path.name.startswith(".stage-"):  # `write_batches`' staging
                shutil.rmtree(path)
            elif relative not in known:
                path.unlink()

    def _create_events_view(self) -> None:
        self._define_events(self._connection)

    def _define_events(self, connection: duckdb.DuckDBPyConnection) -> None:
        rows = connection.execute("SELECT file_name FROM batches ORDER BY batch_id").fetchall()
        self.missing_batches = [str(name) for (name,) in rows if not (self.root / name).exists()]
        if self.missing_batches and not self.allow_missing_batches:
            raise WorkspaceError(
                f"workspace {self.root}: {len(self.missing_batches)} of {len(rows)} event batch "
                f"files listed in `batches` are missing, first {self.missing_batches[0]}; restore "
                "them from a backup (`molehunt ledger verify` names every damaged entry)"
            )
        files = [str(self.root / name) for (name,) in rows if (self.root / name).exists()]
        if files:
            listing = ", ".join(_sql_string(f) for f in files)
            columns = ", ".join(f'"{c.name}"::{c.sql_type} AS "{c.name}"' for c in EVENT_COLUMNS)
            body = f"SELECT {columns} FROM read_parquet([{listing}])"
        else:
            columns = ", ".join(f'NULL::{c.sql_type} AS "{c.name}"' for c in EVENT_COLUMNS)
            body = f"SELECT {columns} WHERE false"
        connection.execute(f"CREATE OR REPLACE TEMP VIEW events AS {body}")

    # -- reading ---------------------------------------------------------------------------

    def query(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows.

        Args:
            sql: The query.
            parameters: Positional `?` parameters.

        Returns:
            The rows as tuples.
        """
        with self._lock:
            cursor = self._connection.execute(sql, parameters or [])
            return cursor.fetchall() if cursor.description else []

    def query_dicts(
        self, sql: str, parameters: Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts keyed by column name.

        Args:
            sql: The query.
            parameters: Positional `?` parameters.

        Returns:
            One dict per row.
        """
        with self._lock:
            cursor = self._connection.execute(sql, parameters or [])
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Return a cursor for reads from another thread (DuckDB needs one per thread)."""
        with self._lock:
            cursor = self._connection.cursor()
            self._define_events(cursor)
        return cursor

    def reader(self) -> Store:
        """Return a Store for reads from another thread: its own cursor on the same database.

        Queries on it do not wait for queries of other threads (each thread needs its own
        cursor; DuckDB runs them side by side). Close it before the parent.
        """
        return Store(self.root, self.cursor(), self.database, self.schema)

    def copy_to(self, target: Path) -> None:
        """Copy the database file (and its write-ahead log, if any) to `target`, atomically.

        Open read-only, the store holds a shared lock on the file for the whole copy, so no
        writer can change it underneath: the copy is a consistent snapshot.

        Args:
            target: The new file (its `.wal` beside it when the source has one).
        """
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", ".wal"):
                source = Path(f"{self.database}{suffix}")
                final = Path(f"{target}{suffix}")
                if source.exists():
                    partial = final.with_name(final.name + ".partial")
                    shutil.copyfile(source, partial)
                    os.replace(partial, final)

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run writes atomically: commit on success, roll back on any error.

        Yields:
            The handle for `execute` calls inside the transaction.
        """
        with self._lock:
            self._connection.execute("BEGIN TRANSACTION")
            try:
                yield Transaction(self._connection)
            except duckdb.Error as error:
                with suppress(duckdb.Error):  # a failed write may have ended it already
                    self._connection.execute("ROLLBACK")
                self._raise_write_error(error)
                raise
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            try:
                self._connection.execute("COMMIT")
            except duckdb.Error as error:
                self._raise_write_error(error)
                raise

    def register(self, name: str, table: object) -> None:
        """Expose an in-memory Arrow table to SQL under `name` (until `unregister`)."""
        with self._lock:
            self._connection.register(name, table)

    def unregister(self, name: str) -> None:
        """Remove a name registered with `register`."""
        with self._lock:
            self._connection.unregister(name)

    def write_batch(
        self,
        select_sql: str,
        source_id: int,
        first_line: int,
        last_line: int,
        connection: Transaction,
    ) -> int:
        """Write the rows of `select_sql` as a new immutable Parquet event batch.

        The file is written under a temporary name and renamed; the `batches` row that makes
        it visible is inserted on `connection`, inside the caller's transaction, so a batch is
        either wholly committed or removed as an orphan at the next open.

        Args:
            select_sql: A query returning exactly the event columns, in order.
            source_id: The source the rows came from.
            first_line: First physical line the batch covers.
            last_line: Last physical line the batch covers.
            connection: The connection of the open transaction.

        Returns:
            The number of rows written (0 writes no file).
        """
        stage = f"{EVENTS_DIR}/.stage-{uuid.uuid4().hex}.parquet"
        written = connection.execute(
            f"COPY ({select_sql}) TO {_sql_string(str(self.root / stage))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        rows = int(written[0][0])
        if rows == 0:
            (self.root / stage).unlink()
            return 0
        batch_id = int(
            connection.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM batches")[0][0]
        )
        final = f"{EVENTS_DIR}/batch-{batch_id:08d}-{uuid.uuid4().hex[:8]}.parquet"
        os.replace(self.root / stage, self.root / final)
        connection.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [batch_id, source_id, final, first_line, last_line, rows],
        )
        return rows

    def write_batches(
        self,
        select_sql: str,
        lines: dict[int, tuple[int, int]],
        connection: Transaction,
    ) -> dict[int, int]:
        """Write the rows of `select_sql` as one new Parquet event batch per source.

        For the rows of several sources (small files ingested together): the query runs
        once into a temporary table, and each source's rows are copied from it to their own
        file, which becomes a batch as in `write_batch` (renamed, its `batches` row inserted
        on `connection`, so it is committed with the caller's transaction or removed at the
        next open). No partitioned COPY: its staging folders cost a directory removal each
        (about 1 ms apiece on a disk mounted with `discard`), more than the copies.

        Args:
            select_sql: A query returning exactly the event columns, in order.
            lines: Each source's (first, last) physical line the batch covers.
            connection: The connection of the open transaction.

        Returns:
            source id -> rows written (sources without rows have no batch and are absent).
        """
        rows = _GROUP_TABLE
        connection.execute(f"CREATE TEMP TABLE {rows} AS {select_sql}")
        sources = connection.execute(f"SELECT DISTINCT source_id FROM {rows} ORDER BY 1")
        written: dict[int, int] = {}
        values: list[object] = []
        if sources:
            batch_id = int(
                connection.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM batches")[0][0]
            )
        for (source_id,) in sources:
            stage = f"{EVENTS_DIR}/.stage-{uuid.uuid4().hex}.parquet"
            copied = connection.execute(
                f"COPY (SELECT * FROM {rows} WHERE source_id = ?) "
                f"TO {_sql_string(str(self.root / stage))} (FORMAT parquet, COMPRESSION zstd)",
                [source_id],
            )
            final = f"{EVENTS_DIR}/batch-{batch_id:08d}-{uuid.uuid4().hex[:8]}.parquet"
            os.replace(self.root / stage, self.root / final)
            first_line, last_line = lines[int(source_id)]
            values += [batch_id, source_id, final, first_line, last_line, int(copied[0][0])]
            written[int(source_id)] = int(copied[0][0])
            batch_id += 1
        connection.execute(f"DROP TABLE {rows}")
        if values:
            placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, now()::TIMESTAMP)"] * len(written))
            connection.execute(f"INSERT INTO batches VALUES {placeholders}", values)
        return written

    def refresh_events(self) -> None:
        """Re-create the `events` view after batches were committed."""
        with self._lock:
            self._create_events_view()


def _size_bytes(text: str) -> int | None:
    """Return the bytes of a size such as '3GB' or '500 MiB' (None: no known unit)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if match is None or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _sql_string(text: str) -> str:
    """Quote text as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
