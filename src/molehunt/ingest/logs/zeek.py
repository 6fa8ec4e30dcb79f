"""Zeek smtp.log and http.log (TSV with a `#fields` header) -> email send and http events."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest import arrays
from molehunt.ingest.arrays import to_numpy
from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs.common import (
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    epoch_iso,
    unnamed,
    with_account,
)
from molehunt.ingest.logs.fast import (
    FastRows,
    FastSplit,
    epoch_strings,
    event_table,
    line_numbers,
    skip_counts,
)
from molehunt.ingest.reader import Chunk

DEFAULT_SMTP_FIELDS: tuple[str, ...] = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "trans_depth",
    "helo",
    "mailfrom",
    "rcptto",
    "date",
    "from",
    "to",
    "cc",
    "reply_to",
    "msg_id",
    "in_reply_to",
    "subject",
    "x_originating_ip",
    "first_received",
    "second_received",
    "last_reply",
    "path",
    "user_agent",
    "tls",
    "fuids",
    "is_webmail",
)


DEFAULT_HTTP_FIELDS: tuple[str, ...] = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "trans_depth",
    "method",
    "host",
    "uri",
    "referrer",
    "version",
    "user_agent",
    "origin",
    "request_body_len",
    "response_body_len",
    "status_code",
    "status_msg",
    "info_code",
    "info_msg",
    "tags",
    "username",
    "password",
    "proxied",
    "orig_fuids",
    "orig_filenames",
    "orig_mime_types",
    "resp_fuids",
    "resp_filenames",
    "resp_mime_types",
)
"""Zeek's HTTP::Info log columns (base/protocols/http/main.zeek), used without `#fields`."""


def zeek_fields(
    lines: list[bytes], default: tuple[str, ...] = DEFAULT_SMTP_FIELDS
) -> tuple[str, ...]:
    """Return the `#fields` names among a file's first lines (`default` if none)."""
    for raw in lines:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if text.startswith("#fields\t"):
            return tuple(text.split("\t")[1:])
    return default


def _addresses(value: str) -> list[str]:
    if value in ("-", "(empty)", ""):
        return []
    return [item.strip().strip("<>") for item in value.split(",") if item.strip()]


def _zeek_record(
    raw: bytes, fields: tuple[str, ...], index: dict[str, int]
) -> tuple[Callable[[str], str], str] | Skip | Reject:
    """Split one Zeek TSV line into a field getter (`-` and `(empty)` read as '') and its ISO
    time; `#` header lines are skipped, lines of another field count or time rejected."""
    text = decode_line(raw)
    if isinstance(text, Reject):
        return text
    if text.startswith("#"):
        return Skip("Zeek header line")
    row = text.split("\t")
    if len(row) != len(fields):
        return Reject(f"expected {len(fields)} tab-separated fields, found {len(row)}")

    def get(name: str) -> str:
        value = row[index[name]] if name in index else "-"
        return "" if value in ("-", "(empty)") else value

    time = epoch_iso(get("ts"))
    if time is None:
        return Reject(f"unparsable ts '{get('ts')[:40]}' (expected epoch seconds)")
    return get, time


def zeek_smtp_parser(fields: tuple[str, ...] = DEFAULT_SMTP_FIELDS) -> LineParser:
    """Return a parser for smtp.log records: one `send` event per SMTP transaction.

    The sender is MAIL FROM (else the From header); recipients are RCPT TO. Sessions that
    carry no message (banner grabs, scanners) are skipped.
    """
    index = {name: number for number, name in enumerate(fields)}

    def parse(raw: bytes) -> Parsed:
        record = _zeek_record(raw, fields, index)
        if isinstance(record, Skip | Reject):
            return record
        get, time = record
        senders = _addresses(get("mailfrom")) or _addresses(get("from"))
        if not senders:
            return Skip("SMTP session without a message (no MAIL FROM)")
        who = account_user(senders[0])
        if unnamed(who):
            return who
        recipients = _addresses(get("rcptto")) or _addresses(get("to"))
        return with_account(
            who,
            {
                "event_id": f"zeek:{get('uid')}:{get('trans_depth')}",
                "time": time,
                "host": get("id.orig_h") or None,
                "channel": "email",
                "action": "send",
                "object": ";".join(recipients) or None,
                "sender": senders[0],
                "recipients_to": ";".join(_addresses(get("to"))) or None,
                "recipients_cc": ";".join(_addresses(get("cc"))) or None,
                "content": get("subject") or None,
            },
        )

    return parse


_UPLOAD_METHODS = {"POST", "PUT"}
_NO_HTTP_USER = "no HTTP user name (client address only)"


def zeek_http_parser(fields: tuple[str, ...] = DEFAULT_HTTP_FIELDS) -> LineParser:
    """Return a parser for http.log records: one http event per request.

    The user is `username` (HTTP basic authentication) when there is one; otherwise the
    client address is kept for the identity map, and the request is skipped if it maps to
    nobody. The URL is `http://` + Host header (else the server address) + URI.
    """
    index = {name: number for number, name in enumerate(fields)}

    def parse(raw: bytes) -> Parsed:
        record = _zeek_record(raw, fields, index)
        if isinstance(record, Skip | Reject):
            return record
        get, time = record
        client = get("id.orig_h")
        who: Parsed = {"user": None, "_ip": client or None, "_skip": _NO_HTTP_USER}
        if get("username"):
            who = account_user(get("username"))
            if unnamed(who):
                return who
        upload = get("method").upper() in _UPLOAD_METHODS
        size = get("request_body_len") if upload else get("response_body_len")
        server = get("host") or get("id.resp_h")
        return with_account(
            who,
            {
                "event_id": f"zeek:{get('uid')}:{get('trans_depth')}",
                "time": time,
                "host": client or None,
                "channel": "http",
                "action": "upload" if upload else "visit",
                "object": f"http://{server}{get('uri')}" if server else get("uri") or None,
                "size_bytes": size if size.isdigit() else None,
                "content": get("status_code") or None,
            },
        )

    return parse


# The vectorised smtp.log path (see fast.py). Clean lines: printable ASCII and tabs only, the
# header's field count, an epoch ts; addresses plain (no spaces, brackets or empty items).
_TS = r"^\d{9,10}(\.\d{1,6})?$"
# Arrow values for compute calls (a Python value there goes through `pa.scalar`, whose first
# call in a process imports pandas: `molehunt.ingest.arrays`).
_UPLOAD_VALUES = arrays.strings(sorted(_UPLOAD_METHODS))
_S_EMPTY, _S_COLON, _S_ZEEK, _S_HTTP, _S_UPLOAD, _S_VISIT = (
    arrays.string_scalar(text) for text in ("", ":", "zeek:", "http://", "upload", "visit")
)
_NULL = pa.nulls(1, pa.string())[0]


_ADDRESS = r"^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$"
_ADDRESS_LIST = r"^[^,<> ]+(,[^,<> ]+)*$"
_SPECIAL_LOCAL = r"^(?i:system|anonymous|dwm-.*|umfd-.*)@"
_NO_MESSAGE = "SMTP session without a message (no MAIL FROM)"


def zeek_smtp_fast(fields: tuple[str, ...]) -> FastSplit | None:
    """The vectorised split for smtp.log lines with these fields (None: fields it cannot do)."""
    needed = ("ts", "uid", "id.orig_h", "trans_depth", "mailfrom", "rcptto", "from", "to")
    if any(name not in fields for name in (*needed, "cc", "subject")):
        return None
    index = {name: number for number, name in enumerate(fields)}

    def split(chunk: Chunk) -> FastRows:
        tsv = TsvLines(chunk, len(fields))
        rows = tsv.clean_rows(index["ts"])

        def empty(name: str) -> np.ndarray:
            return tsv.empty(index[name], rows)

        def addresses(name: str) -> np.ndarray:
            listed = pc.match_substring_regex(tsv.text(index[name], rows), _ADDRESS_LIST)
            found: np.ndarray = empty(name) | to_numpy(listed)
            return found

        no_message = empty("mailfrom") & empty("from")
        mailfrom = tsv.text(index["mailfrom"], rows)
        message = to_numpy(pc.match_substring_regex(mailfrom, _ADDRESS)) & ~to_numpy(
            pc.match_substring_regex(mailfrom, _SPECIAL_LOCAL)
        )
        for name in ("rcptto", "to", "cc"):
            message &= addresses(name)
        # The exact parser rejects a time out of range; such a line is left to it.
        taken = rows[message]
        count = len(taken)

        def get(name: str) -> pa.Array:
            return tsv.value(index[name], taken)

        def joined(name: str) -> pa.Array:
            return pc.replace_substring(get(name), ",", ";")

        sender = get("mailfrom")
        uid = pc.fill_null(get("uid"), _S_EMPTY)
        depth = pc.fill_null(get("trans_depth"), _S_EMPTY)
        columns = {
            "user": _local_part(sender),
            "event_id": pc.binary_join_element_wise(_S_ZEEK, uid, _S_COLON, depth, _S_EMPTY),
            "time": epoch_strings(tsv.text(index["ts"], taken)),
            "host": get("id.orig_h"),
            "channel": arrays.repeated("email", count),
            "action": arrays.repeated("send", count),
            "object": pc.coalesce(joined("rcptto"), joined("to")),
            "sender": sender,
            "recipients_to": joined("to"),
            "recipients_cc": joined("cc"),
            "content": get("subject"),
            LINE_COLUMN: arrays.numbers(tsv.numbers[taken]),
            "_account": sender,
            "_ip": pa.nulls(count, pa.string()),
        }
        skipped = np.zeros(len(tsv.numbers), np.bool_)
        skipped[rows[no_message]] = True
        handled = tsv.header | skipped
        handled[taken] = True
        leftover = tsv.numbers[~handled]
        skips = skip_counts(tsv.numbers, tsv.header, "Zeek header line")
        skips += skip_counts(tsv.numbers, skipped, _NO_MESSAGE)
        return event_table(columns, count), leftover.tolist(), _NO_MESSAGE, skips, None

    return split


def _local_part(address: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(address, "@.*$", ""))


_TAB, _NEWLINE, _HASH, _DASH = (ord(text) for text in "\t\n#-")
_EMPTY_WORD = np.frombuffer(b"(empty)", np.uint8)


class TsvLines:
    """The lines of a TSV chunk and where their fields are, found with numpy alone.

    A *shaped* line is printable ASCII and tabs only (no CR, no other control byte, nothing
    outside ASCII), not a `#` line, with exactly `width` fields; only shaped lines have
    fields here. A field is taken out of the chunk's bytes by its start and end offsets
    (one Arrow `take` per field asked for): the chunk is never split as a whole, and lines
    that are not shaped are left to the exact parser (which names invalid UTF-8 itself).

    Attributes:
        numbers: 1-based line numbers of all the chunk's lines.
        header: Which lines are `#` lines of printable ASCII (Zeek's header lines).
        shaped: Indices of the shaped lines, ascending.
    """

    def __init__(self, chunk: Chunk, width: int) -> None:
        data = chunk.data
        self.data = data
        self.bytes = np.frombuffer(data, np.uint8)
        self.width = width
        self.numbers = line_numbers(chunk)
        newlines = np.flatnonzero(self.bytes == _NEWLINE)
        self.tabs = np.flatnonzero(self.bytes == _TAB)
        self.starts = np.concatenate([[0], newlines + 1])[: len(self.numbers)]
        ends = newlines
        if len(ends) < len(self.numbers):  # a last line without its newline
            ends = np.append(ends, len(data))
        self.ends = ends
        printable = np.ones(len(self.numbers), np.bool_)
        # Bytes outside ' '..'~' (uint8 wraps below ' '): more than the tabs and newlines
        # means odd bytes (rare), whose lines are then found.
        outside = (self.bytes - np.uint8(32)) > np.uint8(94)
        if np.count_nonzero(outside) > len(newlines) + len(self.tabs):
            kind = self.bytes[outside]
            odd = np.flatnonzero(outside)[(kind != _NEWLINE) & (kind != _TAB)]
            printable[np.searchsorted(self.starts, odd, side="right") - 1] = False
        # Each line's first tab; the tabs of a line run up to the next line's first one.
        first_tab = np.searchsorted(self.tabs, self.starts)
        tab_count = np.diff(first_tab, append=len(self.tabs))
        nonempty = self.ends > self.starts
        hashed = np.zeros(len(self.numbers), np.bool_)
        hashed[nonempty] = self.bytes[self.starts[nonempty]] == _HASH
        self.header = printable & hashed
        self.shaped = np.flatnonzero(printable & ~hashed & (tab_count == width - 1))
        self.first_tab = first_tab

    def _bounds(self, index: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) offsets of field `index` of the given shaped lines."""
        first = self.first_tab[rows]
        start = self.starts[rows] if index == 0 else self.tabs[first + index - 1] + 1
        end = self.ends[rows] if index == self.width - 1 else self.tabs[first + index]
        return start, end

    def _take(self, start: np.ndarray, end: np.ndarray, valid: np.ndarray | None) -> pa.Array:
        count = len(start)
        if count == 0:
            return arrays.strings([])
        # The chunk viewed as strings [start0, end0), [end0, start1), [start1, end1), ...:
        # the fields are every other one. Rows not in line order are viewed in line order
        # and taken back in theirs.
        picked = np.arange(0, 2 * count, 2, dtype=np.int64)
        if count > 1 and not (start[1:] > start[:-1]).all():
            order = np.argsort(start)
            start, end = start[order], end[order]
            picked[order] = np.arange(0, 2 * count, 2, dtype=np.int64)
        offsets = np.empty(2 * count, np.int64)
        offsets[0::2], offsets[1::2] = start, end
        if offsets[-1] > 2**31 - 1:  # pragma: no cover - chunks are far below 2 GiB
            view: pa.Array = pa.LargeStringArray.from_buffers(
                2 * count - 1, pa.py_buffer(offsets), pa.py_buffer(self.data)
            )
        else:
            view = pa.StringArray.from_buffers(
                2 * count - 1, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(self.data)
            )
        return view.take(arrays.numbers(picked, valid=valid)).cast(pa.string())

    def text(self, index: int, rows: np.ndarray) -> pa.Array:
        """Field `index` of the given shaped lines as written (`-` and `(empty)` too)."""
        start, end = self._bounds(index, rows)
        return self._take(start, end, None)

    def empty(self, index: int, rows: np.ndarray) -> np.ndarray:
        """Which of the given shaped lines have field `index` empty, `-` or `(empty)`."""
        start, end = self._bounds(index, rows)
        return self._empty(start, end - start)

    def _empty(self, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        found: np.ndarray = length == 0
        one = np.flatnonzero(length == 1)
        found[one] = self.bytes[start[one]] == _DASH
        seven = np.flatnonzero(length == len(_EMPTY_WORD))
        if len(seven):
            words = self.bytes[start[seven, None] + np.arange(len(_EMPTY_WORD))]
            found[seven[(words == _EMPTY_WORD).all(axis=1)]] = True
        return found

    def value(self, index: int, rows: np.ndarray) -> pa.Array:
        """Field `index` of the given shaped lines, NULL where Zeek writes `-` or `(empty)`
        (or nothing): the exact parser's `get` gives '' for those."""
        start, end = self._bounds(index, rows)
        return self._take(start, end, ~self._empty(start, end - start))

    def clean_rows(self, ts_index: int) -> np.ndarray:
        """The shaped lines whose `ts` field is epoch seconds (`\\d{9,10}(\\.\\d{1,6})?`)."""
        ts = self.text(ts_index, self.shaped)
        clean: np.ndarray = self.shaped[to_numpy(pc.match_substring_regex(ts, _TS))]
        return clean


# User names the http fast path maps itself (as `account_user` does: lower-cased); others
# (DOMAIN\\name, UPNs, machine and service accounts) take the exact path.
_PLAIN_USER = r"^[A-Za-z0-9._-]+$"
_SPECIAL_USER = r"^(?i:system|anonymous|dwm-.*|umfd-.*)$"
_HTTP_FIELDS = ("ts", "uid", "id.orig_h", "id.resp_h", "trans_depth", "method", "host", "uri")


def zeek_http_fast(fields: tuple[str, ...], named_only: bool = False) -> FastSplit | None:
    """The vectorised split for http.log lines with these fields (None: fields it cannot do).

    Args:
        fields: The log's `#fields`.
        named_only: Map only the requests that name a user; the clean ones naming nobody
            are counted as skipped (`no HTTP user name (client address only)`) without
            being mapped: what `resolve_table` does with them when there is no identity
            map (`LogPlan.fast_named`).
    """
    more = ("request_body_len", "response_body_len", "status_code", "username")
    if any(name not in fields for name in (*_HTTP_FIELDS, *more)):
        return None
    index = {name: number for number, name in enumerate(fields)}

    def split(chunk: Chunk) -> FastRows:
        tsv = TsvLines(chunk, len(fields))
        rows = tsv.clean_rows(index["ts"])
        username = tsv.text(index["username"], rows)
        anonymous = tsv.empty(index["username"], rows)
        plain = to_numpy(pc.match_substring_regex(username, _PLAIN_USER)) & ~to_numpy(
            pc.match_substring_regex(username, _SPECIAL_USER)
        )
        named = rows[plain & ~anonymous]
        unnamed = np.zeros(len(tsv.numbers), np.bool_)
        if named_only:
            taken = named
            unnamed[rows[anonymous]] = True
        else:
            # The requests naming a user first, then the others, each in line order: without
            # an identity map the others are dropped, and that is a slice (`resolve_table`).
            taken = np.concatenate([named, rows[anonymous]])
        count = len(taken)

        def get(name: str) -> pa.Array:
            return tsv.value(index[name], taken)

        def text(name: str) -> pa.Array:
            return pc.fill_null(get(name), _S_EMPTY)

        account = get("username")
        client = get("id.orig_h")
        upload = pc.is_in(pc.utf8_upper(text("method")), _UPLOAD_VALUES)
        size = pc.if_else(upload, get("request_body_len"), get("response_body_len"))
        server = pc.coalesce(get("host"), get("id.resp_h"))
        url = pc.binary_join_element_wise(_S_HTTP, server, text("uri"), _S_EMPTY)
        columns = {
            "user": pc.utf8_lower(account),
            "event_id": pc.binary_join_element_wise(
                _S_ZEEK, text("uid"), _S_COLON, text("trans_depth"), _S_EMPTY
            ),
            "time": epoch_strings(tsv.text(index["ts"], taken)),
            "host": client,
            "channel": arrays.repeated("http", count),
            "action": pc.if_else(upload, _S_UPLOAD, _S_VISIT),
            "object": pc.coalesce(url, get("uri")),
            "size_bytes": pc.if_else(pc.ascii_is_decimal(size), size, _NULL),
            "content": get("status_code"),
            LINE_COLUMN: arrays.numbers(tsv.numbers[taken]),
            "_account": account,
            "_ip": pc.if_else(pc.is_null(account), client, _NULL),
        }
        handled = tsv.header | unnamed
        handled[taken] = True
        leftover = tsv.numbers[~handled]
        skips = skip_counts(tsv.numbers, tsv.header, "Zeek header line")
        skips += skip_counts(tsv.numbers, unnamed, _NO_HTTP_USER)
        return event_table(columns, count), leftover.tolist(), _NO_HTTP_USER, skips, None

    return split
