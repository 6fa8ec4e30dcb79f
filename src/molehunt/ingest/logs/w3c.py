"""W3C extended log files (IIS, Blue Coat ProxySG) -> http events.

Directives start with `#`; `#Fields:` names the space-separated fields of the lines after it
(W3C Working Draft WD-logfile; IIS and Blue Coat both write it). Values with spaces are
double-quoted (Blue Coat) or have their spaces replaced by `+` (IIS); `-` is an empty value.
A later `#Fields:` line (IIS starts a new header after a restart) applies to the lines after
it, in a resumed ingest too. `date` and `time` are UTC in IIS; a log written in local time
is read with `--timezone`.

Fields used (any may be missing): date, time, c-ip, cs-username, cs-method, cs-uri (a whole
URL), cs-uri-scheme, cs-host, cs-uri-port, cs-uri-stem / cs-uri-path, cs-uri-query,
sc-status, sc-bytes, cs-bytes.
"""

from __future__ import annotations

import csv
from pathlib import Path

from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import (
    Event,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
)
from molehunt.ingest.reader import open_binary

DEFAULT_FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "s-ip",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "s-port",
    "cs-username",
    "c-ip",
    "cs(User-Agent)",
    "cs(Referer)",
    "sc-status",
    "sc-substatus",
    "sc-win32-status",
    "time-taken",
)
"""IIS's default W3C field set, used when a file has no `#Fields:` line."""

_UPLOAD_METHODS = {"POST", "PUT"}
_NO_USER = "no user name (client address only)"


def w3c_fields(lines: list[bytes]) -> tuple[str, ...]:
    """The first `#Fields:` list among a file's first lines, or IIS's default."""
    for raw in lines:
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
        if text.startswith("#Fields:"):
            return tuple(text[len("#Fields:") :].split())
    return DEFAULT_FIELDS


def _url(get: dict[str, str]) -> str | None:
    if get.get("cs-uri"):
        return get["cs-uri"]
    path = get.get("cs-uri-stem") or get.get("cs-uri-path") or ""
    query = get.get("cs-uri-query") or ""
    if query and not query.startswith("?"):
        query = "?" + query
    host = get.get("cs-host") or ""
    if host:
        scheme = get.get("cs-uri-scheme") or "http"
        port = get.get("cs-uri-port") or ""
        default = {"http": "80", "https": "443"}.get(scheme)
        host += f":{port}" if port and port != default else ""
        return f"{scheme}://{host}{path}{query}"
    return f"{path}{query}" or None


class W3CParser:
    """The W3C line parser; `clock` reads `date time` (UTC unless told).

    Directive lines are skipped; a `#Fields:` directive changes the fields of later lines,
    so the parser keeps the fields in force (`fields`): an ingest that resumes in the middle
    of a file starts from the last `#Fields:` line before its resume point
    (`fields_before`).

    Args:
        fields: The fields in force at the start (the file's first `#Fields:` list).
        clock: Reads local dates and times.
    """

    def __init__(self, fields: tuple[str, ...], clock: LocalClock) -> None:
        self.fields = fields
        self.clock = clock

    def __call__(self, raw: bytes) -> Parsed:
        """Map one line to an event, a skip (directives, no user) or a reject."""
        clock = self.clock
        text = decode_line(raw)
        if isinstance(text, Reject):
            return text
        if text.startswith("#"):
            if text.startswith("#Fields:"):
                self.fields = tuple(text[len("#Fields:") :].split())
            return Skip("W3C directive line")
        names = self.fields
        try:
            row = next(csv.reader([text], delimiter=" ", quotechar='"', strict=True))
        except csv.Error as error:
            return Reject(f"malformed quoting ({error})")
        if len(row) != len(names):
            return Reject(f"expected {len(names)} space-separated fields, found {len(row)}")
        get = {name: value for name, value in zip(names, row, strict=True) if value != "-"}
        if "date" not in get or "time" not in get:
            return Reject("no date and time (expected the fields date and time)")
        time = clock.parse(f"{get['date']} {get['time']}", "%Y-%m-%d %H:%M:%S")
        if time is None:
            return Reject(
                f"unparsable date time '{get['date'][:20]} {get['time'][:20]}' "
                "(expected YYYY-MM-DD HH:MM:SS)"
            )
        who: Event = {"user": None, "_ip": get.get("c-ip"), "_skip": _NO_USER}
        if get.get("cs-username"):
            named = account_user(get["cs-username"])
            if isinstance(named, Skip | Reject):
                return named
            who = named
        upload = get.get("cs-method", "").upper() in _UPLOAD_METHODS
        size = get.get("cs-bytes" if upload else "sc-bytes", "")
        return {
            **who,
            "time": time,
            "host": get.get("c-ip"),
            "channel": "http",
            "action": "upload" if upload else "visit",
            "object": _url(get),
            "size_bytes": size if size.isdigit() else None,
            "content": get.get("sc-status"),
        }


def w3c_parser(fields: tuple[str, ...], clock: LocalClock) -> W3CParser:
    """Return a parser for W3C extended lines; `clock` reads `date time` (UTC unless told).

    Directive lines are skipped; a `#Fields:` directive changes the fields of later lines.
    """
    return W3CParser(fields, clock)


def fields_before(path: Path, start: int, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The fields in force at offset `start` of `path`: its last `#Fields:` line before
    `start`, else `fields` (what the file's head gave).

    Raises:
        IngestError: The file cannot be read.
    """
    found = fields
    done = 0
    carry = b""
    with open_binary(path) as handle:
        while done < start:
            block = handle.read(min(1 << 20, start - done))
            if not block:
                break
            done += len(block)
            lines = (carry + block).split(b"\n")
            carry = lines.pop()  # a line that goes on in the next block
            for line in lines:
                if line.lstrip(b"\xef\xbb\xbf").startswith(b"#Fields:"):
                    found = w3c_fields([line])
    return found
