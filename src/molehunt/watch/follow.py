"""Follow growing files (tail -f) and ingest their new complete lines with the batch ingest.

A followed file is ingested by `molehunt.ingest.source.ingest_file`, the code `molehunt ingest`
runs: the same parsers, the same `rejects` with file:line and reason, the same resumable
offsets and `read = stored + rejected (+ skipped)` per source. Only the chunk source differs:
it stops at the last newline, so a line still being written waits for its end.

Rotation (the path now names another file) and truncation (the file shrank below what was
read) are detected and reported as `Notice`s. Before following the new file, the rest of a
rotated file is read when it is still found in its folder under another name (`app.log` ->
`app.log.1`): the store recognises it by its first bytes and resumes where it stopped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from molehunt.errors import IngestError
from molehunt.ingest.cert import plan_cert_file
from molehunt.ingest.jsonl import JsonLinesPlan
from molehunt.ingest.reader import Chunk, is_gzip, read_chunks
from molehunt.ingest.source import ChunkSource, FilePlan, FileReport, ingest_file
from molehunt.store import Store
from molehunt.watch.pending import drop_staged, resume_point, stage_chunks

# At most this much of one file is read per poll, so alerts and day closes interleave with a
# large backlog instead of waiting for all of it.
DEFAULT_POLL_BYTES = 64 * 1024 * 1024
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
STAGE_LIMIT_BYTES = 1024 * 1024  # more new bytes than this in one poll are committed at once
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Notice:
    """Something the user should know about a followed input (rotation, truncation, ...).

    Args:
        path: The input.
        kind: 'rotated', 'truncated', 'missing', 'late' or 'closed'.
        message: One line saying what happened and what molehunt did.
    """

    path: str
    kind: str
    message: str


NoticeSink = Callable[[Notice], None]


def kind_of(path: Path) -> str:
    """Return the ingest kind of a followed file from its name: 'events' or 'cert'.

    Args:
        path: The file.

    Returns:
        'events' for JSON Lines (.jsonl, .ndjson, .json), 'cert' for CSV.

    Raises:
        IngestError: The name is neither (watch cannot guess the format of a growing file).
    """
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "events"
    if name.endswith(".csv"):
        return "cert"
    raise IngestError(
        f"{path}: cannot follow this file; expected a CERT .csv file or a JSON Lines "
        f"file ({', '.join(JSONL_SUFFIXES)})"
    )


def complete_lines(
    limit: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES, end: int | None = None
) -> ChunkSource:
    """Return a chunk source that yields whole lines only, at most about `limit` bytes.

    Args:
        limit: Stop after the chunk that passes this many bytes.
        chunk_bytes: Size of each chunk.
        end: Stop after the chunk that reaches this offset (the file's size when polled).
            Without it, a file written faster than one chunk is processed is chased chunk
            after chunk (a read at the end of a growing file returns what was appended
            since), and the poll does not return while the writer writes.

    Returns:
        A `ChunkSource` for `ingest_file`.
    """

    def chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
        done = 0
        for chunk in read_chunks(path, start=start, first_line=first_line, chunk_bytes=chunk_bytes):
            if not chunk.data.endswith(b"\n"):
                return  # a line still being written: read it once it is whole
            yield chunk
            done += len(chunk.data)
            if done >= limit or (end is not None and chunk.end >= end):
                return

    return chunks


@dataclass
class FollowedFile:
    """One followed path: its identity, its plan and what was committed and staged of it.

    Args:
        path: The path given on the command line.
        kind: 'cert' or 'events'.
    """

    path: Path
    kind: str
    plan: FilePlan | None = None
    identity: tuple[int, int] | None = None  # (device, inode) of the file being read
    size: int = 0
    done: int = 0  # bytes committed of the current file
    source_id: int | None = None  # its source, once registered by a first commit
    staged_end: int = 0  # bytes parsed into the staged events (>= done)
    staged_line: int = 0  # last line staged
    done_line: int = 0  # last line committed
    staged_since: float | None = None  # when the oldest staged line was read
    missing_reported: bool = False
    arrived: int = 0  # bytes there to read at the last poll (0 when the file was missing)
    reports: list[FileReport] = field(default_factory=list)

    @property
    def staged_bytes(self) -> int:
        """Bytes read but not yet committed."""
        return max(0, self.staged_end - self.done)

    @property
    def staged_lines(self) -> int:
        """Lines read (and seen by the alert rules) but not yet committed."""
        return max(0, self.staged_line - self.done_line)

    def catching_up(self, margin: int) -> bool:
        """Tell whether the last poll found a backlog: at least `STAGE_LIMIT_BYTES` to read (a
        burst, a replay, a restart), or more than `margin` bytes it did not read."""
        return self.arrived >= STAGE_LIMIT_BYTES or self.behind(margin)

    def behind(self, margin: int) -> bool:
        """Tell whether more than `margin` bytes were there at the last poll but not read."""
        return self.size - max(self.done, self.staged_end) > margin

    def poll(
        self,
        store: Store,
        notify: NoticeSink,
        limit: int = DEFAULT_POLL_BYTES,
        *,
        commit: bool = True,
        now: float = 0.0,
        commit_bytes: int = 0,
    ) -> tuple[FileReport | None, int]:
        """Take what was appended since the last poll (whole lines only).

        Args:
            store: The workspace.
            notify: Receives rotation, truncation and missing-file notices.
            limit: Read at most about this many bytes now.
            commit: Commit (ingest) everything read; otherwise new lines are only staged
                (parsed for the alert rules), except a file's first lines, which register it.
            now: The watcher's clock, remembered for the oldest staged line.
            commit_bytes: Commit anyway when at least this much is new (a backlog).

        Returns:
            (what a commit ingested or None, the first line newly staged or 0).

        Raises:
            IngestError: The file became unreadable or its header is not recognised.
        """
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.arrived = 0
            if not self.missing_reported:
                self.missing_reported = True
                notify(Notice(str(self.path), "missing", f"{self.path}: not there (yet); waiting"))
            return None, 0
        self.missing_reported = False
        identity = (stat.st_dev, stat.st_ino)
        if self.identity is not None and identity != self.identity:
            self._rotated(store, notify, stat.st_size)
        elif self.identity is not None and stat.st_size < max(self.done, self.staged_end):
            self._truncated(store, notify, stat.st_size)
        self.identity, self.size = identity, stat.st_size
        self.arrived = max(0, stat.st_size - max(self.done, self.staged_end))
        has_new = stat.st_size > max(self.done, self.staged_end)
        if not has_new and not (commit and self.staged_bytes):
            return None, 0
        if self.plan is None and not self._make_plan():
            return None, 0
        backlog = commit_bytes and stat.st_size - self.done >= commit_bytes
        # A burst is committed at once: it makes a batch of a decent size by itself, and
        # staging it first would parse it twice.
        burst = stat.st_size - max(self.done, self.staged_end) >= STAGE_LIMIT_BYTES
        if commit or backlog or burst or self.source_id is None:
            unknown = self.source_id is None
            report = self._commit(store, limit, stat.st_size)
            if unknown:  # where the file stood was known only now: what is left is the backlog
                self.arrived = max(0, stat.st_size - max(self.done, self.staged_end))
            return report, 0
        first = self.staged_line + 1
        end, lines = stage_chunks(
            store,
            self.plan,  # type: ignore[arg-type]
            self.source_id,
            complete_lines(limit, end=stat.st_size)(self.path, self.staged_end, first),
        )
        if not lines:
            return None, 0
        self.staged_line += lines
        self.staged_end = end
        if self.staged_since is None:
            self.staged_since = now
        return None, first

    def _commit(self, store: Store, limit: int, end: int) -> FileReport | None:
        assert self.plan is not None
        chunks = complete_lines(limit, end=end)
        report = ingest_file(store, self.path, self.kind, self.plan, chunks=chunks)
        self._resume_point(store, report.source_id)
        if self.source_id is not None:
            kept = self.staged_end > self.done  # staged beyond what this commit reached
            drop_staged(store, self.source_id, self.done_line if kept else None)
        if self.staged_end <= self.done:
            self.staged_since = None
        if report.read == 0:
            return None
        self.reports.append(report)
        return report

    def _resume_point(self, store: Store, source_id: int) -> None:
        """Where the store stands on the current file (found by content, not by path)."""
        done, lines = resume_point(store, source_id)
        self.source_id, self.done, self.done_line = source_id, done, lines
        if self.staged_end <= done:
            self.staged_end, self.staged_line = done, lines

    def _make_plan(self) -> bool:
        """Plan the file once its first whole lines are there (a header alone is not enough)."""
        with self.path.open("rb") as handle:
            head = handle.read(1 << 20)
        if head[:2] == b"\x1f\x8b" or is_gzip(self.path):
            raise IngestError(f"{self.path}: gzip files cannot be followed; expected plain text")
        needed = 2 if self.kind == "cert" else 1
        if head.count(b"\n") < needed:
            return False
        self.plan = plan_cert_file(self.path) if self.kind == "cert" else JsonLinesPlan()
        return True

    def _forget(self, store: Store) -> None:
        """Start over on a new file at the same path (its staged rows are dropped)."""
        if self.source_id is not None:
            drop_staged(store, self.source_id)
        self.plan, self.source_id, self.done, self.size = None, None, 0, 0
        self.staged_end, self.staged_line, self.staged_since, self.done_line = 0, 0, None, 0

    def _truncated(self, store: Store, notify: NoticeSink, new_size: int) -> None:
        lost = max(0, self.size - self.done)
        notify(
            Notice(
                str(self.path),
                "truncated",
                f"{self.path}: truncated to {new_size:,} bytes after {self.done:,} were "
                f"committed ({lost:,} bytes read or written since are lost); following the new "
                "content as a new source",
            )
        )
        self._forget(store)

    def _rotated(self, store: Store, notify: NoticeSink, new_size: int) -> None:
        """Read the rest of the replaced file if it is still in the folder, then start over."""
        old = self._find_renamed()
        drained = ""
        if old is not None and self.plan is not None:
            report = ingest_file(store, old, self.kind, self.plan, chunks=complete_lines(1 << 62))
            self.reports.append(report)
            drained = f"; read its last {report.read:,} lines as {old.name}"
        elif self.size > self.done:
            drained = (
                f"; {self.size - self.done:,} uncommitted bytes of the old file were not found"
            )
        notify(
            Notice(
                str(self.path),
                "rotated",
                f"{self.path}: replaced by a new file ({new_size:,} bytes){drained}; following "
                "the new file",
            )
        )
        self._forget(store)

    def _find_renamed(self) -> Path | None:
        """The file that was at `path` before rotation, if it is still in the same folder."""
        if self.identity is None:
            return None
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return None
        for entry in entries:
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) == self.identity and entry.path != str(self.path):
                return Path(entry.path)
        return None
