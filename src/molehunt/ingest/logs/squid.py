"""Squid native access.log -> http events.

`time elapsed client code/status bytes method URL user hierarchy/peer type`, whitespace
separated, time in epoch seconds with milliseconds (UTC).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest import arrays
from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs.common import (
    Parsed,
    Reject,
    account_user,
    decode_line,
    epoch_iso,
    unnamed,
    with_account,
)
from molehunt.ingest.logs.fast import (
    FastRows,
    chunk_lines,
    event_table,
    iso_seconds,
    line_numbers,
)
from molehunt.ingest.reader import Chunk

_UPLOAD_METHODS = {"POST", "PUT"}
# Constants for compute calls: a Python value there goes through `pa.scalar`, whose first
# call in a process imports pandas (`molehunt.ingest.arrays`).
_UPLOADS = arrays.strings(sorted(_UPLOAD_METHODS))
_DASH, _DOT, _EMPTY, _MILLIS_Z, _UPLOAD, _VISIT = (
    arrays.string_scalar(text) for text in ("-", ".", "", "000Z", "upload", "visit")
)
_NULL = pa.nulls(1, pa.string())[0]
_NO_USER = "no proxy user name (client address only)"


def parse_squid(raw: bytes) -> Parsed:
    """Map one native access.log line to an http event (visit, or upload for POST/PUT).

    A request without a user name carries the client address (`_ip`) so an identity map
    can attribute it; unattributed, it is skipped.
    """
    text = decode_line(raw)
    if isinstance(text, Reject):
        return text
    fields = text.split()
    if len(fields) < 10:
        return Reject(f"expected 10 space-separated Squid fields, found {len(fields)}")
    stamp, _elapsed, client, code, size, method, url, user = fields[:8]
    time = epoch_iso(stamp)
    if time is None:
        return Reject(
            f"unparsable time '{stamp[:40]}' (expected epoch seconds, e.g. 1157689312.049)"
        )
    if not size.isdigit():
        return Reject(f"bytes '{size[:40]}' is not a whole number")
    who: Parsed = {"user": None, "_ip": client, "_skip": _NO_USER}
    if user != "-":
        who = account_user(user)
        if unnamed(who):
            return who
    return with_account(
        who,
        {
            "time": time,
            "host": client,
            "channel": "http",
            "action": "upload" if method.upper() in _UPLOAD_METHODS else "visit",
            "object": url,
            "size_bytes": size,
            "content": code,
        },
    )


# A clean line: exactly ten fields of printable ASCII separated by spaces, as Squid writes
# them: `\d{9,10}\.\d{3}` time, whole-number elapsed and bytes. Anything else (extra fields,
# tabs, non-ASCII, a bad time) is left to `parse_squid`.
_STAMP = r"^\d{9,10}\.\d{3}$"
# User names the fast path maps itself (lower-cased); others (DOMAIN\\name, UPNs, machine
# and service accounts) take the exact path.
_PLAIN_USER = r"^[A-Za-z0-9._-]+$"
_SPECIAL_USER = r"^(?i:system|anonymous|dwm-.*|umfd-.*)$"
_FIELDS = ("stamp", "elapsed", "client", "code", "size", "method", "url", "user")


def split_squid_fast(chunk: Chunk) -> FastRows | None:
    """The vectorised split of a chunk of access.log lines (see `fast.py`).

    The lines are split once on whitespace; each field of the clean ones is then taken
    straight from the split's flat values (one copy per field, none for the rest). Rows
    come out with the named requests first, then those without a user name, each in line
    order, so that dropping the unnamed ones (no identity map) is a slice, not a copy.
    """
    lines = chunk_lines(chunk)
    if lines is None:
        return None
    numbers = line_numbers(chunk)
    data = np.frombuffer(chunk.data, np.uint8)
    # Printable ASCII and spaces only: a tab, CR or other control byte takes the exact path.
    odd = np.flatnonzero(((data < 32) & (data != 10)) | (data > 126))
    clean = np.ones(len(lines), dtype=bool)
    if len(odd):
        starts = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, lines.offset * 4)
        clean[np.searchsorted(starts, odd, side="right") - 1] = False
    parts = pc.ascii_split_whitespace(lines)  # a line's newline ends it in an empty field
    flat = parts.values
    first = np.frombuffer(parts.buffers()[1], np.int32, len(parts) + 1, parts.offset * 4)
    size = np.diff(np.frombuffer(flat.buffers()[1], np.int32, len(flat) + 1, flat.offset * 4))
    fields = np.diff(first)
    last_empty = size[np.maximum(first[1:] - 1, 0)] == 0
    clean &= np.where(last_empty, fields == 11, fields == 10)
    rows = np.flatnonzero(clean)

    def field(name: str, at: np.ndarray) -> pa.Array:
        return flat.take(arrays.numbers(first[at] + _FIELDS.index(name)))

    user = field("user", rows)
    good = pc.and_(
        pc.and_(
            pc.match_substring_regex(field("stamp", rows), _STAMP),
            pc.and_(
                pc.ascii_is_decimal(field("elapsed", rows)),
                pc.ascii_is_decimal(field("size", rows)),
            ),
        ),
        pc.or_(
            pc.equal(user, _DASH),
            pc.and_(
                pc.match_substring_regex(user, _PLAIN_USER),
                pc.invert(pc.match_substring_regex(user, _SPECIAL_USER)),
            ),
        ),
    )
    good_rows = arrays.to_numpy(good)
    named = arrays.to_numpy(pc.not_equal(user, _DASH))
    taken = np.concatenate([rows[good_rows & named], rows[good_rows & ~named]])
    count = len(taken)
    stamp = field("stamp", taken)
    seconds = iso_seconds(pc.cast(pc.utf8_slice_codeunits(stamp, 0, -4), pa.int64()))
    user = field("user", taken)
    missing = pc.equal(user, _DASH)
    account = pc.if_else(missing, _NULL, user)
    method = field("method", taken)
    upload = pc.is_in(pc.utf8_upper(method), _UPLOADS)
    client = field("client", taken)
    columns = {
        "user": pc.utf8_lower(account),
        "time": pc.binary_join_element_wise(
            seconds, _DOT, pc.utf8_slice_codeunits(stamp, -3), _MILLIS_Z, _EMPTY
        ),
        "host": client,
        "channel": arrays.repeated("http", count),
        "action": pc.if_else(upload, _UPLOAD, _VISIT),
        "object": field("url", taken),
        "size_bytes": field("size", taken),
        "content": field("code", taken),
        LINE_COLUMN: arrays.numbers(numbers[taken]),
        "_account": account,
        "_ip": client,
    }
    leftover = np.ones(len(numbers), dtype=bool)
    leftover[taken] = False
    return event_table(columns, count), numbers[leftover].tolist(), _NO_USER, [], None
