"""W3C extended log files (IIS, Blue Coat ProxySG) -> http events.

Directives start with `#`; `#Fields:` names the space-separated fields of the lines after it
(W3C Working Draft WD-logfile; IIS and Blue Coat both write it). Values with spaces are
double-quoted (Blue Coat) or have their spaces replaced by `+` (IIS); `-` is an empty value.
A later `#Fields:` line (IIS starts a new header after a restart) applies to the lines after
it. `date` and `time` are UTC in IIS; a log written in local time is read with
`--timezone`.

Fields used (any may be missing): date, time, c-ip, cs-username, cs-method, cs-uri (a whole
URL), cs-uri-scheme, cs-host, cs-uri-port, cs-uri-stem / cs-uri-path, cs-uri-query,
sc-status, sc-bytes, cs-bytes.
"""

from __future__ import annotations

import csv

from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import (
    Event,
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
)

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


def w3c_parser(fields: tuple[str, ...], clock: LocalClock) -> LineParser:
    """Return a parser for W3C extended lines; `clock` reads `date time` (UTC unless told).

    Directive lines are skipped; a `#Fields:` directive changes the fields of later lines.
    """
    current = {"fields": fields}

    def parse(raw: bytes) -> Parsed:
        text = decode_line(raw)
        if isinstance(text, Reject):
            return text
        if text.startswith("#"):
            if text.startswith("#Fields:"):
                current["fields"] = tuple(text[len("#Fields:") :].split())
            return Skip("W3C directive line")
        names = current["fields"]
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

    return parse
