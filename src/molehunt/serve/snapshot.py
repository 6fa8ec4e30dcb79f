"""Consistent reads of the workspace while `detect` or `ingest` write it: snapshot copies.

DuckDB lets one process write a database file or several processes read it, never both, and a
second process fails at once with a lock error. So the server never keeps the main file open:
when the file has changed, it opens it read-only for a moment (a shared lock, so no writer can
change it meanwhile), copies it to `<workspace>/.serve/`, lets go, and answers from the copy.
While a writer holds the file, requests are answered from the last copy (marked stale); a
writer that starts during a copy waits for it (`Store.open` retries on a lock).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

from molehunt.errors import WorkspaceError
from molehunt.serve.errors import BusyError
from molehunt.store.database import DATABASE_FILE, Store

SNAPSHOT_DIR = ".serve"
# A changed file is looked at no more often than this (seconds).
DEFAULT_CHECK_INTERVAL = 1.0


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_abandoned_snapshots(folder: Path) -> int:
    """Delete the copies of servers that are gone (killed before they could clean up).

    Args:
        folder: `<workspace>/.serve`.

    Returns:
        How many files were removed.
    """
    removed = 0
    for path in folder.glob("snapshot-*"):
        parts = path.name.split("-")
        if len(parts) >= 3 and parts[1].isdigit() and not _is_running(int(parts[1])):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class SnapshotReader:
    """Hands out a read-only Store on the newest consistent copy of the workspace.

    Args:
        root: The workspace folder.
        memory_limit: DuckDB memory cap of the copy's connection.
        check_interval: Seconds between looks at the main file.
    """

    def __init__(
        self,
        root: Path,
        memory_limit: str = "1GB",
        check_interval: float = DEFAULT_CHECK_INTERVAL,
    ) -> None:
        self.root = root
        self.memory_limit = memory_limit
        self.check_interval = check_interval
        self.stale = False
        self.generation = 0
        self._current: Store | None = None
        self._retired: list[Store] = []
        self._signature: tuple[int, ...] | None = None
        self._checked = 0.0
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        # Each request thread reads through its own cursor (Store.reader) on the current copy,
        # so a slow query in one thread does not hold up the others.
        self._local = threading.local()
        self._readers: dict[int, list[Store]] = {}
        (root / SNAPSHOT_DIR).mkdir(parents=True, exist_ok=True)
        remove_abandoned_snapshots(root / SNAPSHOT_DIR)

    def _file_signature(self) -> tuple[int, ...]:
        signature: list[int] = []
        for name in (DATABASE_FILE, DATABASE_FILE + ".wal"):
            path = self.root / name
            if path.exists():
                stat = path.stat()
                signature += [stat.st_mtime_ns, stat.st_size]
            else:
                signature += [0, 0]
        return tuple(signature)

    def store(self) -> Store:
        """Return the Store of the newest copy, refreshing it when the workspace changed.

        Raises:
            BusyError: No copy yet and a writer holds the workspace, or no workspace.
        """
        return self.current()[0]

    def current(self) -> tuple[Store, int]:
        """Return this thread's Store on the newest copy, and its generation (1, 2, ...).

        Raises:
            BusyError: No copy yet and a writer holds the workspace, or no workspace.
        """
        shared, generation = self._shared()
        view = getattr(self._local, "view", None)
        if view is None or view[1] != generation:
            with self._lock:
                reader = shared.reader()
                self._readers.setdefault(id(shared), []).append(reader)
            view = self._local.view = (reader, generation)
        return view[0], view[1]

    def _shared(self) -> tuple[Store, int]:
        """Return the newest copy's Store (refreshed when the workspace changed) and generation."""
        with self._lock:
            now = time.monotonic()
            if self._current is None or now - self._checked >= self.check_interval:
                self._checked = now
                signature = self._file_signature()
                if self._current is None or signature != self._signature:
                    self._refresh(signature)
            if self._current is None:
                raise BusyError(
                    f"the workspace {self.root} is being written (detect or ingest) and has "
                    "no earlier snapshot; try again when that finishes"
                )
            return self._current, self.generation

    def _refresh(self, signature: tuple[int, ...]) -> None:
        target = self.root / SNAPSHOT_DIR / f"snapshot-{os.getpid()}-{next(self._counter)}.duckdb"
        try:
            source = Store.open(self.root, read_only=True, lock_wait=0, memory_limit="256MB")
        except WorkspaceError as error:
            if "lock" not in str(error).lower():
                raise BusyError(str(error)) from error
            self.stale = self._current is not None
            return
        try:
            source.copy_to(target)
        finally:
            source.close()
        fresh = Store.open(
            self.root, read_only=True, database=target, memory_limit=self.memory_limit
        )
        self._signature = signature
        self.stale = False
        self.generation += 1
        # A request may still be reading the previous copy: close copies two generations old.
        if self._current is not None:
            self._retired.append(self._current)
        self._current = fresh
        while len(self._retired) > 1:
            self._close(self._retired.pop(0))

    def _close(self, store: Store) -> None:
        """Close a copy, its threads' readers first, and delete its files."""
        for reader in self._readers.pop(id(store), []):
            reader.close()
        store.close()
        for suffix in ("", ".wal"):
            Path(f"{store.database}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Close and delete every copy."""
        with self._lock:
            for store in [*self._retired, *([self._current] if self._current else [])]:
                self._close(store)
            self._retired.clear()
            self._current = None
