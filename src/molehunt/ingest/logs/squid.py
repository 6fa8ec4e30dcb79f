"""Squid native access.log -> http events.

`time elapsed client code/status bytes method URL user hierarchy/peer type`, whitespace
separated, time in epoch seconds with milliseconds (UTC).
"""

from __future__ import annotations

from molehunt.ingest.logs.common import (
    Event,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    epoch_iso,
)

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
