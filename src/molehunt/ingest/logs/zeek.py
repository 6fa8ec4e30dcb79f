"""Zeek smtp.log (TSV with a `#fields` header) -> email send events."""

from __future__ import annotations

from molehunt.ingest.logs.common import (
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


def zeek_fields(lines: list[bytes]) -> tuple[str, ...]:
    """Return the `#fields` names among a file's first lines (Zeek's default list if none)."""
    for raw in lines:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if text.startswith("#fields\t"):
            return tuple(text.split("\t")[1:])
    return DEFAULT_SMTP_FIELDS


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
