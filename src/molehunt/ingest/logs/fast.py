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

from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.jsonl import INPUT_FIELDS
from molehunt.ingest.reader import Chunk

if TYPE_CHECKING:
    from molehunt.ingest.logs.directory import IdentityDirectory

FastRows = tuple[pa.Table, list[int], str, list[LineReject], list[tuple[int, str, str]]]
"""(clean rows, lines left to the exact parser, skip reason of a clean row without a user,
clean lines skipped outright, (line, key, value) joins of skipped lines).

The rows have the event fields (strings, `user` NULL when the line names nobody), `_line`,
`_account` (the account as written), `_ip` (client address) and `_join` (the key
that joined lines add to, or NULL).
"""

FastSplit = Callable[[Chunk], FastRows | None]
"""A format's vectorised split of a chunk, or None when only the exact path will do."""

PRIVATE_COLUMNS = ("_account", "_ip", "_join")


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
    """Epoch seconds (int64) as `YYYY-MM-DDTHH:MM:SS` strings, UTC."""
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


def join_map(joins: list[tuple[int, str, str]]) -> dict[str, list[str]]:
    """key -> the joined values in line order."""
    found: dict[str, list[str]] = {}
    for _, key, value in joins:
        found.setdefault(key, []).append(value)
    return found


def apply_joins(table: pa.Table, joins: dict[str, list[str]]) -> pa.Table:
    """Fast rows with their joined recipients (the exact path's rule for non-print events)."""
    if not joins or table.num_rows == 0:
        return table
    keys = table.column("_join").to_pylist()
    if not any(key in joins for key in keys if key):
        return table
    objects = table.column("object").to_pylist()
    targets = table.column("recipients_to").to_pylist()
    for row, key in enumerate(keys):
        joined = joins.get(key or "")
        if joined:
            objects[row] = targets[row] = ";".join(dict.fromkeys(joined))
    names = table.column_names
    table = table.set_column(names.index("object"), "object", pa.array(objects, pa.string()))
    return table.set_column(
        names.index("recipients_to"), "recipients_to", pa.array(targets, pa.string())
    )


def resolve_table(
    table: pa.Table, directory: IdentityDirectory | None, no_user: str
) -> tuple[pa.Table, list[LineReject]]:
    """Resolve identities of fast rows as `resolve_event` does, row for row.

    Returns:
        (rows with event fields and `_line` only, the skipped rows).
    """
    if directory is None or directory.is_empty():
        missing = pc.is_null(table.column("user"))
        skipped = table.filter(missing)
        kept = table.filter(pc.invert(missing))
        # Skipped lines are only counted by reason (`ingest_file`): no text is kept.
        skips = [
            LineReject(line, no_user, "", skipped=True)
            for line in skipped.column(LINE_COLUMN).to_pylist()
        ]
        return kept.select([*INPUT_FIELDS, LINE_COLUMN]), skips
    users: list[str | None] = []
    keep: list[bool] = []
    skips = []
    cache: dict[tuple[object, ...], str | LineReject] = {}
    names = ("user", "_account", "_ip", "host", "time", LINE_COLUMN)
    for user, account, ip, host, time, line in zip(
        *(table.column(name).to_pylist() for name in names), strict=True
    ):
        key = (user, account, ip, host, time[:10])
        found = cache.get(key)
        if found is None:
            event = {"user": user, "_account": account, "_ip": ip, "host": host, "time": time}
            resolved = directory.resolve({**event, "_skip": no_user})
            if isinstance(resolved, dict):
                found = str(resolved["user"])
            else:
                found = LineReject(0, resolved.reason, "", skipped=True)
            cache[key] = found
        if isinstance(found, LineReject):
            skips.append(LineReject(line, found.reason, "", skipped=True))
            keep.append(False)
            users.append(None)
        else:
            keep.append(True)
            users.append(found)
    resolved_table = table.set_column(
        INPUT_FIELDS.index("user"), "user", pa.array(users, pa.string())
    ).filter(pa.array(keep, pa.bool_()))
    return resolved_table.select([*INPUT_FIELDS, LINE_COLUMN]), skips


def skipped_lines(numbers: np.ndarray, mask: pa.Array, reason: str) -> list[LineReject]:
    """Skips (no text kept) for the lines of `numbers` where `mask` is true."""
    chosen = numbers[pc.fill_null(mask, False).to_numpy(zero_copy_only=False)]
    return [LineReject(int(line), reason, "", skipped=True) for line in chosen.tolist()]


def epoch_strings(text: pa.Array) -> pa.Array:
    """Epoch-seconds strings as `common.epoch_iso` formats them (`...T..:..:...ffffffZ`).

    The same float arithmetic as `epoch_iso`, in numpy: parse, truncate, round the fraction
    to microseconds half to even.
    """
    seconds = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    whole = np.trunc(seconds).astype(np.int64)
    micros = np.round((seconds - whole) * 1_000_000).astype(np.int64)
    carry = micros == 1_000_000
    whole, micros = whole + carry, np.where(carry, 0, micros)
    stamp = iso_seconds(pa.array(whole))
    fraction = pc.utf8_lpad(pc.cast(pa.array(micros), pa.string()), 6, "0")
    return pc.binary_join_element_wise(stamp, ".", fraction, "Z", "")
