"""Exchange message tracking logs (CSV, with or without `#Fields:`) -> email events."""

from __future__ import annotations

import csv

from molehunt.ingest.logs.common import (
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    unnamed,
    with_account,
)

DEFAULT_FIELDS: tuple[str, ...] = (
    "date-time",
    "client-ip",
    "client-hostname",
    "server-ip",
    "server-hostname",
    "source-context",
    "connector-id",
    "source",
    "event-id",
    "internal-message-id",
    "message-id",
    "network-message-id",
    "recipient-address",
    "recipient-status",
    "total-bytes",
    "recipient-count",
    "related-recipient-address",
    "reference",
    "message-subject",
    "sender-address",
    "return-path",
    "message-info",
    "directionality",
    "tenant-id",
    "original-client-ip",
    "original-server-ip",
    "custom-data",
    "transport-traffic-type",
    "log-id",
    "schema-version",
)
"""The Exchange 2013+ field order, used when a file has no `#Fields:` line."""

_ACTIONS = {"SEND": "send", "SENDEXTERNAL": "send", "DELIVER": "receive"}


def fields_from_header(lines: list[bytes]) -> tuple[str, ...]:
    """Return the `#Fields:` list among a file's first lines, or DEFAULT_FIELDS."""
    for raw in lines:
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
        if text.startswith("#Fields:"):
            return tuple(name.strip() for name in text[len("#Fields:") :].split(","))
    return DEFAULT_FIELDS


def exchange_parser(fields: tuple[str, ...] = DEFAULT_FIELDS) -> LineParser:
    """Return a parser for message tracking lines with the given field list.

    SEND and SENDEXTERNAL become `send` events of the sender, DELIVER a `receive` event of
    the first recipient; every other event id (RECEIVE, SUBMIT, HAREDIRECTFAIL, ...) is
    skipped with its id.
    """
    index = {name: number for number, name in enumerate(fields)}
    missing = [n for n in ("date-time", "event-id", "sender-address") if n not in index]

    def parse(raw: bytes) -> Parsed:
        text = decode_line(raw)
        if isinstance(text, Reject):
            return text
        if text.startswith("#"):
            return Skip("header line")
        if missing:
            return Reject(f"the #Fields: line lacks '{missing[0]}'")
        try:
            row = next(csv.reader([text], strict=True))
        except csv.Error as error:
            return Reject(f"malformed CSV ({error})")
        if len(row) != len(fields):
            return Reject(f"expected {len(fields)} fields, found {len(row)}")

        def get(name: str) -> str:
            return row[index[name]] if name in index else ""

        event_id = get("event-id").upper()
        action = _ACTIONS.get(event_id)
        if action is None:
            return Skip(f"event-id {event_id or '(empty)'} not used")
        recipients = [r for r in get("recipient-address").split(";") if r]
        actor = get("sender-address") if action == "send" else (recipients or [""])[0]
        who = account_user(actor)
        if unnamed(who):
            return who
        size = get("total-bytes")
        return with_account(
            who,
            {
                "event_id": f"{get('internal-message-id')}:{event_id}:{get('date-time')}",
                "time": get("date-time"),
                "host": get("client-hostname") or get("server-hostname") or None,
                "channel": "email",
                "action": action,
                "object": ";".join(recipients) or None,
                "size_bytes": size if size.isdigit() else None,
                "sender": get("sender-address") or None,
                "recipients_to": ";".join(recipients) or None,
                "content": get("message-subject") or None,
            },
        )

    return parse
