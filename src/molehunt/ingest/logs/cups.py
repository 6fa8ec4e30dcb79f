"""CUPS page_log -> print events.

The default line (cupsd-logs(5); `PageLogFormat` in cupsd.conf can change it) is

    printer user job-id date-time page-number num-copies job-billing
        job-originating-host-name job-name media sides

with date-time as in access_log, `[DD/Mon/YYYY:HH:MM:SS +ZZZZ]`. CUPS 2.x writes one line
per job with page-number `total` and the number of sheets; CUPS 1.x writes one line per page
(page-number 1, 2, ...; num-copies of that page). CUPS 1.1 lines end after job-billing or
job-originating-host-name. The job name may contain spaces; media and sides are the last two
fields when present.
"""

from __future__ import annotations

import re

from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import (
    Event,
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    unnamed,
    with_account,
)

LINE = re.compile(
    r"^(?P<printer>\S+) (?P<user>\S+) (?P<job>\d+) \[(?P<time>[^\]]*)\] "
    r"(?P<page>total|\d+) (?P<count>\d+)(?: (?P<rest>.*))?$"
)
_IP = re.compile(r"^[\d.]+$|^[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*$")


def _rest(text: str | None) -> tuple[str, str]:
    """(originating host, job name) from what follows num-copies."""
    fields = (text or "").split(" ")
    host = fields[1] if len(fields) > 1 else ""
    if len(fields) >= 5:
        name = " ".join(fields[2:-2])
    else:
        name = " ".join(fields[2:])
    return host, name


def cups_parser(clock: LocalClock) -> LineParser:
    """Return a parser for page_log lines; `clock` reads a time that has no zone offset.

    A `total` line is one print event (pages = sheets). In a per-page log the job's first
    page is the event and its later pages are skipped, adding their copies to its page count
    (those within JOIN_WINDOW_LINES lines after it, whatever the chunks: `LogPlan.split`).
    """

    def parse(raw: bytes) -> Parsed:
        text = decode_line(raw)
        if isinstance(text, Reject):
            return text
        match = LINE.match(text)
        if match is None:
            return Reject(
                "not a CUPS page_log line (expected 'printer user job-id [date-time] "
                "page-number num-copies ...')"
            )
        stamp = match["time"].strip()
        pattern = "%d/%b/%Y:%H:%M:%S %z" if " " in stamp else "%d/%b/%Y:%H:%M:%S"
        time = clock.parse(stamp, pattern)
        if time is None:
            return Reject(f"unparsable time '{stamp[:40]}' (expected DD/Mon/YYYY:HH:MM:SS +ZZZZ)")
        printer, job, page, count = match["printer"], match["job"], match["page"], match["count"]
        key = f"{printer}:{job}"
        if page not in ("total", "1"):
            return Skip(f"page {page} of a job (added to its job's page count)", join=(key, count))
        host, name = _rest(match["rest"])
        host = "" if host == "-" else host
        who: Parsed = {"user": None, "_skip": "no user name (job without requesting-user-name)"}
        if match["user"] != "-":
            who = account_user(match["user"])
            if unnamed(who):
                return who
        # The print channel's columns (docs/events.md): host = printer, object = document,
        # attachment_count = pages, content = the client machine.
        event: Event = {
            "event_id": f"cups:{key}:{time}",
            "time": time,
            "host": printer,
            "channel": "print",
            "action": "print",
            "object": name if name and name != "-" else None,
            "attachment_count": count,
            "content": host or None,
            "_host": host or None,
        }
        if _IP.match(host):
            event["_ip"] = host
        if page == "1" and isinstance(who, dict):  # a kept-apart account's job: no page join
            event["_join"] = key
        return with_account(who, event)

    return parse
