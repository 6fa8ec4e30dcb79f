"""`molehunt ingest context`: documents, clearances, HR events and travel, from CSV or JSON.

Each file goes through `molehunt.ingest.source.ingest_file` with a `ContextPlan`, so context
files get what activity files get: resumable chunked reads, re-runs that change nothing, and
every bad row kept in `rejects` with its line number and reason. A JSON array (`[{...}, ...]`)
is first rewritten as JSON Lines, one item per line, so its reject "line" is the item's
position in the array.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from molehunt.context.formats import ContextFormat, detect_format, format_sql
from molehunt.context.scale import (
    ClassificationScale,
    find_scale_file,
    level_lookup,
    load_scales,
    scales,
)
from molehunt.errors import IngestError, LayoutError
from molehunt.ingest.cert import IngestReport
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject, split_chunk, split_header
from molehunt.ingest.reader import Chunk
from molehunt.ingest.source import FileReport, Progress, ingest_file, read_head
from molehunt.store import Store

CSV_SUFFIXES = (".csv", ".csv.gz")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")


@dataclass(frozen=True)
class ContextPlan:
    """Split and map plan for one context file (implements `FilePlan`).

    Args:
        fmt: The recognised format.
        mapping: (column name as in the file, canonical field) pairs; CSV: in header order.
        lookup: (normalised level name, canonical rank) pairs of every scale in force.
        label: csv, jsonl or json.
        header_lines: 1 for CSV, 0 for JSON Lines.
    """

    fmt: ContextFormat
    mapping: tuple[tuple[str, str], ...]
    lookup: tuple[tuple[str, int], ...]
    label: str
    header_lines: int

    @property
    def channel(self) -> str:
        """The format's key (documents, clearances, hr_events, purview, travel)."""
        return self.fmt.kind

    @property
    def table(self) -> str:
        """The context table the file fills."""
        return self.fmt.table

    @property
    def part(self) -> str:
        """Context files have no parts."""
        return ""

    def split(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject]]:
        """Split lines into one string column `f_<field>` per field of the format, plus `_line`."""
        if self.label == "csv":
            table, rejects = split_chunk(chunk, [column for column, _ in self.mapping])
            names = {column: f"f_{field}" for column, field in self.mapping}
            table = table.rename_columns([names.get(n, n) for n in table.column_names])
        else:
            table, rejects = self._split_json(chunk)
        for field in self.fmt.fields:
            if f"f_{field}" not in table.column_names:
                table = table.append_column(f"f_{field}", pa.array([""] * table.num_rows))
        return table, rejects

    def _split_json(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject]]:
        columns: dict[str, list[str]] = {field: [] for field in self.fmt.fields}
        lines: list[int] = []
        rejects: list[LineReject] = []
        for number, raw in chunk.numbered_lines():
            values, reason = self._parse_object(raw)
            if values is None:
                text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
                rejects.append(LineReject(number, reason, text))
                continue
            for field, items in columns.items():
                items.append(values.get(field, ""))
            lines.append(number)
        arrays = {f"f_{field}": pa.array(items, pa.string()) for field, items in columns.items()}
        arrays[LINE_COLUMN] = pa.array(lines, pa.int64())
        return pa.table(arrays), rejects

    def _parse_object(self, raw: bytes) -> tuple[dict[str, str] | None, str]:
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            return None, f"invalid UTF-8 at byte {error.start + 1}"
        except json.JSONDecodeError as error:
            return None, "empty line" if not raw.strip() else f"invalid JSON ({error.msg})"
        if not isinstance(value, dict):
            return None, f"expected a JSON object, found {type(value).__name__}"
        values: dict[str, str] = {}
        for key, item in value.items():
            field = self.fmt.field_for(str(key))
            if field is None:
                return None, f"unknown field '{key}' ({self.fmt.describe()})"
            text = _json_text(item)
            if text is None:
                return None, f"field '{key}' must be a string, number, boolean or list"
            values[field] = text
        return values, ""

    def queries(self, source_id: int, relation: str) -> tuple[str, str]:
        """SQL mapping split rows to the context table, and the reasons of rows that cannot be."""
        return format_sql(self.fmt.kind, dict(self.lookup), source_id, relation)


def _json_text(item: Any) -> str | None:
    if item is None:
        return ""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str | int | float):
        return str(item)
    if isinstance(item, list) and all(isinstance(i, str | int | float) for i in item):
        return ";".join(str(i) for i in item)
    return None


def _is_context_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(CSV_SUFFIXES + JSON_SUFFIXES)


def discover_context_files(path: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """List the context files under a folder (or the single file given).

    Args:
        path: A context folder or one context file.

    Returns:
        (files to ingest, sorted by name; (path, reason) for files passed over).

    Raises:
        IngestError: The path does not exist, or the folder holds no context file.
    """
    if not path.exists():
        raise IngestError(
            f"{path}: no such file or folder; expected context files (docs/context.md)"
        )
    if path.is_file():
        return [path], []
    found = sorted(p for p in path.iterdir() if p.is_file() and _is_context_file(p))
    skipped = [
        (p, "classification scales" if p == find_scale_file(path) else "not a context file")
        for p in sorted(path.iterdir())
        if p.is_file() and p not in found
    ]
    if not found:
        raise IngestError(
            f"{path}: no context files found; expected documents.csv, clearances.csv, "
            "hr_events.csv, travel.csv (or .json / .jsonl)"
        )
    return found, skipped


def _first_object_keys(path: Path, text: bytes) -> list[str]:
    try:
        value = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LayoutError(f"{path}: first line is not a JSON object ({error})") from error
    if not isinstance(value, dict):
        raise LayoutError(f"{path}: first item is not a JSON object")
    return [str(key) for key in value]


def plan_context_file(path: Path, lookup: Mapping[str, int]) -> ContextPlan:
    """Read a context file's header (or first JSON object) and recognise its format.

    Args:
        path: The file (plain or gzip).
        lookup: Normalised level name -> canonical rank of every scale in force.

    Returns:
        The plan.

    Raises:
        IngestError: The file is empty or unreadable.
        LayoutError: Its columns fit no context format.
    """
    levels = tuple(sorted(lookup.items()))
    head = read_head(path, 1)[0]
    if _is_json(path):
        keys = _first_object_keys(path, head.strip())
        fmt, mapping = detect_format(path, keys)
        return ContextPlan(fmt, tuple(mapping.items()), levels, "jsonl", 0)
    header = split_header(head)
    fmt, mapping = detect_format(path, header)
    return ContextPlan(fmt, tuple(mapping.items()), levels, "csv", 1)


def _is_json(path: Path) -> bool:
    return path.name.lower().endswith(JSON_SUFFIXES)


def _json_array_items(path: Path) -> list[Any] | None:
    """Return the items of a JSON array file, or None when the file is JSON Lines."""
    head = read_head(path, 1)[0].lstrip()
    if not head.startswith(b"["):
        return None
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IngestError(f"{path}: invalid JSON array ({error})") from error
    if not isinstance(value, list) or not value:
        raise IngestError(f"{path}: expected a non-empty JSON array of objects")
    return value


def _ingest_json_array(
    store: Store, path: Path, items: list[Any], lookup: Mapping[str, int], progress: Progress | None
) -> FileReport:
    """Ingest a JSON array by way of a JSON Lines copy; reports and rejects name the original."""
    scratch = store.root / ".tmp"
    scratch.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        copy = folder / f"{path.name}.jsonl"
        copy.write_text(
            "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in items),
            encoding="utf-8",
        )
        plan = dataclasses.replace(plan_context_file(copy, lookup), label="json")
        relay = None if progress is None else (lambda _p, done, rows: progress(path, done, rows))
        report = ingest_file(store, copy, "context", plan, relay)
        with store.transaction() as connection:
            connection.execute("UPDATE sources SET path = ? WHERE path = ?", [str(path), str(copy)])
            connection.execute("UPDATE rejects SET path = ? WHERE path = ?", [str(path), str(copy)])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return dataclasses.replace(report, path=path)


def _scales_in_force(
    store: Store, root: Path
) -> tuple[dict[str, int], dict[str, ClassificationScale]]:
    """Merge built-in, remembered and new custom scales into one level lookup."""
    folder = root if root.is_dir() else root.parent
    scale_file = find_scale_file(folder)
    custom = load_scales(scale_file) if scale_file is not None else {}
    remembered = store.query("SELECT scale, level_key, level_rank FROM level_names")
    known = dict(scales)
    for name in {str(row[0]) for row in remembered} - set(custom):
        pairs = tuple((str(k), int(r)) for s, k, r in remembered if s == name)
        known[name] = ClassificationScale(name, pairs)
    return level_lookup([*known.values(), *custom.values()]), custom


def _remember_scales(store: Store, custom: Mapping[str, ClassificationScale]) -> None:
    """Keep custom scales in the workspace, so event labelling finds their markings too."""
    with store.transaction() as connection:
        for name, scale in custom.items():
            connection.execute("DELETE FROM level_names WHERE scale = ?", [name])
            for key, rank in scale.lookup().items():
                connection.execute("INSERT INTO level_names VALUES (?, ?, ?)", [name, key, rank])


def ingest_context(
    store: Store,
    path: Path | str | Sequence[Path | str],
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest context files: documents, clearances, HR events, travel (CSV, JSON, JSON Lines).

    Every file's format is recognised before anything is written, so a bad header aborts the
    run cleanly; bad rows never abort it (they go to `rejects` with file:line and reason).
    People named by e-mail are mapped to user ids through the LDAP `people` table; when LDAP
    has been ingested, a person it does not know is rejected as "unknown user".

    Args:
        store: The workspace.
        path: A context folder, one file, or several files. A `scales.yaml` beside them adds
            custom classification scales.
        progress: Called after every committed chunk.

    Returns:
        What happened to each file.

    Raises:
        IngestError: A path is missing or empty, or a file's columns fit no context format.
        ConfigError: The scales file is malformed.
    """
    roots = [Path(p) for p in ([path] if isinstance(path, str | Path) else path)]
    report = IngestReport()
    files: list[Path] = []
    for root in roots:
        found, skipped = discover_context_files(root)
        files += found
        report.skipped += skipped
    lookup, custom = _scales_in_force(store, roots[0])
    arrays = {file: _json_array_items(file) if _is_json(file) else None for file in files}
    plans = {file: plan_context_file(file, lookup) for file in files if arrays[file] is None}
    for file, items in arrays.items():
        if items is not None:  # checked now: nothing is written unless every file fits
            first = items[0]
            if not isinstance(first, dict):
                raise LayoutError(f"{file}: first item is not a JSON object")
            detect_format(file, [str(key) for key in first])
    _remember_scales(store, custom)
    for file in files:
        items = arrays[file]
        if items is None:
            report.files.append(ingest_file(store, file, "context", plans[file], progress))
        else:
            report.files.append(_ingest_json_array(store, file, items, lookup, progress))
    return report
