"""Postfix logs -> email send events, one per message accepted by the queue manager.

Lines are syslog (`Mon DD HH:MM:SS host postfix/qmgr[pid]: QUEUEID: from=<a@b>, size=N,
nrcpt=N (queue active)`, or with an ISO 8601 timestamp) or JSON objects with a `message`
field (the body after the syslog prefix) and an optional `timestamp`. Syslog times carry no
year and no zone: `LocalClock` reads them in the `--timezone` zone and the file's year.
"""

from __future__ import annotations

import json
import re

from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import LineParser, Parsed, Reject, Skip, account_user, decode_line

_SYSLOG = re.compile(
    r"^(?:(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)|(?P<iso>\d{4}-\d\d-\d\dT\S+))"
    r" (?P<host>\S+) (?P<program>[\w./-]+?)(?:\[\d+\])?: (?P<body>.*)$"
)
_QUEUED = re.compile(
    r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)"
)
_DELIVERED = re.compile(r"^(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]+)>, .*\bstatus=\w+")


def postfix_parser(clock: LocalClock) -> LineParser:
    """Return a parser for Postfix lines; `clock` reads syslog times (zone, missing year).

    A qmgr `from=<...>, size=N, nrcpt=N` line becomes one `send` event of the sender; the
    delivery lines (`QUEUEID: to=<...>, ..., status=...`) of the same host and queue id in the
    same chunk add their recipients to it and are counted as skipped. Every other Postfix line
    is skipped; a bounce (empty sender) is skipped too.
    """

    def parse(raw: bytes) -> Parsed:
        text = decode_line(raw)
        if isinstance(text, Reject):
            return text
        time: str | None = None
        host: str | None = None
        program = "postfix"
        if text.lstrip().startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                return Reject(f"invalid JSON ({error.msg})")
            if not isinstance(value, dict) or not isinstance(value.get("message"), str):
                return Reject("expected a JSON object with a 'message' string")
            body = value["message"]
            stamp = value.get("timestamp")
            time = None
            if stamp:
                time = clock.iso(str(stamp))
                if time is None:
                    return Reject(f"unparsable timestamp '{str(stamp)[:40]}' (expected ISO 8601)")
        else:
            match = _SYSLOG.match(text)
            if match is None:
                return Reject(
                    "not a syslog line (expected 'Mon DD HH:MM:SS host program[pid]: ...')"
                )
            body, host, program = match["body"], match["host"], match["program"]
            if match["iso"]:
                time = clock.iso(match["iso"])
            else:
                time = clock.parse(" ".join(match["bsd"].split()), "%b %d %H:%M:%S")
            if time is None:
                return Reject(f"unparsable syslog time '{match['bsd'] or match['iso']}'")
            if not program.startswith("postfix"):
                return Skip(f"not a postfix program ({program})")
        queued = _QUEUED.match(body)
        if queued is None:
            delivered = _DELIVERED.match(body)
            if delivered is not None:
                return Skip(
                    f"{program} delivery line (recipient joined to its message)",
                    join=(f"{host or ''}:{delivered['qid']}", delivered["to"]),
                )
            return Skip(f"{program} line not used (only qmgr from= lines are messages)")
        sender = queued["sender"]
        if not sender:
            return Skip("bounce or notification (empty sender)")
        if time is None:
            return Reject("no time (the syslog prefix is missing and there is no 'timestamp')")
        who = account_user(sender)
        if isinstance(who, Skip | Reject):
            return who
        return {
            **who,
            "event_id": f"postfix:{host or ''}:{queued['qid']}",
            "_join": f"{host or ''}:{queued['qid']}",
            "time": time,
            "host": host,
            "channel": "email",
            "action": "send",
            "size_bytes": queued["size"],
            "sender": sender,
        }

    return parse
