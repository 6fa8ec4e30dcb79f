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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import pyarrow as pa

from molehunt.errors import IngestError
from molehunt.ingest.arrays import numbers, strings
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject, line_texts
from molehunt.ingest.reader import (
    PREFIX_BYTES,
    Chunk,
    fingerprint,
    open_binary,
    read_chunks,
    read_prefix,
)
from molehunt.ledger import record_ingested
from molehunt.store import Store
from molehunt.store.database import Transaction

_T = TypeVar("_T")

Progress = Callable[[Path, int, int], None]
"""progress(path, bytes_done, rows_done): called after every committed chunk."""

_CHUNK_TABLE = "molehunt_chunk"
_REJECT_TABLE = "molehunt_chunk_rejects"
_APART_TABLE = "molehunt_chunk_apart"
APART_COLUMNS = ("_kind", "_reason")
"""A kept-apart record's kind (machine, service) and skip reason, after its event fields."""


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
        kept_apart: How many of the skipped records (machine and service accounts) this run
            stored in `account_events` (`LogPlan.split_apart`).
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
    kept_apart: int = 0


Split = tuple[pa.Table, list[LineReject], pa.Table | None]
"""A split chunk: rows, rejects and counted skips, kept-apart records (or None)."""


def _split(plan: FilePlan, chunk: Chunk) -> Split:
    """Split a chunk; a plan with `split_apart` (log formats) also gives the records of
    machine and service accounts it counted as skipped, to be kept apart."""
    split_apart = getattr(plan, "split_apart", None)
    if split_apart is not None:
        table, rejects, apart = split_apart(chunk)
        return table, rejects, apart
    table, rejects = plan.split(chunk)
    return table, rejects, None


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


def _next_source_id(store: Store) -> int:
    # One writer per workspace (DuckDB's lock), and nothing else registers a source between
    # here and the insert: the next id is the one to take.
    return int(store.query("SELECT coalesce(max(source_id), 0) + 1 FROM sources")[0][0])


def _new_source(
    store: Store, path: Path, kind: str, plan: FilePlan, source_id: int | None = None
) -> _NewSource:
    length, digest = fingerprint(path)
    header_bytes = 0
    if plan.header_lines:
        header_bytes = len(read_head(path, 1)[0]) + 1
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    if source_id is None:
        source_id = _next_source_id(store)
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
    record: bool = True,
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
        record: Record the new batches in the evidence ledger (False: the caller does it
            once after several files, before it returns).

    Returns:
        Counts for this run; read == stored + rejected + skipped.

    Raises:
        IngestError: The file cannot be read.
    """
    opened = _open_source(store, path, kind, plan)
    source_chunks = iter((chunks or _line_chunks)(path, opened.start, opened.next_line))
    report = _ingest_chunks(store, path, plan, opened, source_chunks, progress)
    batches = plan.table == "events" and report.stored  # no new batch: no work
    if batches and refresh:
        store.refresh_events()
    if record and (batches or report.kept_apart):
        # Evidence ledger: the new batches' file hashes and row counts, and the machine and
        # service accounts' new rows, in one append.
        record_ingested(store, accounts=report.kept_apart > 0)
    return report


@dataclass(frozen=True)
class _Opened:
    """Where an ingest of one file starts: its source (new or found) and resume point."""

    source_id: int
    start: int
    next_line: int
    status: str
    new: _NewSource | None
    head: bytes  # the bytes its source is recognised by (`prefix_bytes` of them)


class _SourceIndex:
    """The sources of one kind, read once for several files (`ingest_files`).

    A query per file was a large part of a small file's cost. Sources this index gave out
    (resumed or new) are read again when a later file turns out to be the same one.
    """

    def __init__(self, store: Store, kind: str) -> None:
        self.store = store
        self.rows = store.query_dicts(
            "SELECT * FROM sources WHERE kind = ? ORDER BY source_id", [kind]
        )
        self.next_id = _next_source_id(store)
        self.touched: set[int] = set()
        self.added: list[tuple[str, str, bytes, int]] = []  # channel, part, head, id

    def find(self, path: Path, plan: FilePlan) -> dict[str, object] | None:
        """The file's source, as `_find_source` finds it."""
        hashes: dict[int, str] = {}
        for candidate in self.rows:
            if (candidate["channel"], candidate["part"]) != (plan.channel, plan.part):
                continue
            length = int(str(candidate["prefix_bytes"]))
            if length not in hashes:
                got, digest = fingerprint(path, length)
                hashes[length] = digest if got == length else ""
            if hashes[length] == candidate["prefix_hash"]:
                source_id = int(str(candidate["source_id"]))
                return self._current(source_id) if source_id in self.touched else candidate
        if self.added:
            head = read_prefix(path)
            for channel, part, prefix, source_id in self.added:
                if (channel, part) == (plan.channel, plan.part) and head.startswith(prefix):
                    return self._current(source_id)
        return None

    def _current(self, source_id: int) -> dict[str, object] | None:
        rows = self.store.query_dicts("SELECT * FROM sources WHERE source_id = ?", [source_id])
        return rows[0] if rows else None


def _open_source(
    store: Store, path: Path, kind: str, plan: FilePlan, index: _SourceIndex | None = None
) -> _Opened:
    """Find the file's source (through `index`, if given), or make a new one."""
    source = _find_source(store, path, kind, plan) if index is None else index.find(path, plan)
    if source is None:
        new = _new_source(store, path, kind, plan, None if index is None else index.next_id)
        head = read_prefix(path, int(str(new.values[6])))
        if index is not None:
            index.next_id += 1
            index.added.append((plan.channel, plan.part, head, new.source_id))
        return _Opened(new.source_id, new.bytes_done, new.lines_done + 1, "new", new, head)
    if index is not None:
        index.touched.add(int(str(source["source_id"])))
    return _Opened(
        int(str(source["source_id"])),
        int(str(source["bytes_done"])),
        int(str(source["lines_done"])) + 1,
        "resumed",
        None,
        read_prefix(path, int(str(source["prefix_bytes"]))),
    )


def _ingest_chunks(
    store: Store,
    path: Path,
    plan: FilePlan,
    opened: _Opened,
    source_chunks: Iterator[Chunk],
    progress: Progress | None,
    first: Chunk | None = None,
) -> FileReport:
    """Split and commit the file's chunks, one transaction each (`first`: already read)."""
    read = stored = rejected = kept = 0
    skip_reasons: Counter[str] = Counter()
    new = opened.new
    if first is None:
        first = next(source_chunks, None)
    prepared: Iterator[tuple[Chunk, pa.Table, list[LineReject], pa.Table | None]]
    if first is None:
        prepared = iter(())
    elif first.is_last:  # one chunk (most small files): nothing to overlap, no thread
        prepared = iter([(first, *_split(plan, first))])
    else:
        rest = itertools.chain([first], source_chunks)
        prepared = _prefetch((chunk, *_split(plan, chunk)) for chunk in rest)
    for chunk, table, line_rejects, apart in prepared:
        line_rejects = _count_skips(line_rejects, skip_reasons)
        counts = _commit_chunk(
            store, path, opened.source_id, plan, chunk, (table, line_rejects, apart), new
        )
        new = None
        read += chunk.line_count
        stored += counts[0]
        rejected += counts[1]
        kept += counts[2]
        if progress is not None:
            progress(path, chunk.end, read)
    if new is not None:  # no data lines (a header only): the file is known all the same
        with store.transaction() as connection:
            new.insert(connection)
    return _file_report(path, plan, opened, (read, stored, rejected, kept), skip_reasons)


def _file_report(
    path: Path,
    plan: FilePlan,
    opened: _Opened,
    counts: tuple[int, int, int, int],
    skip_reasons: Counter[str],
) -> FileReport:
    read, stored, rejected, kept = counts
    status = "unchanged" if opened.status == "resumed" and read == 0 else opened.status
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
        source_id=opened.source_id,
        kept_apart=kept,
    )


def _count_skips(line_rejects: list[LineReject], skip_reasons: Counter[str]) -> list[LineReject]:
    """Count the skips into `skip_reasons`; return the rejects (skips are not stored)."""
    if not any(r.skipped for r in line_rejects):
        return line_rejects
    for skip in line_rejects:
        if skip.skipped:
            skip_reasons[skip.reason] += skip.count
    return [r for r in line_rejects if not r.skipped]


@dataclass(frozen=True)
class FileJob:
    """One file for `ingest_files`: its path, plan and chunk source (None: its lines)."""

    path: Path
    plan: FilePlan
    chunks: ChunkSource | None = None


GROUP_LINES = 20_000
"""Small files (one chunk each) commit together until their lines reach this many."""
GROUP_BYTES = 32 << 20
"""... or their bytes this many (what a group holds in memory until its commit)."""


@dataclass(frozen=True)
class _Pending:
    """A small file split and waiting for its group's commit."""

    path: Path
    plan: FilePlan
    opened: _Opened
    chunk: Chunk | None
    table: pa.Table | None
    rejects: list[LineReject]
    skip_reasons: Counter[str]
    apart: pa.Table | None = None


def ingest_files(
    store: Store,
    jobs: Iterable[FileJob],
    kind: str,
    progress: Progress | None = None,
) -> list[FileReport]:
    """Ingest several files; files of one chunk each commit together in one transaction.

    A commit is a WAL sync, and a small file (an EVTX export of a few hundred records) costs
    little else: so consecutive one-chunk files are split first and committed as one group
    (at most GROUP_LINES lines or GROUP_BYTES bytes), each still with its own `sources` row,
    batch and rejects. A group commits whole or not at all, so a killed ingest resumes as
    after any chunk: the files of a group not committed are read again from their start.
    Larger files go chunk by chunk as in `ingest_file`. The new batches are recorded in the
    evidence ledger once, before this returns; the caller re-creates the `events` view.

    Args:
        store: The workspace.
        jobs: The files, in order (their reports come back in the same order).
        kind: The sources' kind ('logs').
        progress: Called after every committed chunk (a group: once per file).

    Returns:
        One report per job; read == stored + rejected + skipped per file.

    Raises:
        IngestError: A file cannot be read.
    """
    reports: list[FileReport] = []
    group: list[_Pending] = []
    index = _SourceIndex(store, kind)

    def commit_group() -> None:
        if group:
            reports.extend(_commit_group(store, group, progress))
            group.clear()

    for job in jobs:
        if group:
            head = read_prefix(job.path, PREFIX_BYTES)
            if any(_same_source(head, job.plan, pending) for pending in group):
                commit_group()  # the same file twice: the second sees what the first committed
        opened = _open_source(store, job.path, kind, job.plan, index)
        chunks = (job.chunks or _line_chunks)(job.path, opened.start, opened.next_line)
        source_chunks = iter(chunks)
        first = next(source_chunks, None)
        if first is not None and not first.is_last:
            commit_group()
            reports.append(
                _ingest_chunks(store, job.path, job.plan, opened, source_chunks, progress, first)
            )
            continue
        skip_reasons: Counter[str] = Counter()
        table: pa.Table | None = None
        rejects: list[LineReject] = []
        apart: pa.Table | None = None
        if first is not None:
            table, line_rejects, apart = _split(job.plan, first)
            rejects = _count_skips(line_rejects, skip_reasons)
        pending = _Pending(job.path, job.plan, opened, first, table, rejects, skip_reasons, apart)
        group.append(pending)
        lines = sum(p.chunk.line_count for p in group if p.chunk is not None)
        size = sum(len(p.chunk.data) for p in group if p.chunk is not None)
        if lines >= GROUP_LINES or size >= GROUP_BYTES:
            commit_group()
    commit_group()
    accounts = any(report.kept_apart for report in reports)
    if accounts or any(report.stored for report in reports):
        # Evidence ledger: every new batch and account row, before the command returns.
        record_ingested(store, accounts=accounts)
    return reports


def _same_source(head: bytes, plan: FilePlan, pending: _Pending) -> bool:
    """Whether a file starting with `head` is the pending file's source (`_find_source`)."""
    if (plan.channel, plan.part) != (pending.plan.channel, pending.plan.part):
        return False
    return head.startswith(pending.opened.head)


def _commit_group(
    store: Store, group: list[_Pending], progress: Progress | None
) -> list[FileReport]:
    """Commit a group of split one-chunk files in one transaction; their reports.

    Files whose plan can write together (`group_queries`: every log format) share one COPY,
    one `batches` insert, one `rejects` insert and one `sources` insert; others are written
    one by one as `_write_chunk` does, in the same transaction.
    """
    counts: dict[int, tuple[int, int, int, int]] = {}
    with store.transaction() as connection:
        together: dict[tuple[str, str], list[int]] = {}
        for index, pending in enumerate(group):
            chunk, opened = pending.chunk, pending.opened
            group_queries = getattr(pending.plan, "group_queries", None)
            if chunk is not None and pending.table is not None and group_queries is not None:
                key = group_queries(_CHUNK_TABLE, _SOURCE_COLUMN)
                together.setdefault(key, []).append(index)
            elif chunk is None or pending.table is None:
                if opened.new is not None:  # no data lines: the file is known all the same
                    opened.new.insert(connection)
                counts[index] = (0, 0, 0, 0)
            else:
                stored, rejected, kept = _write_chunk(
                    store,
                    connection,
                    pending.path,
                    opened.source_id,
                    pending.plan,
                    chunk,
                    (pending.table, pending.rejects, pending.apart),
                    opened.new,
                )
                counts[index] = (chunk.line_count, stored, rejected, kept)
        for queries, members in together.items():
            written = _write_together(store, connection, queries, [group[i] for i in members])
            counts.update(zip(members, written, strict=True))
    reports = []
    for index, pending in enumerate(group):
        count = counts[index]
        if progress is not None and pending.chunk is not None:
            progress(pending.path, pending.chunk.end, count[0])
        reports.append(
            _file_report(pending.path, pending.plan, pending.opened, count, pending.skip_reasons)
        )
    return reports


_SOURCE_COLUMN = "_source"


def _write_together(
    store: Store, connection: Transaction, queries: tuple[str, str], members: list[_Pending]
) -> list[tuple[int, int, int, int]]:
    """Write several one-chunk files with set-based statements; (read, stored, rejected,
    kept apart) each.

    The same rows, batches, rejects, kept-apart rows and `sources` rows as `_write_chunk`
    file by file.
    """
    rows_sql, rejects_sql = queries
    tables = []
    for pending in members:
        assert pending.table is not None
        column = numbers(np.full(pending.table.num_rows, pending.opened.source_id), "int32")
        tables.append(pending.table.append_column(_SOURCE_COLUMN, column))
    table = pa.concat_tables(tables, promote_options="permissive")
    lines = {}
    for pending in members:
        assert pending.chunk is not None
        last_line = pending.chunk.first_line + pending.chunk.line_count - 1
        lines[pending.opened.source_id] = (pending.chunk.first_line, last_line)
    store.register(_CHUNK_TABLE, table)
    try:
        stored = store.write_batches(rows_sql, lines, connection) if table.num_rows else {}
        held: dict[int, list[tuple[int, str]]] = {}
        if sum(stored.values()) < table.num_rows:  # reasons only when rows were held back
            for source_id, line, reason in connection.execute(rejects_sql):
                held.setdefault(int(source_id), []).append((int(line), str(reason)))
    finally:
        store.unregister(_CHUNK_TABLE)
    counts = []
    rejected: list[tuple[Path, int, Chunk, list[LineReject]]] = []
    for pending in members:
        source_id, chunk = pending.opened.source_id, pending.chunk
        assert chunk is not None and pending.table is not None
        sql_rejects = held.get(source_id, [])
        kept = stored.get(source_id, 0)
        if kept + len(sql_rejects) != pending.table.num_rows:  # pragma: no cover - a plan bug
            raise IngestError(
                f"{pending.path}: {kept} stored + {len(sql_rejects)} rejected rows "
                f"!= {pending.table.num_rows} split rows"
            )
        raws = line_texts(chunk, [line for line, _ in sql_rejects])
        rejects = [
            *pending.rejects,
            *(
                LineReject(line, reason, raw)
                for (line, reason), raw in zip(sql_rejects, raws, strict=True)
            ),
        ]
        rejected.append((pending.path, source_id, chunk, rejects))
        counts.append((chunk.line_count, kept, len(rejects)))
    _insert_all_rejects(store, rejected)
    _record_sources(connection, members, counts)
    apart = _insert_apart_together(store, connection, members)
    return [
        (*count, apart.get(p.opened.source_id, 0)) for count, p in zip(counts, members, strict=True)
    ]


def _insert_apart_together(
    store: Store, connection: Transaction, members: list[_Pending]
) -> dict[int, int]:
    """Insert the kept-apart records of several one-chunk files; how many per source."""
    tables = []
    for pending in members:
        if pending.apart is not None and pending.apart.num_rows:
            column = numbers(np.full(pending.apart.num_rows, pending.opened.source_id), "int32")
            tables.append(pending.apart.append_column(_SOURCE_COLUMN, column))
    if not tables:
        return {}
    group_queries = getattr(members[0].plan, "group_queries")  # noqa: B009 - a log plan's
    rows_sql, _ = group_queries(_APART_TABLE, _SOURCE_COLUMN)
    table = pa.concat_tables(tables, promote_options="permissive")
    join = f'r.source_id = a."{_SOURCE_COLUMN}" AND r.source_line = a."{LINE_COLUMN}"'
    returned = _insert_apart(store, connection, rows_sql, table, join)
    return dict(Counter(int(str(source_id)) for (source_id,) in returned))


def _insert_apart(
    store: Store, connection: Transaction, rows_sql: str, table: pa.Table, join: str
) -> list[tuple[object, ...]]:
    """Insert kept-apart records into `account_events` through the plan's row SQL (`rows_sql`
    over `_APART_TABLE`: cast and checked as events are; a row it holds back is not kept, and
    stays counted as skipped), with their kind and reason; the source id of each row."""
    store.register(_APART_TABLE, table)
    try:
        return connection.execute(
            f'INSERT INTO account_events BY NAME SELECT r.*, a."{APART_COLUMNS[0]}" AS kind, '
            f'a."{APART_COLUMNS[1]}" AS reason FROM ({rows_sql}) r JOIN {_APART_TABLE} a '
            f"ON {join} RETURNING source_id"
        )
    finally:
        store.unregister(_APART_TABLE)


def _record_sources(
    connection: Transaction, members: list[_Pending], counts: list[tuple[int, int, int]]
) -> None:
    """Insert the new sources with their final offsets and counts; update the others."""
    values: list[object] = []
    for pending, (read, stored, rejected) in zip(members, counts, strict=True):
        chunk, new = pending.chunk, pending.opened.new
        assert chunk is not None
        done = (chunk.end, chunk.first_line + chunk.line_count - 1)
        if new is None:
            connection.execute(
                "UPDATE sources SET bytes_done = ?, lines_done = ?, rows_read = rows_read + ?, "
                "rows_stored = rows_stored + ?, rows_rejected = rows_rejected + ?, "
                "last_ingested = now()::TIMESTAMP WHERE source_id = ?",
                [*done, read, stored, rejected, pending.opened.source_id],
            )
            continue
        values += [*new.values[:8], *done, read, stored, rejected, *new.values[10:]]
    if values:
        rows = len(values) // 15
        placeholders = ", ".join(["(" + ", ".join(["?"] * 15) + ")"] * rows)
        connection.execute(f"INSERT INTO sources VALUES {placeholders}", values)


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
    split: Split,
    new: _NewSource | None = None,
) -> tuple[int, int, int]:
    with store.transaction() as connection:
        return _write_chunk(store, connection, path, source_id, plan, chunk, split, new)


def _write_chunk(
    store: Store,
    connection: Transaction,
    path: Path,
    source_id: int,
    plan: FilePlan,
    chunk: Chunk,
    split: Split,
    new: _NewSource | None = None,
) -> tuple[int, int, int]:
    """Write one split chunk inside the open transaction: rows, rejects, kept-apart records,
    the new offset; (stored, rejected, kept apart)."""
    table, line_rejects, apart = split
    rows_sql, rejects_sql = plan.queries(source_id, _CHUNK_TABLE)
    store.register(_CHUNK_TABLE, table)
    try:
        if new is not None:
            new.insert(connection)
        if table.num_rows == 0:  # every line skipped or rejected: no batch to write
            stored = 0
        elif plan.table == "events":
            last_line = chunk.first_line + chunk.line_count - 1
            stored = store.write_batch(rows_sql, source_id, chunk.first_line, last_line, connection)
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
        kept = 0
        if apart is not None and apart.num_rows:
            apart_sql, _ = plan.queries(source_id, _APART_TABLE)
            join = f'r.source_line = a."{LINE_COLUMN}"'
            kept = len(_insert_apart(store, connection, apart_sql, apart, join))
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
    return stored, len(rejects), kept


def _insert_rejects(
    store: Store, path: Path, source_id: int, chunk: Chunk, rejects: list[LineReject]
) -> None:
    _insert_all_rejects(store, [(path, source_id, chunk, rejects)])


def _insert_all_rejects(
    store: Store, files: list[tuple[Path, int, Chunk, list[LineReject]]]
) -> None:
    """Insert the rejects of one chunk of each of several files, in one statement."""
    source_ids: list[int] = []
    paths: list[str] = []
    reasons: list[str] = []
    for path, source_id, chunk, rejects in files:
        last_line = chunk.first_line + chunk.line_count - 1
        cut_off = chunk.is_last and not chunk.data.endswith(b"\n")
        reasons += [
            r.reason + " (cut-off last line: no newline at end of file)"
            if cut_off and r.line == last_line
            else r.reason
            for r in rejects
        ]
        source_ids += [source_id] * len(rejects)
        paths += [str(path)] * len(rejects)
    if not reasons:
        return
    every = [reject for *_, rejects in files for reject in rejects]
    table = pa.table(
        {
            "source_id": numbers(source_ids, "int32"),
            "path": strings(paths),
            "line": numbers([r.line for r in every]),
            "reason": strings(reasons),
            "raw": strings([r.raw for r in every]),
        }
    )
    store.register(_REJECT_TABLE, table)
    try:
        store.query(f"INSERT INTO rejects SELECT * FROM {_REJECT_TABLE}")
    finally:
        store.unregister(_REJECT_TABLE)
