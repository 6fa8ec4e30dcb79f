"""Split a chunk of CSV lines into string columns, keeping each row's line number.

Two paths give the same result: a fast one (Arrow's C++ CSV reader) used when the chunk is
clean, and an exact line-by-line one (Python's csv module) that runs whenever the fast path
cannot vouch for a one-row-per-line mapping (bad field counts, invalid UTF-8, blank lines,
stray carriage returns). Bad lines come back as rejects, never vanish.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from molehunt.ingest.reader import Chunk

LINE_COLUMN = "_line"
_TRAILING = "_trailing"


@dataclass(frozen=True)
class LineReject:
    """A physical line that could not be split into the expected fields.

    Args:
        line: 1-based line number.
        reason: Why, in words.
        raw: The line's text (invalid UTF-8 shown as U+FFFD).
        skipped: True for a well-formed line the source carries but molehunt does not use
            (counted as skipped with its reason, not kept in `rejects`).
        count: How many lines this entry stands for: a skip may count every line of a chunk
            skipped for the same reason (`line` is then the first of them); a reject is 1.
    """

    line: int
    reason: str
    raw: str
    skipped: bool = False
    count: int = 1


class _Unclean(Exception):
    """The fast path met something only the exact path handles."""


def split_chunk(
    chunk: Chunk, names: list[str], *, force_exact: bool = False
) -> tuple[pa.Table, list[LineReject]]:
    """Split a chunk into a table of string columns named `names` plus `_line`.

    A row may carry one extra empty field (a trailing comma); any other field count is a
    reject.

    Args:
        chunk: Whole lines of CSV data (no header).
        names: Expected column names.
        force_exact: Skip the fast path (tests use this to check both paths agree).

    Returns:
        (table of good rows, rejected lines); their line numbers together cover the chunk.
    """
    if not force_exact:
        try:
            return _split_fast(chunk, names), []
        except _Unclean:
            pass
    return _split_exact(chunk, names)


def _split_fast(chunk: Chunk, names: list[str]) -> pa.Table:
    expected = chunk.line_count
    table = _arrow_read(chunk.data, names)
    if table is None:
        table = _arrow_read(chunk.data, [*names, _TRAILING])
        if table is None:
            raise _Unclean
        trailing = table.column(_TRAILING)
        if pc.max(pc.utf8_length(trailing)).as_py() not in (None, 0):
            raise _Unclean
        table = table.drop_columns([_TRAILING])
    if table.num_rows != expected or _has_empty_row(table):
        raise _Unclean
    lines = np.arange(chunk.first_line, chunk.first_line + expected, dtype=np.int64)
    return table.append_column(LINE_COLUMN, pa.array(lines))


def _has_empty_row(table: pa.Table) -> bool:
    """Tell whether a row has every field empty.

    Arrow reads a blank line as such a row; the exact path tells it from a line of empty
    fields. Checked on the table (a few column passes, most ending at the first column)
    rather than by searching the bytes for blank lines: on a chunk of a million lines, that
    search cost 0.4 s, more than the parse.
    """
    empty: pa.Array | None = None
    for column in table.columns:
        here = pc.equal(pc.binary_length(column), 0)
        empty = here if empty is None else pc.and_(empty, here)
        if not pc.any(empty).as_py():
            return False
    return empty is not None


def _arrow_read(data: bytes, names: list[str]) -> pa.Table | None:
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),  # zero-copy (a BytesIO is read in copied pieces)
            read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except pa.ArrowInvalid:
        return None


def _split_exact(chunk: Chunk, names: list[str]) -> tuple[pa.Table, list[LineReject]]:
    width = len(names)
    columns: list[list[str]] = [[] for _ in names]
    good_lines: list[int] = []
    rejects: list[LineReject] = []
    for number, raw in chunk.numbered_lines():
        fields, reason = _split_line(raw, width)
        if fields is None:
            rejects.append(LineReject(number, reason, _show(raw)))
            continue
        for column, value in zip(columns, fields, strict=False):
            column.append(value)
        good_lines.append(number)
    arrays = [pa.array(column, pa.string()) for column in columns]
    arrays.append(pa.array(good_lines, pa.int64()))
    return pa.table(arrays, names=[*names, LINE_COLUMN]), rejects


def _split_line(raw: bytes, width: int) -> tuple[list[str] | None, str]:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"invalid UTF-8 at byte {error.start + 1}"
    if not text.strip():
        return None, "empty line"
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as error:
        return None, f"malformed CSV ({error})"
    if len(fields) == width + 1 and fields[-1] == "":
        fields.pop()
    if len(fields) != width:
        return None, f"expected {width} fields, found {len(fields)}"
    return fields, ""


def _show(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


def line_texts(chunk: Chunk, numbers: list[int]) -> list[str]:
    """Return the text of the given physical lines of a chunk (for reject records)."""
    if not numbers:
        return []
    lines = dict(chunk.numbered_lines())
    return [_show(lines[number]) for number in numbers]


def split_header(raw: bytes) -> list[str]:
    """Split a header line into stripped column names.

    Args:
        raw: The first line of the file, without its newline.

    Returns:
        The names; a trailing empty name (trailing comma) is dropped.
    """
    text = raw.rstrip(b"\r").decode("utf-8", errors="replace").lstrip("\ufeff")
    names = [name.strip() for name in next(csv.reader([text]))] if text else []
    if names and names[-1] == "":
        names.pop()
    return names
