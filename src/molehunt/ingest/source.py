"""Ingest one source file into the store: resumable, batch-atomic, nothing lost.

Every physical data line ends up either as a stored row or as a `rejects` row with its line
number and reason, so `read == stored + rejected` holds per file and per run. Each chunk is
committed in one transaction together with the source's new offset: a killed ingest leaves
whole batches only, and a re-run resumes after the last committed one. A file is recognised
by the hash of its first bytes, so the same file under another path, or a file that grew, is
not ingested twice.
"""

from __future__ import annotations

import datetime
import itertools
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import pyarrow as pa

from molehunt.errors import IngestError
from molehunt.ingest.csv_chunk import LineReject, line_texts
from molehunt.ingest.reader import Chunk, fingerprint, open_binary, read_chunks
from molehunt.ledger import record_batches
from molehunt.store import Store
from molehunt.store.database import Transaction

_T = TypeVar("_T")

Progress = Callable[[Path, int, int], None]
"""progress(path, bytes_done, rows_done): called after every committed chunk."""

_CHUNK_TABLE = "molehunt_chunk"
_REJECT_TABLE = "molehunt_chunk_rejects"


class FilePlan(Protocol):
    """How one recognised file is split and mapped (a CERT layout, JSON Lines, ...)."""

    @property
    def channel(self) -> str:
        """What the file holds (logon, ..., ldap, events)."""

    @property
    def label(self) -> str:
        """Layout label (r4.2, r5.2+, r6.2, cert, jsonl)."""

    @property
    def table(self) -> str:
        """The table its rows go to."""

    @property
    def part(self) -> str:
        """What tells it apart from a same-content file (an LDAP snapshot's month), or ''."""

    @property
    def header_lines(self) -> int:
        """Lines before the first data row."""

    def split(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject]]:
        """Split whole lines into a table with a `_line` column, plus rejected lines."""
        ...  # pragma: no cover - protocol

    def queries(self, source_id: int, relation: str) -> tuple[str, str]:
        """Return (good-rows query, `_line, reason` rejects query) over `relation`."""
        ...  # pragma: no cover - protocol


@dataclass(frozen=True)
class FileReport:
    """What one ingest run did with one file.

    Args:
        path: The file.
        channel: What it holds (logon, device, ..., ldap, events).
        layout: Layout label (r4.2, r5.2+, r6.2, cert, jsonl).
        read: Data lines read in this run.
        stored: Rows stored in this run.
        rejected: Lines rejected in this run.
        status: 'new', 'resumed' (continued or grown) or 'unchanged'.
        skipped: Well-formed lines or records molehunt does not use (read == stored +
            rejected + skipped).
        skip_reasons: (reason, count) for the skipped lines, most frequent first.
        notes: How the file was read where that is a choice (time zone, inferred year).
        source_id: The file's row in `sources` (what `watch` follows it by).
    """

    path: Path
    channel: str
    layout: str
    read: int
    stored: int
    rejected: int
    status: str
    skipped: int = 0
    skip_reasons: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()
    source_id: int = 0


def read_head(path: Path, lines: int = 2, limit: int = 1 << 20) -> list[bytes]:
    """Return up to `lines` first lines of a file (without newlines).

    Raises:
        IngestError: The file is missing, unreadable or empty.
    """
    with open_binary(path) as handle:
        try:
            head = handle.read(limit)
        except OSError as error:
            raise IngestError(f"{path}: cannot read ({error})") from error
    if not head.strip():
        raise IngestError(f"{path}: file is empty; expected a header line and data rows")
    return head.split(b"\n")[:lines]


def _find_source(store: Store, path: Path, kind: str, plan: FilePlan) -> dict[str, object] | None:
    candidates = store.query_dicts(
        "SELECT * FROM sources WHERE kind = ? AND channel = ? AND part = ? ORDER BY source_id",
        [kind, plan.channel, plan.part],
    )
    hashes: dict[int, str] = {}
    for candidate in candidates:
        length = int(str(candidate["prefix_bytes"]))
        if length not in hashes:
            got, digest = fingerprint(path, length)
            hashes[length] = digest if got == length else ""
        if hashes[length] == candidate["prefix_hash"]:
            return candidate
    return None


@dataclass(frozen=True)
class _NewSource:
    """A file's `sources` row, inserted with its first chunk (one commit less per file)."""

    values: tuple[object, ...]

    @property
    def source_id(self) -> int:
        return int(str(self.values[0]))

    @property
    def bytes_done(self) -> int:
        return int(str(self.values[8]))

    @property
    def lines_done(self) -> int:
        return int(str(self.values[9]))

    def insert(self, connection: Transaction) -> None:
        connection.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?)",
            list(self.values),
        )


def _new_source(store: Store, path: Path, kind: str, plan: FilePlan) -> _NewSource:
    length, digest = fingerprint(path)
    header_bytes = 0
    if plan.header_lines:
        header_bytes = len(read_head(path, 1)[0]) + 1
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    # One writer per workspace (DuckDB's lock), and nothing else registers a source between
    # here and the insert: the next id is the one to take.
    source_id = int(store.query("SELECT coalesce(max(source_id), 0) + 1 FROM sources")[0][0])
    values = (source_id, str(path), kind, plan.channel, plan.part, plan.label, length, digest)
    return _NewSource((*values, header_bytes, plan.header_lines, now, now))


ChunkSource = Callable[[Path, int, int], Iterator[Chunk]]
"""chunks(path, start, first_line): the file's chunks from offset `start` (default: its lines)."""


def _line_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    return read_chunks(path, start=start, first_line=first_line)


def ingest_file(
    store: Store,
    path: Path,
    kind: str,
    plan: FilePlan,
    progress: Progress | None = None,
    chunks: ChunkSource | None = None,
    refresh: bool = True,
) -> FileReport:
    """Ingest the part of `path` not yet in the store.

    Args:
        store: The workspace.
        path: The file (plain or gzip).
        kind: 'cert' or 'events'.
        plan: How to split and map its lines.
        progress: Called after every committed chunk.
        chunks: Where the chunks come from (binary formats such as EVTX turn their records
            into one line each); default the file's physical lines.
        refresh: Re-create the `events` view when rows were stored (False: the caller does
            it once after several files).

    Returns:
        Counts for this run; read == stored + rejected + skipped.

    Raises:
        IngestError: The file cannot be read.
    """
    source = _find_source(store, path, kind, plan)
    status = "resumed"
    new: _NewSource | None = None
    if source is None:
        new = _new_source(store, path, kind, plan)
        status = "new"
        source_id, start, next_line = new.source_id, new.bytes_done, new.lines_done + 1
    else:
        source_id = int(str(source["source_id"]))
        start = int(str(source["bytes_done"]))
        next_line = int(str(source["lines_done"])) + 1
    read = stored = rejected = 0
    skip_reasons: Counter[str] = Counter()
    source_chunks = iter((chunks or _line_chunks)(path, start, next_line))
    first = next(source_chunks, None)
    prepared: Iterator[tuple[Chunk, pa.Table, list[LineReject]]]
    if first is None:
        prepared = iter(())
    elif first.is_last:  # one chunk (most small files): nothing to overlap, no thread
        prepared = iter([(first, *plan.split(first))])
    else:
        rest = itertools.chain([first], source_chunks)
        prepared = _prefetch((chunk, *plan.split(chunk)) for chunk in rest)
    for chunk, table, line_rejects in prepared:
        if any(r.skipped for r in line_rejects):
            for skip in line_rejects:
                if skip.skipped:
                    skip_reasons[skip.reason] += skip.count
            line_rejects = [r for r in line_rejects if not r.skipped]
        counts = _commit_chunk(store, path, source_id, plan, chunk, table, line_rejects, new)
        new = None
        read += chunk.line_count
        stored += counts[0]
        rejected += counts[1]
        if progress is not None:
            progress(path, chunk.end, read)
    if new is not None:  # no data lines (a header only): the file is known all the same
        with store.transaction() as connection:
            new.insert(connection)
    if plan.table == "events" and stored:  # no new batch (all skipped, or nothing new): no work
        if refresh:
            store.refresh_events()
        record_batches(store)  # evidence ledger: the new batches' file hashes and row counts
    if status == "resumed" and read == 0:
        status = "unchanged"
    return FileReport(
        path,
        plan.channel,
        plan.label,
        read,
        stored,
        rejected,
        status,
        skipped=sum(skip_reasons.values()),
        skip_reasons=tuple(skip_reasons.most_common()),
        source_id=source_id,
    )


def _prefetch(items: Iterator[_T], depth: int = 1) -> Iterator[_T]:
    """Produce `items` in a background thread, `depth` ahead of the consumer.

    Reading and splitting the next chunk (file I/O, Arrow's parser) overlaps with DuckDB
    writing the current one; both release the GIL, so the two cores are both busy.
    """
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((True, item))
            slots.put((False, None))
        except BaseException as error:  # handed to the consumer, re-raised there
            slots.put((False, error))

    worker = threading.Thread(target=produce, name="molehunt-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            more, item = slots.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def _commit_chunk(
    store: Store,
    path: Path,
    source_id: int,
    plan: FilePlan,
    chunk: Chunk,
    table: pa.Table,
    line_rejects: list[LineReject],
    new: _NewSource | None = None,
) -> tuple[int, int]:
    rows_sql, rejects_sql = plan.queries(source_id, _CHUNK_TABLE)
    store.register(_CHUNK_TABLE, table)
    try:
        with store.transaction() as connection:
            if new is not None:
                new.insert(connection)
            if table.num_rows == 0:  # every line skipped or rejected: no batch to write
                stored = 0
            elif plan.table == "events":
                last_line = chunk.first_line + chunk.line_count - 1
                stored = store.write_batch(
                    rows_sql, source_id, chunk.first_line, last_line, connection
                )
            else:
                inserted = connection.execute(f"INSERT INTO {plan.table} BY NAME {rows_sql}")
                stored = int(inserted[0][0])
            # Reasons are looked up only when rows were held back (rare): clean chunks skip it.
            sql_rejects = connection.execute(rejects_sql) if stored < table.num_rows else []
            if stored + len(sql_rejects) != table.num_rows:  # pragma: no cover - a plan bug
                raise IngestError(
                    f"{path}: {stored} stored + {len(sql_rejects)} rejected rows "
                    f"!= {table.num_rows} split rows"
                )
            raws = line_texts(chunk, [int(line) for line, _ in sql_rejects])
            rejects = [
                *line_rejects,
                *(
                    LineReject(int(line), str(reason), raw)
                    for (line, reason), raw in zip(sql_rejects, raws, strict=True)
                ),
            ]
            _insert_rejects(store, path, source_id, chunk, rejects)
            connection.execute(
                "UPDATE sources SET bytes_done = ?, lines_done = ?, rows_read = rows_read + ?, "
                "rows_stored = rows_stored + ?, rows_rejected = rows_rejected + ?, "
                "last_ingested = now()::TIMESTAMP WHERE source_id = ?",
                [
                    chunk.end,
                    chunk.first_line + chunk.line_count - 1,
                    chunk.line_count,
                    stored,
                    len(rejects),
                    source_id,
                ],
            )
    finally:
        store.unregister(_CHUNK_TABLE)
    return stored, len(rejects)


def _insert_rejects(
    store: Store, path: Path, source_id: int, chunk: Chunk, rejects: list[LineReject]
) -> None:
    if not rejects:
        return
    last_line = chunk.first_line + chunk.line_count - 1
    cut_off = chunk.is_last and not chunk.data.endswith(b"\n")
    reasons = [
        r.reason + " (cut-off last line: no newline at end of file)"
        if cut_off and r.line == last_line
        else r.reason
        for r in rejects
    ]
    table = pa.table(
        {
            "source_id": pa.array([source_id] * len(rejects), pa.int32()),
            "path": pa.array([str(path)] * len(rejects), pa.string()),
            "line": pa.array([r.line for r in rejects], pa.int64()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array([r.raw for r in rejects], pa.string()),
        }
    )
    store.register(_REJECT_TABLE, table)
    try:
        store.query(f"INSERT INTO rejects SELECT * FROM {_REJECT_TABLE}")
    finally:
        store.unregister(_REJECT_TABLE)
