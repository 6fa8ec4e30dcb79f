"""The vectorised path of a line format: Arrow compute over a whole chunk, exact where it matters.

A format may offer a fast split (`FastSplit`): it recognises the *clean* lines of a chunk
with one RE2 pattern (`pyarrow.compute.extract_regex`) and maps them with Arrow kernels, and
hands every other line (an odd field count, a non-ASCII byte, an account name that needs the
full identity rules) back by number to the format's exact per-line parser. Both paths give
the same rows, skips and rejects (tests/ingest/test_logs_fast.py checks this with
hypothesis), so the fast path is an optimisation only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest.arrays import FALSE, booleans, numbers, string_scalar, strings, to_numpy
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.jsonl import INPUT_FIELDS
from molehunt.ingest.reader import Chunk
from molehunt.ingest.source import APART_COLUMNS

if TYPE_CHECKING:
    from molehunt.ingest.logs.common import Skip
    from molehunt.ingest.logs.directory import IdentityDirectory

FastRows = tuple[pa.Table, list[int], str, list[LineReject], pa.Table | None]
"""(clean rows (in line order, or the rows naming a user in line order followed by the
others in line order), lines left to the exact parser, skip reason of a clean row without a user,
clean lines skipped outright (counted per reason: `skip_counts`), joins of skipped lines
(`join_table`: line, key, value; None when the format has none)).

The rows have the event fields (strings, `user` NULL when the line names nobody), `_line`,
`_account` (the account as written), `_ip` (client address) and `_join` (the key
that joined lines add to, or NULL).
"""

FastSplit = Callable[[Chunk], FastRows | None]
"""A format's vectorised split of a chunk, or None when only the exact path will do."""

PRIVATE_COLUMNS = ("_account", "_ip", "_join")

# String constants for compute calls (a Python str there goes through `pa.scalar`, whose
# first call in a process imports pandas: `molehunt.ingest.arrays`).
_DOT, _Z, _EMPTY = string_scalar("."), string_scalar("Z"), string_scalar("")
_MINUS_ONE = numbers([-1], "int32")[0]


def chunk_lines(chunk: Chunk) -> pa.Array | None:
    """The chunk's physical lines, each with its newline, as an Arrow string array.

    Zero-copy over the chunk's bytes (the offsets are the newline positions); None when the
    chunk is not valid UTF-8 (then the exact path names the bad lines).
    """
    data = chunk.data
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
    if data and not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return lines.cast(pa.string())  # 32 MiB chunks fit 32-bit offsets; kernels want string


def iso_seconds(seconds: pa.Array) -> pa.Array:
    """Epoch seconds (int64) as `YYYY-MM-DDTHH:MM:SS` strings, UTC.

    A log has many lines per second: each distinct second is formatted once.
    """
    if seconds.null_count == 0 and len(seconds) > 64:
        distinct, inverse = np.unique(to_numpy(seconds), return_inverse=True)
        if len(distinct) * 4 <= len(seconds):
            return _iso_seconds(numbers(distinct)).take(numbers(inverse.ravel()))
    return _iso_seconds(seconds)


def _iso_seconds(seconds: pa.Array) -> pa.Array:
    text = pc.cast(pc.cast(seconds, pa.timestamp("s")), pa.string())
    return pc.replace_substring(text, " ", "T", max_replacements=1)


def line_numbers(chunk: Chunk) -> np.ndarray:
    """1-based line numbers of the chunk's lines."""
    return np.arange(chunk.first_line, chunk.first_line + chunk.line_count, dtype=np.int64)


def event_table(columns: dict[str, pa.Array], count: int) -> pa.Table:
    """A table of every event field (missing ones NULL) plus the given extra columns."""
    arrays = {
        name: columns.get(name, pa.nulls(count, pa.string())).cast(pa.string())
        for name in INPUT_FIELDS
    }
    arrays[LINE_COLUMN] = columns[LINE_COLUMN]
    for name in PRIVATE_COLUMNS:
        arrays[name] = columns.get(name, pa.nulls(count, pa.string())).cast(pa.string())
    return pa.table(arrays)


JOIN_SCHEMA = pa.schema([(LINE_COLUMN, pa.int64()), ("key", pa.string()), ("value", pa.string())])


def join_table(joins: list[tuple[int, str, str | None]]) -> pa.Table:
    """(line, key, value) joins as a table with JOIN_SCHEMA."""
    lines, keys, values = zip(*joins, strict=True) if joins else ((), (), ())
    return pa.table(
        [numbers(lines), strings(keys), strings(values)],
        schema=JOIN_SCHEMA,
    )


def windowed_joins(table: pa.Table, joins: pa.Table, window: int) -> tuple[np.ndarray, pa.Array]:
    """(row index, joined value) of every joined line within `window` lines after its row.

    A row with a `_join` key takes the joined lines of that key that follow it by at most
    `window` lines: a rule of the file's lines alone, so it gives the same result whatever
    the chunk boundaries are (a resumed ingest included). Pairs are ordered by row, then by
    the joined line. Numpy only (no Acero join: its import alone costs 0.17 s).
    """
    keys = table.column("_join")
    unique = pc.unique(pc.drop_null(keys))
    row_code, rows = _codes(keys, unique)
    join_code, joined = _codes(joins.column("key"), unique)
    if len(rows) == 0 or len(joined) == 0:
        return np.empty(0, np.int64), strings([])
    lines = to_numpy(table.column(LINE_COLUMN))
    join_lines = to_numpy(joins.column(LINE_COLUMN))
    # One sortable number per (key, line): rows and joined lines of a key are then a range.
    span = int(max(lines.max(), join_lines.max())) + window + 2
    row_keys = row_code[rows].astype(np.int64) * span + lines[rows]
    order = np.argsort(row_keys, kind="stable")
    row_keys, rows = row_keys[order], rows[order]
    join_keys = join_code[joined].astype(np.int64) * span + join_lines[joined]
    low = np.searchsorted(row_keys, join_keys - window, side="left")
    high = np.searchsorted(row_keys, join_keys, side="left")  # rows strictly before the line
    counts = high - low
    pair_join = np.repeat(joined, counts)
    starts = np.repeat(low - np.cumsum(counts) + counts, counts)
    pair_row = rows[starts + np.arange(int(counts.sum()))]
    order = np.lexsort((join_lines[pair_join], pair_row))
    values = joins.column("value").combine_chunks()
    return pair_row[order], values.take(numbers(pair_join[order]))


def _codes(keys: pa.Array | pa.ChunkedArray, unique: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(each key's index in `unique`, -1 if none; the positions of the keys found)."""
    code = pc.index_in(keys, unique)
    found = np.flatnonzero(to_numpy(pc.is_valid(code)))
    return to_numpy(pc.fill_null(code, _MINUS_ONE)), found


def apply_recipients(table: pa.Table, joins: pa.Table, window: int) -> pa.Table:
    """Rows with their joined recipients: object and recipients_to become the distinct
    joined values in line order, `;`-separated (rows without joined lines keep theirs)."""
    if joins.num_rows == 0 or table.num_rows == 0:
        return table
    rows, values = windowed_joins(table, joins, window)
    if len(rows) == 0:
        return table
    return set_recipients(table, rows, values)


def set_recipients(table: pa.Table, rows: np.ndarray, values: pa.Array) -> pa.Table:
    """`table` with object and recipients_to of the given rows set to their values: each
    distinct value once, in the given order, `;`-separated (other rows keep theirs).

    Args:
        table: The rows.
        rows: Row index of each value, ascending (values of a row in their line order).
        values: The values (recipient addresses).
    """
    if len(rows) == 0:
        return table
    # Each recipient once per row, at its first line (pairs are in row, line order).
    distinct = pc.unique(values)
    value_code = to_numpy(pc.index_in(values, distinct)).astype(np.int64)
    _, first = np.unique(rows * len(distinct) + value_code, return_index=True)
    first.sort()
    rows, values = rows[first], values.take(numbers(first))
    starts = np.flatnonzero(np.diff(rows, prepend=-1))
    offsets = np.append(starts, len(rows)).astype(np.int32)
    lists = pa.ListArray.from_arrays(numbers(offsets, "int32"), values)
    where = np.full(table.num_rows, -1, np.int64)
    where[rows[starts]] = np.arange(len(starts))
    positions = numbers(where, valid=where >= 0)
    recipients = pc.take(pc.binary_join(lists, string_scalar(";")), positions)
    names = table.column_names
    for name in ("object", "recipients_to"):
        merged = pc.coalesce(recipients, table.column(name))
        table = table.set_column(names.index(name), name, merged)
    return table


def apply_pages(table: pa.Table, joins: pa.Table, window: int) -> pa.Table:
    """Print rows with the copies of their job's later page lines added to their page count."""
    if joins.num_rows == 0 or table.num_rows == 0:
        return table
    rows, values = windowed_joins(table, joins, window)
    if len(rows) == 0:
        return table
    pages = table.column("attachment_count").to_pylist()
    for row, value in zip(rows.tolist(), values.to_pylist(), strict=True):
        # Digits only (the parser's pattern); Python ints, so no width can overflow.
        pages[row] = str(int(pages[row] or "0") + int(value))
    names = table.column_names
    column = strings(pages)
    return table.set_column(names.index("attachment_count"), "attachment_count", column)


def resolve_table(
    table: pa.Table, directory: IdentityDirectory | None, no_user: str
) -> tuple[pa.Table, list[LineReject], pa.Table | None]:
    """Resolve identities of fast rows as `resolve_event` does, row for row.

    Returns:
        (rows with the event fields, `_line` and `_join`; the skipped rows, counted per
        reason; the skipped rows that the identity map names as service or machine accounts,
        kept apart: event fields with the map's name as `user`, `_line`, `_kind`, `_reason`,
        or None when there are none).
    """
    if directory is None or directory.is_empty():
        user = table.column("user")
        named = len(user) - user.null_count
        if user.slice(named).null_count == len(user) - named:
            # The unnamed rows are the last ones (a fast split may order them so): a slice.
            kept, skipped = table.slice(0, named), table.slice(named)
        else:
            missing = pc.is_null(user)
            kept, skipped = table.filter(pc.invert(missing)), table.filter(missing)
        # Skipped lines are only counted by reason (`ingest_file`): no text is kept.
        lines = to_numpy(skipped.column(LINE_COLUMN))
        skips = skip_counts(lines, np.ones(len(lines), dtype=bool), no_user)
        return kept.select([*INPUT_FIELDS, LINE_COLUMN, "_join"]), skips, None
    users: list[str | None] = []
    keep: list[bool] = []
    reasons: dict[str, list[int]] = {}
    apart: list[tuple[int, str, str, str]] = []  # row, user, kind, reason
    cache: dict[tuple[object, ...], str | Skip] = {}
    names = ("user", "_account", "_ip", "host", "time", LINE_COLUMN)
    for user, account, ip, host, time, line in zip(
        *(table.column(name).to_pylist() for name in names), strict=True
    ):
        key = (user, account, ip, host, time[:10])
        found = cache.get(key)
        if found is None:
            event = {"user": user, "_account": account, "_ip": ip, "host": host, "time": time}
            resolved = directory.resolve({**event, "_skip": no_user})
            found = str(resolved["user"]) if isinstance(resolved, dict) else resolved
            cache[key] = found
        if not isinstance(found, str):  # a Skip (imported for type checks only)
            counted = reasons.setdefault(found.reason, [line, 0])
            counted[1] += 1
            if found.event is not None:  # a service or machine account of the map
                apart.append((len(keep), str(found.event["user"]), found.kind or "", found.reason))
            keep.append(False)
            users.append(None)
        else:
            keep.append(True)
            users.append(found)
    resolved_table = (
        table.set_column(INPUT_FIELDS.index("user"), "user", strings(users))
        .filter(booleans(keep))
        .sort_by(LINE_COLUMN)  # a fast split may have put the unnamed rows last
    )
    skipped_rows = [
        LineReject(first, reason, "", skipped=True, count=count)
        for reason, (first, count) in reasons.items()
    ]
    kept_apart = None
    if apart:
        rows, apart_users, kinds, apart_reasons = zip(*apart, strict=True)
        picked = table.take(numbers(rows)).select([*INPUT_FIELDS, LINE_COLUMN])
        kept_apart = (
            picked.set_column(INPUT_FIELDS.index("user"), "user", strings(apart_users))
            .append_column(APART_COLUMNS[0], strings(kinds))
            .append_column(APART_COLUMNS[1], strings(apart_reasons))
            .sort_by(LINE_COLUMN)
        )
    return resolved_table.select([*INPUT_FIELDS, LINE_COLUMN, "_join"]), skipped_rows, kept_apart


def skip_counts(
    numbers: np.ndarray, mask: pa.Array | np.ndarray, reason: str | pa.Array
) -> list[LineReject]:
    """Skips of the lines of `numbers` where `mask` is true, one entry per reason.

    Skipped lines are only counted (no text is kept), so a chunk's skips are one
    `LineReject` per reason with its count and first line, not one object per line.

    Args:
        numbers: Line numbers.
        mask: Which of them are skipped (nulls are not).
        reason: The reason, or one reason per line of `numbers`.
    """
    if isinstance(mask, np.ndarray):
        chosen = mask
    else:
        chosen = to_numpy(pc.fill_null(mask, FALSE))
    lines = numbers[chosen]
    if len(lines) == 0:
        return []
    if isinstance(reason, str):
        return [LineReject(int(lines[0]), reason, "", skipped=True, count=len(lines))]
    reasons = reason.filter(booleans(chosen))
    distinct = pc.unique(reasons)
    codes = to_numpy(pc.index_in(reasons, distinct))
    counts = np.bincount(codes, minlength=len(distinct))
    _, first = np.unique(codes, return_index=True)  # lines are in order: the first is least
    return [
        LineReject(int(lines[index]), str(text), "", skipped=True, count=int(count))
        for text, index, count in zip(distinct.to_pylist(), first, counts, strict=True)
    ]


def epoch_strings(text: pa.Array) -> pa.Array:
    """Epoch-seconds strings as `common.epoch_iso` formats them (`...T..:..:...ffffffZ`).

    The same float arithmetic as `epoch_iso`, in numpy: parse, truncate, round the fraction
    to microseconds half to even.
    """
    floats = pc.cast(text, pa.float64())
    seconds = floats.to_numpy(zero_copy_only=False) if floats.null_count else to_numpy(floats)
    whole = np.trunc(seconds).astype(np.int64)
    micros = np.round((seconds - whole) * 1_000_000).astype(np.int64)
    carry = micros == 1_000_000
    whole, micros = whole + carry, np.where(carry, 0, micros)
    stamp = iso_seconds(numbers(whole))
    fraction = pc.utf8_lpad(pc.cast(numbers(micros), pa.string()), 6, "0")
    return pc.binary_join_element_wise(stamp, _DOT, fraction, _Z, _EMPTY)
