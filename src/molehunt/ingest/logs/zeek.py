"""Zeek smtp.log and http.log (TSV with a `#fields` header) -> email send and http events."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest import arrays
from molehunt.ingest.arrays import FALSE, to_numpy
from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs.common import (
    Event,
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    epoch_iso,
)
from molehunt.ingest.logs.fast import (
    FastRows,
    FastSplit,
    chunk_lines,
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
        if isinstance(who, Skip | Reject):
            return who
        recipients = _addresses(get("rcptto")) or _addresses(get("to"))
        return {
            **who,
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
        }

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
        who: Event = {"user": None, "_ip": client or None, "_skip": _NO_HTTP_USER}
        if get("username"):
            named = account_user(get("username"))
            if isinstance(named, Skip | Reject):
                return named
            who = named
        upload = get("method").upper() in _UPLOAD_METHODS
        size = get("request_body_len") if upload else get("response_body_len")
        server = get("host") or get("id.resp_h")
        return {
            **who,
            "event_id": f"zeek:{get('uid')}:{get('trans_depth')}",
            "time": time,
            "host": client or None,
            "channel": "http",
            "action": "upload" if upload else "visit",
            "object": f"http://{server}{get('uri')}" if server else get("uri") or None,
            "size_bytes": size if size.isdigit() else None,
            "content": get("status_code") or None,
        }

    return parse


# The vectorised smtp.log path (see fast.py). Clean lines: printable ASCII and tabs only, the
# header's field count, an epoch ts; addresses plain (no spaces, brackets or empty items).
_PRINTABLE = r"^[ -~\t]*\n?$"
_TS = r"^\d{9,10}(\.\d{1,6})?$"
_EMPTY = ("-", "(empty)", "")
# Arrow values for compute calls (a Python value there goes through `pa.scalar`, whose first
# call in a process imports pandas: `molehunt.ingest.arrays`).
_EMPTY_VALUES = arrays.strings(list(_EMPTY))
_S_EMPTY, _S_COLON, _S_ZEEK, _S_HTTP, _S_UPLOAD, _S_VISIT = (
    arrays.string_scalar(text) for text in ("", ":", "zeek:", "http://", "upload", "visit")
)
_NULL = pa.nulls(1, pa.string())[0]


def _index(value: int) -> pa.Scalar:
    """A list index as an Arrow scalar (see above)."""
    return arrays.numbers([value])[0]


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

    def split(chunk: Chunk) -> FastRows | None:
        shaped = _shaped(chunk, fields)
        if shaped is None:
            return None
        numbers, header, clean, safe = shaped

        def field(name: str) -> pa.Array:
            return pc.list_element(safe, _index(index[name]))

        def empty(name: str) -> pa.Array:
            return pc.is_in(field(name), _EMPTY_VALUES)

        def addresses(name: str) -> pa.Array:
            return pc.or_(empty(name), pc.match_substring_regex(field(name), _ADDRESS_LIST))

        no_message = pc.and_(clean, pc.and_(empty("mailfrom"), empty("from")))
        message = pc.and_(
            pc.and_(clean, pc.match_substring_regex(field("mailfrom"), _ADDRESS)),
            pc.invert(pc.match_substring_regex(field("mailfrom"), _SPECIAL_LOCAL)),
        )
        for name in ("rcptto", "to", "cc"):
            message = pc.and_(message, addresses(name))
        # The exact parser rejects a time out of range; such a line is left to it.
        handled = pc.or_(pc.or_(header, no_message), message)
        keep = pc.fill_null(message, FALSE)
        rows = safe.filter(keep)
        count = len(rows)

        def get(name: str) -> pa.Array:
            return _value(rows, index[name])

        def joined(name: str) -> pa.Array:
            return pc.replace_substring(get(name), ",", ";")

        sender = get("mailfrom")
        uid = pc.fill_null(get("uid"), _S_EMPTY)
        depth = pc.fill_null(get("trans_depth"), _S_EMPTY)
        columns = {
            "user": _local_part(sender),
            "event_id": pc.binary_join_element_wise(_S_ZEEK, uid, _S_COLON, depth, _S_EMPTY),
            "time": epoch_strings(get("ts")),
            "host": get("id.orig_h"),
            "channel": arrays.repeated("email", count),
            "action": arrays.repeated("send", count),
            "object": pc.coalesce(joined("rcptto"), joined("to")),
            "sender": sender,
            "recipients_to": joined("to"),
            "recipients_cc": joined("cc"),
            "content": get("subject"),
            LINE_COLUMN: arrays.numbers(numbers[to_numpy(keep)]),
            "_account": sender,
            "_ip": pa.nulls(count, pa.string()),
        }
        leftover = numbers[~to_numpy(pc.fill_null(handled, FALSE))]
        skips = skip_counts(numbers, header, "Zeek header line")
        skips += skip_counts(numbers, no_message, _NO_MESSAGE)
        return event_table(columns, count), leftover.tolist(), _NO_MESSAGE, skips, None

    return split


def _local_part(address: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(address, "@.*$", ""))


def _shaped(
    chunk: Chunk, fields: tuple[str, ...]
) -> tuple[np.ndarray, pa.Array, pa.Array, pa.Array] | None:
    """(line numbers, header lines, clean lines, each line's fields) of a TSV chunk.

    Clean: printable ASCII and tabs only, the header's field count and an epoch `ts`; the
    fields of other lines are placeholders. None when the chunk is not UTF-8.
    """
    lines = chunk_lines(chunk)
    if lines is None:
        return None
    printable = pc.match_substring_regex(lines, _PRINTABLE)
    header = pc.and_(printable, pc.starts_with(lines, "#"))
    parts = pc.split_pattern(pc.utf8_rtrim(lines, characters="\n"), "\t")
    shaped = pc.and_(
        pc.and_(printable, pc.invert(header)),
        pc.equal(pc.list_value_length(parts), arrays.numbers([len(fields)], "int32")[0]),
    )
    zeros = pa.ListArray.from_arrays(
        arrays.numbers([0, len(fields)], "int32"), arrays.repeated("0", len(fields))
    )
    safe = pc.if_else(shaped, parts, zeros.cast(parts.type)[0])
    ts = pc.list_element(safe, _index(fields.index("ts")))
    clean = pc.and_(shaped, pc.match_substring_regex(ts, _TS))
    return line_numbers(chunk), header, clean, safe


def _value(rows: pa.Array, index: int) -> pa.Array:
    """A field of the rows, NULL where Zeek writes `-` or `(empty)` (the exact `get`'s '')."""
    value = pc.list_element(rows, _index(index))
    return pc.if_else(pc.is_in(value, _EMPTY_VALUES), _NULL, value)


# User names the http fast path maps itself (as `account_user` does: lower-cased); others
# (DOMAIN\\name, UPNs, machine and service accounts) take the exact path.
_PLAIN_USER = r"^[A-Za-z0-9._-]+$"
_SPECIAL_USER = r"^(?i:system|anonymous|dwm-.*|umfd-.*)$"
_HTTP_FIELDS = ("ts", "uid", "id.orig_h", "id.resp_h", "trans_depth", "method", "host", "uri")


def zeek_http_fast(fields: tuple[str, ...]) -> FastSplit | None:
    """The vectorised split for http.log lines with these fields (None: fields it cannot do)."""
    more = ("request_body_len", "response_body_len", "status_code", "username")
    if any(name not in fields for name in (*_HTTP_FIELDS, *more)):
        return None
    index = {name: number for number, name in enumerate(fields)}

    def split(chunk: Chunk) -> FastRows | None:
        shaped = _shaped(chunk, fields)
        if shaped is None:
            return None
        numbers, header, clean, safe = shaped
        username = pc.list_element(safe, _index(index["username"]))
        anonymous = pc.is_in(username, _EMPTY_VALUES)
        plain = pc.and_(
            pc.match_substring_regex(username, _PLAIN_USER),
            pc.invert(pc.match_substring_regex(username, _SPECIAL_USER)),
        )
        keep = pc.fill_null(pc.and_(clean, pc.or_(anonymous, plain)), FALSE)
        rows = safe.filter(keep)
        count = len(rows)

        def get(name: str) -> pa.Array:
            return _value(rows, index[name])

        def text(name: str) -> pa.Array:
            return pc.fill_null(get(name), _S_EMPTY)

        account = get("username")
        client = get("id.orig_h")
        upload = pc.is_in(pc.utf8_upper(text("method")), arrays.strings(sorted(_UPLOAD_METHODS)))
        size = pc.if_else(upload, get("request_body_len"), get("response_body_len"))
        server = pc.coalesce(get("host"), get("id.resp_h"))
        url = pc.binary_join_element_wise(_S_HTTP, server, text("uri"), _S_EMPTY)
        columns = {
            "user": pc.utf8_lower(account),
            "event_id": pc.binary_join_element_wise(
                _S_ZEEK, text("uid"), _S_COLON, text("trans_depth"), _S_EMPTY
            ),
            "time": epoch_strings(get("ts")),
            "host": client,
            "channel": arrays.repeated("http", count),
            "action": pc.if_else(upload, _S_UPLOAD, _S_VISIT),
            "object": pc.coalesce(url, get("uri")),
            "size_bytes": pc.if_else(pc.match_substring_regex(size, "^[0-9]+$"), size, _NULL),
            "content": get("status_code"),
            LINE_COLUMN: arrays.numbers(numbers[to_numpy(keep)]),
            "_account": account,
            "_ip": pc.if_else(pc.is_null(account), client, _NULL),
        }
        handled = pc.fill_null(pc.or_(header, keep), FALSE)
        leftover = numbers[~to_numpy(handled)]
        skips = skip_counts(numbers, header, "Zeek header line")
        return event_table(columns, count), leftover.tolist(), _NO_HTTP_USER, skips, None

    return split
