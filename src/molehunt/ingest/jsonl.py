"""`molehunt ingest events`: JSON Lines in molehunt's own event schema (docs/events.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from molehunt.errors import IngestError
from molehunt.events import EVENT_COLUMNS
from molehunt.ingest.cert import IngestReport
from molehunt.ingest.cert_layout import reason_sql
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.reader import Chunk
from molehunt.ingest.source import Progress, ingest_file, read_head
from molehunt.store import Store

INPUT_FIELDS: tuple[str, ...] = tuple(
    c.name for c in EVENT_COLUMNS if c.name not in ("source_id", "source_line")
)
REQUIRED_FIELDS = ("time", "user", "channel", "action")
_INTEGER_FIELDS = {"size_bytes", "attachment_count", "attachment_bytes"}


def _check_object(value: Any) -> str:
    """Return why a parsed line is not a valid event object ('' when it is)."""
    if not isinstance(value, dict):
        return f"expected a JSON object, found {type(value).__name__}"
    unknown = sorted(set(value) - set(INPUT_FIELDS))
    if unknown:
        return f"unknown field '{unknown[0]}' (expected fields: {', '.join(INPUT_FIELDS)})"
    for name in REQUIRED_FIELDS:
        if value.get(name) in (None, ""):
            return f"missing field '{name}'"
    for name, item in value.items():
        if item is None:
            continue
        if name in _INTEGER_FIELDS:
            if isinstance(item, bool) or not isinstance(item, int):
                return f"field '{name}' must be an integer, found {json.dumps(item)[:40]}"
        elif not isinstance(item, str):
            return f"field '{name}' must be a string, found {json.dumps(item)[:40]}"
    return ""


@dataclass(frozen=True)
class JsonLinesPlan:
    """Split and map plan for a JSON Lines event file (implements `FilePlan`)."""

    channel: str = "events"
    label: str = "jsonl"
    table: str = "events"
    part: str = ""
    header_lines: int = 0

    def split(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject]]:
        """Parse each line as one JSON event object."""
        columns: dict[str, list[str | None]] = {name: [] for name in INPUT_FIELDS}
        lines: list[int] = []
        rejects: list[LineReject] = []
        for number, raw in chunk.numbered_lines():
            text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            reason = ""
            try:
                value = json.loads(raw.decode("utf-8"))
                reason = _check_object(value)
            except UnicodeDecodeError as error:
                reason = f"invalid UTF-8 at byte {error.start + 1}"
            except json.JSONDecodeError as error:
                reason = "empty line" if not text.strip() else f"invalid JSON ({error.msg})"
            if reason:
                rejects.append(LineReject(number, reason, text))
                continue
            for name in INPUT_FIELDS:
                item = value.get(name)
                columns[name].append(None if item is None else str(item))
            lines.append(number)
        arrays = {name: pa.array(values, pa.string()) for name, values in columns.items()}
        arrays[LINE_COLUMN] = pa.array(lines, pa.int64())
        return pa.table(arrays), rejects

    def queries(
        self, source_id: int, relation: str, source_column: str | None = None
    ) -> tuple[str, str]:
        """SQL casting the string fields to event columns, and the rows' reject reasons.

        Args:
            source_id: The rows' source.
            relation: The table of split rows.
            source_column: A column of `relation` holding each row's source id instead (rows
                of several files at once); the rejects query then returns it first.
        """
        time = '"_time"'  # the cast once per row (the subquery below), not per use
        checks = [
            (
                f"{time} IS NULL",
                "'unparsable time ''' || \"time\" || ''' (expected ISO 8601, e.g. "
                "2010-01-02T07:21:06Z)'",
            ),
            (
                "NOT regexp_full_match(\"channel\", '[a-z][a-z0-9_]*')",
                "'bad channel ''' || \"channel\" || ''' "
                "(expected a lower-case word such as logon)'",
            ),
        ]
        # A number that does not fit its column (a 30-digit size in a log line) is that
        # row's reject, not an error of the whole statement.
        for name, sql_type in (
            ("size_bytes", "BIGINT"),
            ("attachment_count", "INTEGER"),
            ("attachment_bytes", "BIGINT"),
        ):
            checks.append(
                (
                    f'"{name}" IS NOT NULL AND try_cast("{name}" AS {sql_type}) IS NULL',
                    f"'bad {name} ''' || left(\"{name}\", 40) || ''' "
                    f"(expected a whole number that fits {sql_type})'",
                )
            )
        # One concat() of every field: the same text as chained `||`, which copies each
        # intermediate string (twice the cost of the md5 itself on wide rows).
        hashed = ", chr(31), ".join(f"coalesce(\"{n}\", '')" for n in INPUT_FIELDS)
        values = {
            "event_id": f"coalesce(\"event_id\", 'h' || substr(md5(concat({hashed})), 1, 23))",
            "time": f"timezone('UTC', {time})",
            "action": 'lower("action")',
            "source_id": f'"{source_column}"' if source_column else str(source_id),
            "source_line": f'"{LINE_COLUMN}"',
        }
        selected = []
        for column in EVENT_COLUMNS:
            expression = values.get(column.name, f'"{column.name}"')
            selected.append(f'CAST({expression} AS {column.sql_type}) AS "{column.name}"')
        reason = reason_sql(checks)
        timed = f'(SELECT *, try_cast("time" AS TIMESTAMPTZ) AS "_time" FROM {relation})'
        rows = f"SELECT {', '.join(selected)} FROM {timed} WHERE ({reason}) IS NULL"
        line = f'"{source_column}", "{LINE_COLUMN}"' if source_column else f'"{LINE_COLUMN}"'
        rejects = f"SELECT {line}, {reason} FROM {timed} WHERE ({reason}) IS NOT NULL"
        return rows, rejects


def ingest_events(
    store: Store, paths: list[Path], progress: Progress | None = None
) -> IngestReport:
    """Ingest JSON Lines event files.

    Args:
        store: The workspace.
        paths: Plain or gzip `.jsonl` files.
        progress: Called after every committed chunk.

    Returns:
        What happened to each file.

    Raises:
        IngestError: A file is missing or empty.
    """
    for path in paths:
        if not Path(path).is_file():
            raise IngestError(f"{path}: no such file; expected a JSON Lines event file")
        read_head(Path(path), 1)
    report = IngestReport()
    for path in paths:
        report.files.append(ingest_file(store, Path(path), "events", JsonLinesPlan(), progress))
    return report
