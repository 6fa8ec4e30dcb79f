"""Zeek smtp.log and http.log (TSV with a `#fields` header) -> email send and http events."""

from __future__ import annotations

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


def zeek_smtp_parser(fields: tuple[str, ...] = DEFAULT_SMTP_FIELDS) -> LineParser:
    """Return a parser for smtp.log records: one `send` event per SMTP transaction.

    The sender is MAIL FROM (else the From header); recipients are RCPT TO. Sessions that
    carry no message (banner grabs, scanners) are skipped.
    """
    index = {name: number for number, name in enumerate(fields)}

    def parse(raw: bytes) -> Parsed:
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
