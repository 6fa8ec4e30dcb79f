"""What the ledger records: event batches, each day's scores, marked copies.

    batch        {"kind": "batch", "subject": "<batch id>", "file": ..., "sha256": <of the
                  Parquet file's bytes>, "rows": ..., "source_id": ..., "first_line": ...,
                  "last_line": ...}
    score_day    {"kind": "score_day", "subject": "<YYYY-MM-DD>", "rows": ..., "columns": [...],
                  "sha256": <of the day's canonical score rows>}
    marked_copy  {"kind": "marked_copy", "subject": "<mark id>", "doc_id": ..., "recipient": ...,
                  "issued": ..., "file_name": ..., "sha256": <of the copy's bytes>}
    account_rows {"kind": "account_rows", "subject": "<source id>:<first line>-<last line>",
                  "source_id": ..., "first_line": ..., "last_line": ..., "rows": ...,
                  "columns": [...], "sha256": <of those canonical `account_events` rows>}

A day's canonical score rows are its rows of `scores`, each rendered as the recorded columns
cast to text (NULL as `\\N`) joined by tabs, sorted, joined by newlines. A later entry for the
same day (a detection run that recomputed it) supersedes an earlier one; the history stays in
the log. Batches are immutable and recorded once.

Records of machine and service accounts (`account_events`, kept apart from people's events)
are rows of the database, not files: each ingest records the rows it added, per source, as
the range of source lines they came from, hashed like score rows (sorted canonical rows).
A source's lines only grow (a resumed or followed file goes on after its last commit), so
each entry covers lines after the source's previous one.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from molehunt.ledger.log import append_entries, read_entries, require_ledger
from molehunt.store import Store
from molehunt.store.database import EVENTS_DIR, WORKBENCH_FILE, WORKBENCH_SCHEMA

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in 1 MB blocks.

    Args:
        path: The file.

    Returns:
        The digest.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def unreadable_batch_files(root: Path) -> list[str]:
    """Name the Parquet batch files that cannot even be read (damaged footer or header).

    Used when the workspace cannot be opened at all, to say which file was damaged.

    Args:
        root: The workspace folder.

    Returns:
        Relative names of the damaged files, sorted.
    """
    import pyarrow.parquet as pq

    damaged = []
    for path in sorted((root / EVENTS_DIR).glob("batch-*.parquet")):
        try:
            pq.read_metadata(path)
        except (OSError, ValueError):
            damaged.append(f"{EVENTS_DIR}/{path.name}")
    return damaged


def recorded(store: Store, kind: str) -> dict[str, dict[str, Any]]:
    """Return the latest recorded fields per subject of one kind (with `index` added).

    Args:
        store: The workspace.
        kind: batch, score_day or marked_copy.

    Returns:
        subject -> fields of its latest entry.
    """
    latest: dict[str, dict[str, Any]] = {}
    for entry in read_entries(store):
        if entry.kind == kind:
            latest[entry.subject] = entry.fields() | {"index": entry.index}
    return latest


def batch_fields(store: Store, row: tuple[Any, ...]) -> dict[str, Any]:
    """Return a batch entry's fields for a `batches` row (hashing its Parquet file)."""
    batch_id, source_id, file_name, first_line, last_line, rows = row
    return {
        "kind": "batch",
        "subject": str(batch_id),
        "file": str(file_name),
        "sha256": file_sha256(store.root / str(file_name)),
        "rows": int(rows),
        "source_id": int(source_id),
        "first_line": int(first_line),
        "last_line": int(last_line),
    }


BATCH_COLUMNS = "batch_id, source_id, file_name, first_line, last_line, rows_stored"


def record_batches(store: Store) -> int:
    """Record every committed event batch the ledger does not hold yet.

    Called at the end of each ingested file, so a batch is recorded right after its commit.

    Args:
        store: The workspace.

    Returns:
        The number of entries added.
    """
    require_ledger(store)
    return len(append_entries(store, _batch_items(store)))


def record_ingested(store: Store, accounts: bool = True) -> int:
    """Record what an ingest committed: the new event batches and (with `accounts`) the
    machine and service accounts' new rows, in one append (one checkpoint).

    Args:
        store: The workspace.
        accounts: Whether the ingest kept account rows apart (else they are not looked for).

    Returns:
        The number of entries added.
    """
    require_ledger(store)
    items = _batch_items(store) + (_account_items(store) if accounts else [])
    return len(append_entries(store, items))


def _batch_items(store: Store) -> list[dict[str, Any]]:
    # Only the batches no entry names, found in SQL: reading (and parsing) every entry, as
    # `recorded` does, cost more the longer the ledger, and this runs after every file.
    rows = store.query(
        f"SELECT {BATCH_COLUMNS} FROM batches WHERE CAST(batch_id AS VARCHAR) NOT IN "
        "(SELECT subject FROM ledger_entries WHERE kind = 'batch') ORDER BY batch_id"
    )
    return [batch_fields(store, row) for row in rows]


def score_columns(store: Store) -> list[str]:
    """The columns of the `scores` table ([] when detection never ran)."""
    tables = {row[0] for row in store.query("SHOW TABLES")}
    if "scores" not in tables:
        return []
    return [str(row[0]) for row in store.query("DESCRIBE scores")]


def score_digests(
    store: Store, columns: list[str], since: date | None = None, until: date | None = None
) -> dict[str, tuple[int, str]]:
    """Return (rows, sha256) of each day's canonical score rows.

    Args:
        store: The workspace.
        columns: The columns hashed (as recorded in the entries).
        since: Only days after this one (None: from the first).
        until: Only days up to this one (None: to the last).

    Returns:
        ISO day -> (rows, hex digest); days without rows are absent.
    """
    if not columns:
        return {}
    cells = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '\\N')" for c in columns)
    rows = store.query(
        "SELECT CAST(day AS VARCHAR), count(*), sha256(string_agg(line, chr(10) ORDER BY line)) "
        f"FROM (SELECT day, concat_ws(chr(9), {cells}) AS line FROM scores "
        "WHERE day > coalesce(?::DATE, DATE '0001-01-01') "
        "AND day <= coalesce(?::DATE, DATE '9999-12-31')) GROUP BY ALL",
        [since, until],
    )
    return {str(day): (int(count), str(digest)) for day, count, digest in rows}


def _score_day(day: str, columns: list[str], rows: int, digest: str) -> dict[str, Any]:
    return {
        "kind": "score_day",
        "subject": day,
        "rows": rows,
        "columns": columns,
        "sha256": digest,
    }


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def record_score_days(
    store: Store, since: date | None, until: date | None, *, only_new: bool = False
) -> int:
    """Record the scores of the days a detection run wrote: days after `since` up to `until`.

    A day whose scores differ from its latest entry gets a new entry; with `since` None (a
    full recompute) a recorded day that has no scores any more is recorded as empty, so a
    recompute to an earlier `--until` is not reported as tampering.

    Args:
        store: The workspace.
        since: The last day left untouched by the run (None: all days were recomputed).
        until: The last day computed (None: no bound).
        only_new: Record only days never recorded (`ledger record`: never re-records a
            changed day, which would hide an edit).

    Returns:
        The number of entries added.
    """
    columns = score_columns(store)
    if not columns:
        return 0
    known = recorded(store, "score_day")
    # An incremental run hashes only the days it wrote (one day: milliseconds).
    digests = score_digests(store, columns, since, until)
    items = []
    for day, (rows, digest) in sorted(digests.items()):
        previous = known.get(day)
        if only_new and previous is not None:
            continue
        if previous is None or previous.get("sha256") != digest:
            items.append(_score_day(day, columns, rows, digest))
    if since is None and not only_new:
        # A full recompute rewrote every day; a recorded day it did not write is gone.
        for day, previous in sorted(known.items()):
            if day not in digests and previous.get("rows") != 0:
                items.append(_score_day(day, columns, 0, EMPTY_SHA256))
    return len(append_entries(store, items))


def account_columns(store: Store) -> list[str]:
    """The columns of `account_events` (hashed by `account_rows` entries)."""
    return [str(row[0]) for row in store.query("DESCRIBE account_events")]


def account_digests(
    store: Store, columns: list[str], ranges: list[tuple[int, int, int]]
) -> list[tuple[int, str]]:
    """(rows, sha256) of the canonical `account_events` rows of each (source, first line,
    last line) range, in the order given (a range without rows: 0 and the empty hash)."""
    if not ranges:
        return []
    cells = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '\\N')" for c in columns)
    values = ", ".join(f"({i}, {int(s)}, {int(a)}, {int(b)})" for i, (s, a, b) in enumerate(ranges))
    rows = store.query(
        f"WITH ranges(i, source_id, first_line, last_line) AS (VALUES {values}) "
        "SELECT r.i, count(a.line), sha256(coalesce(string_agg(a.line, chr(10) ORDER BY a.line), "
        f"'')) FROM ranges r LEFT JOIN (SELECT source_id, source_line, concat_ws(chr(9), {cells}) "
        "AS line FROM account_events) a ON a.source_id = r.source_id "
        "AND a.source_line BETWEEN r.first_line AND r.last_line GROUP BY r.i ORDER BY r.i"
    )
    return [(int(count), str(digest)) for _, count, digest in rows]


# The (source, first line, last line) ranges the `account_rows` entries cover, from subjects.
ACCOUNT_RANGES_SQL = (
    "SELECT CAST(split_part(subject, ':', 1) AS INTEGER) AS source_id, "
    "CAST(split_part(split_part(subject, ':', 2), '-', 1) AS BIGINT) AS first_line, "
    "CAST(split_part(split_part(subject, ':', 2), '-', 2) AS BIGINT) AS last_line "
    "FROM ledger_entries WHERE kind = 'account_rows'"
)


def unrecorded_account_rows(store: Store) -> list[tuple[int, int, int, int]]:
    """(source, rows, first line, last line) of the `account_events` rows outside every
    recorded range, per source."""
    rows = store.query(
        f"WITH ranges AS ({ACCOUNT_RANGES_SQL}) "
        "SELECT source_id, count(*), min(source_line), max(source_line) FROM account_events a "
        "WHERE NOT EXISTS (SELECT 1 FROM ranges r WHERE r.source_id = a.source_id "
        "AND a.source_line BETWEEN r.first_line AND r.last_line) GROUP BY ALL ORDER BY 1"
    )
    return [(int(s), int(n), int(a), int(b)) for s, n, a, b in rows]


def record_account_rows(store: Store) -> int:
    """Record the machine and service accounts' rows (`account_events`) not in the ledger yet.

    One entry per source with new rows: the range of source lines after its last recorded
    one (a source's lines only grow), with the rows' count and hash.

    Args:
        store: The workspace.

    Returns:
        The number of entries added.
    """
    require_ledger(store)
    return len(append_entries(store, _account_items(store)))


def _account_items(store: Store) -> list[dict[str, Any]]:
    new = store.query(
        f"WITH covered AS (SELECT source_id, max(last_line) AS last_line "
        f"FROM ({ACCOUNT_RANGES_SQL}) GROUP BY 1) "
        "SELECT a.source_id, min(a.source_line), max(a.source_line) FROM account_events a "
        "LEFT JOIN covered c USING (source_id) "
        "WHERE c.last_line IS NULL OR a.source_line > c.last_line GROUP BY 1 ORDER BY 1"
    )
    if not new:
        return []
    ranges = [(int(s), int(a), int(b)) for s, a, b in new]
    columns = account_columns(store)
    return [
        {
            "kind": "account_rows",
            "subject": f"{source_id}:{first}-{last}",
            "source_id": source_id,
            "first_line": first,
            "last_line": last,
            "rows": rows,
            "columns": columns,
            "sha256": digest,
        }
        for (source_id, first, last), (rows, digest) in zip(
            ranges, account_digests(store, columns, ranges), strict=True
        )
    ]


def record_marked_copies(store: Store) -> int:
    """Record every issued marked copy the ledger does not hold yet.

    Args:
        store: The workspace.

    Returns:
        The number of entries added.
    """
    known = recorded(store, "marked_copy")
    rows = store.query_dicts(
        "SELECT mark_id, doc_id, recipient, CAST(issued AS VARCHAR) AS issued, file_name, sha256 "
        "FROM marked_copies ORDER BY issued, mark_id"
    )
    items = [
        {"kind": "marked_copy", "subject": row["mark_id"], **row}
        for row in rows
        if row["mark_id"] not in known
    ]
    return len(append_entries(store, items))


AUDIT_COLUMNS = (
    "seq, CAST(time AS VARCHAR) AS time, actor, role, action, subject AS target, row_hash"
)


def audit_rows(root: Path) -> dict[str, dict[str, Any]]:
    """Return the workbench's audit log (`molehunt serve`) by sequence number as text.

    Every view of a person, reveal, note and verdict of an analyst is a row there; the ledger
    records each one, so an edited or deleted audit row is caught by `ledger verify` too.

    Args:
        root: The workspace folder.

    Returns:
        seq (as text) -> the row's fields; empty when the workspace has no workbench yet.
    """
    if not (root / WORKBENCH_FILE).exists():
        return {}
    with Store.open(
        root, database=WORKBENCH_FILE, schema=WORKBENCH_SCHEMA, read_only=True
    ) as workbench:
        rows = workbench.query_dicts(f"SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq")
    return {str(row.pop("seq")): row for row in rows}


def record_analyst_actions(store: Store) -> int:
    """Record every analyst action of the workbench's audit log the ledger does not hold yet.

    Runs with `molehunt ledger record` and at the end of each `molehunt detect` (the server
    never writes the main database, so it cannot append them itself).

    Args:
        store: The workspace.

    Returns:
        The number of entries added.
    """
    known = recorded(store, "analyst_action")
    items = [
        {"kind": "analyst_action", "subject": seq, **row}
        for seq, row in audit_rows(store.root).items()
        if seq not in known
    ]
    return len(append_entries(store, items))
