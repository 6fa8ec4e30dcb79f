"""Squid native access.log -> http events.

`time elapsed client code/status bytes method URL user hierarchy/peer type`, whitespace
separated, time in epoch seconds with milliseconds (UTC).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs.common import (
    Event,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    epoch_iso,
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
    who: Event = {"user": None, "_ip": client, "_skip": _NO_USER}
    if user != "-":
        named = account_user(user)
        if isinstance(named, Skip | Reject):
            return named
        who = named
    return {
        **who,
        "time": time,
        "host": client,
        "channel": "http",
        "action": "upload" if method.upper() in _UPLOAD_METHODS else "visit",
        "object": url,
        "size_bytes": size,
        "content": code,
    }


# A clean line: exactly ten printable-ASCII fields, as Squid writes them. Anything else (extra
# fields, tabs, non-ASCII, a bad time) is left to `parse_squid`. Matching without captures
# runs as a DFA; the fields of clean lines are then split on their whitespace.
_CLEAN = r"^\d{9,10}\.\d{3} +\d+ [!-~]+ [!-~]+ \d+ [!-~]+ [!-~]+ [!-~]+ [!-~]+ [!-~]+\n?$"
# User names the fast path maps itself (lower-cased); others (DOMAIN\\name, UPNs, machine
# and service accounts) take the exact path.
_PLAIN_USER = r"^[A-Za-z0-9._-]+$"
_SPECIAL_USER = r"^(?i:system|anonymous|dwm-.*|umfd-.*)$"
_FIELDS = ("stamp", "elapsed", "client", "code", "size", "method", "url", "user")


def split_squid_fast(chunk: Chunk) -> FastRows | None:
    """The vectorised split of a chunk of access.log lines (see `fast.py`)."""
    lines = chunk_lines(chunk)
    if lines is None:
        return None
    matched = pc.match_substring_regex(lines, _CLEAN)
    parts = pc.ascii_split_whitespace(pc.if_else(matched, lines, ""))
    user = pc.list_element(pc.if_else(matched, parts, pa.scalar(["-"] * 10, parts.type)), 7)
    plain = pc.and_(
        pc.match_substring_regex(user, _PLAIN_USER),
        pc.invert(pc.match_substring_regex(user, _SPECIAL_USER)),
    )
    clean = pc.and_(matched, pc.or_(pc.equal(user, "-"), plain))
    keep = clean.to_numpy(zero_copy_only=False)
    numbers = line_numbers(chunk)
    rows = parts.filter(clean)
    count = len(rows)
    field = {name: pc.list_element(rows, index) for index, name in enumerate(_FIELDS)}
    stamp = field["stamp"]
    seconds = iso_seconds(pc.cast(pc.utf8_slice_codeunits(stamp, 0, -4), pa.int64()))
    missing = pc.equal(field["user"], "-")
    account = pc.if_else(missing, pa.scalar(None, pa.string()), field["user"])
    upload = pc.is_in(pc.utf8_upper(field["method"]), pa.array(sorted(_UPLOAD_METHODS)))
    columns = {
        "user": pc.utf8_lower(account),
        "time": pc.binary_join_element_wise(
            seconds, ".", pc.utf8_slice_codeunits(stamp, -3), "000Z", ""
        ),
        "host": field["client"],
        "channel": pa.array(["http"] * count, pa.string()),
        "action": pc.if_else(upload, "upload", "visit"),
        "object": field["url"],
        "size_bytes": field["size"],
        "content": field["code"],
        LINE_COLUMN: pa.array(numbers[keep]),
        "_account": account,
        "_ip": field["client"],
    }
    return event_table(columns, count), numbers[~keep].tolist(), _NO_USER, [], None
