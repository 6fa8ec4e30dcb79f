"""Staged lines: parsed and normalised for intra-day alerts, not yet committed as a batch.

Committing every few lines would make one Parquet batch per poll (tens of thousands a day
for a trickle, every one of them read by the `events` view). So between commits, new whole
lines are parsed by the same `FilePlan` (split, then the plan's own row SQL) into a temporary
table the alert rules read beside `events`. The commit then ingests the same lines through
`ingest_file` (batch, rejects, resume offset) and drops them from here. A temporary table
lives and dies with the process: after a crash the lines are simply read again from the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from molehunt.ingest.reader import Chunk
from molehunt.ingest.source import FilePlan
from molehunt.store import Store

PENDING_TABLE = "molehunt_watch_pending"
_STAGE_RELATION = "molehunt_watch_stage"


def ensure_pending_table(store: Store) -> None:
    """Create the (connection-local, temporary) table of staged events."""
    store.query(f"CREATE TEMP TABLE IF NOT EXISTS {PENDING_TABLE} AS SELECT * FROM events LIMIT 0")


def stage_chunks(
    store: Store, plan: FilePlan, source_id: int, chunks: Iterator[Chunk]
) -> tuple[int, int]:
    """Parse `chunks` with the file's plan and add their good rows to the staged events.

    Lines the plan rejects are left out here; the commit records them in `rejects`.

    Args:
        store: The workspace.
        plan: The file's plan (the one `ingest_file` uses).
        source_id: The file's source.
        chunks: Whole lines after the committed (or staged) part.

    Returns:
        (offset just past the last staged line, lines staged); (-1, 0) when none.
    """
    end, lines = -1, 0
    for chunk in chunks:
        table, _rejects = plan.split(chunk)
        rows_sql, _ = plan.queries(source_id, _STAGE_RELATION)
        store.register(_STAGE_RELATION, table)
        try:
            store.query(f"INSERT INTO {PENDING_TABLE} {rows_sql}")
        finally:
            store.unregister(_STAGE_RELATION)
        end = chunk.end
        lines += chunk.line_count
    return end, lines


def drop_staged(store: Store, source_id: int, through_line: int | None = None) -> None:
    """Forget staged rows of a source (all, or those up to a committed line).

    Args:
        store: The workspace.
        source_id: The source.
        through_line: Last committed line (None: every staged row of the source).
    """
    if through_line is None:
        store.query(f"DELETE FROM {PENDING_TABLE} WHERE source_id = ?", [source_id])
    else:
        store.query(
            f"DELETE FROM {PENDING_TABLE} WHERE source_id = ? AND source_line <= ?",
            [source_id, through_line],
        )


def resume_point(store: Store, source_id: int) -> tuple[int, int]:
    """Return (bytes_done, lines_done) of a source.

    Args:
        store: The workspace.
        source_id: The source.

    Returns:
        The offset and line number its next ingest resumes after.
    """
    rows = store.query(
        "SELECT bytes_done, lines_done FROM sources WHERE source_id = ?", [source_id]
    )
    return int(rows[0][0]), int(rows[0][1])
