"""OCSF events (JSON lines, or one JSON array of events) -> file, process, logon, http, email.

Classes read (OCSF 1.x; activity ids as in the schema):

- 1001 File System Activity: 1 Create, 3 Update -> file `write`; 2 Read, 14 Open -> `open`;
  4 Delete -> `delete`; object = `file.path` (else parent_folder + name).
- 1007 Process Activity: 1 Launch -> process `start`; object = `process.file.path`,
  content = `process.cmd_line`.
- 3002 Authentication: 1 Logon -> logon `logon` (object `logon type N` from logon_type_id),
  2 Logoff -> `logoff`; the account is `user` (the one authenticated), else `actor.user`.
- 4002 HTTP Activity: 6 Post, 7 Put -> http `upload`, every other method -> `visit`;
  object = `http_request.url.url_string` (else scheme://hostname/path?query).
- 4009 Email Activity: 1 Send -> email `send` by `email.from`; 2 Receive -> `receive` by the
  first of `email.to`; recipients, subject (content) and size as given.

The acting account is `actor.user` (name, with domain; else uid or email_addr) unless the
class says otherwise; a SID-shaped uid goes to the identity map. Time is `time` (epoch
milliseconds) or `time_dt` (ISO 8601). Other classes and activities are skipped with their
ids.
"""

from __future__ import annotations

import codecs
import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from molehunt.errors import IngestError
from molehunt.ingest.logs.common import (
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    record_chunks,
    unnamed,
    with_account,
)
from molehunt.ingest.reader import Chunk, open_binary

_SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)
_FILE_ACTIONS = {1: "write", 2: "open", 3: "write", 4: "delete", 14: "open"}
_CLASSES = {1001: "File System Activity", 1007: "Process Activity", 3002: "Authentication"}
_CLASSES.update({4002: "HTTP Activity", 4009: "Email Activity"})


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def _time(event: dict[str, Any]) -> str | None:
    stamp = event.get("time")
    if (
        isinstance(stamp, int | float)
        and not isinstance(stamp, bool)
        and 0 < stamp < 32503680000000
    ):
        moment = datetime.datetime.fromtimestamp(stamp / 1000, datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = _text(event.get("time_dt"))
    if text:
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None


def _who(user: dict[str, Any]) -> Parsed:
    name = _text(user.get("name")) or _text(user.get("email_addr")) or _text(user.get("uid"))
    who = account_user(name, _text(user.get("domain")) or None)
    if isinstance(who, dict) and _SID.match(_text(user.get("uid"))):
        who["_sid"] = _text(user.get("uid"))
    return who


def _addresses(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [_text(item) for item in items if _text(item)]


def _url(request: dict[str, Any]) -> str | None:
    url = _object(request.get("url"))
    if _text(url.get("url_string")):
        return _text(url.get("url_string"))
    host = _text(url.get("hostname"))
    path = _text(url.get("path"))
    query = _text(url.get("query_string"))
    if not host and not path:
        return None
    scheme = _text(url.get("scheme")) or "http"
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _map(class_uid: int, activity: int, event: dict[str, Any]) -> Parsed | None:
    actor = _object(_object(event.get("actor")).get("user"))
    if class_uid == 1001:
        action = _FILE_ACTIONS.get(activity)
        if action is None:
            return None
        file = _object(event.get("file"))
        path = _text(file.get("path")) or "\\".join(
            part for part in (_text(file.get("parent_folder")), _text(file.get("name"))) if part
        )
        return with_account(
            _who(actor), {"channel": "file", "action": action, "object": path or None}
        )
    if class_uid == 1007:
        if activity != 1:
            return None
        process = _object(event.get("process"))
        who = _who(actor or _object(process.get("user")))
        if unnamed(who):
            return who
        return with_account(
            who,
            {
                "channel": "process",
                "action": "start",
                "object": _text(_object(process.get("file")).get("path"))
                or _text(process.get("name"))
                or None,
                "content": _text(process.get("cmd_line")) or None,
            },
        )
    if class_uid == 3002:
        if activity not in (1, 2):
            return None
        who = _who(_object(event.get("user")) or actor)
        if unnamed(who):
            return who
        logon_type = _text(event.get("logon_type_id"))
        detail = f"logon type {logon_type}" if activity == 1 and logon_type else None
        action = "logon" if activity == 1 else "logoff"
        return with_account(who, {"channel": "logon", "action": action, "object": detail})
    if class_uid == 4002:
        return _map_http(activity, event, actor)
    if class_uid == 4009:
        return _map_email(activity, event, actor)
    return None


def _map_http(activity: int, event: dict[str, Any], actor: dict[str, Any]) -> Parsed:
    request = _object(event.get("http_request"))
    response = _object(event.get("http_response"))
    source = _object(event.get("src_endpoint"))
    who: Parsed = {
        "user": None,
        "_ip": _text(source.get("ip")) or None,
        "_skip": "no user (client address only)",
    }
    if actor:
        who = _who(actor)
        if unnamed(who):
            return who
    method = _text(request.get("http_method")).upper()
    upload = activity in (6, 7) or method in ("POST", "PUT")
    size = _text((request if upload else response).get("length"))
    return with_account(
        who,
        {
            "host": _text(source.get("ip")) or _text(source.get("hostname")) or None,
            "channel": "http",
            "action": "upload" if upload else "visit",
            "object": _url(request),
            "size_bytes": size if size.isdigit() else None,
            "content": _text(response.get("code")) or None,
        },
    )


def _map_email(activity: int, event: dict[str, Any], actor: dict[str, Any]) -> Parsed | None:
    if activity not in (1, 2):
        return None
    email = _object(event.get("email"))
    sender = _text(email.get("from")) or _text(email.get("smtp_from"))
    recipients = _addresses(email.get("to")) or _addresses(email.get("smtp_to"))
    account = sender if activity == 1 else (recipients or [""])[0]
    who = _who({"name": account}) if account else _who(actor)
    if unnamed(who):
        return who
    size = _text(email.get("size"))
    return with_account(
        who,
        {
            "channel": "email",
            "action": "send" if activity == 1 else "receive",
            "object": ";".join(recipients) or None,
            "size_bytes": size if size.isdigit() else None,
            "sender": sender or None,
            "recipients_to": ";".join(recipients) or None,
            "recipients_cc": ";".join(_addresses(email.get("cc"))) or None,
            "content": _text(email.get("subject")) or None,
        },
    )


def is_ocsf(value: object) -> bool:
    """Tell whether a parsed JSON value looks like an OCSF event (a class and an activity)."""
    return isinstance(value, dict) and "class_uid" in value and "activity_id" in value


def parse_ocsf_line(raw: bytes) -> Parsed:
    """Map one OCSF JSON line to an event, a skip (other classes, activities) or a reject."""
    text = decode_line(raw)
    if isinstance(text, Reject):
        return text
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        return Reject(f"invalid JSON ({error.msg})")
    return map_ocsf_event(event)


def map_ocsf_event(event: Any) -> Parsed:
    """Map one parsed OCSF event to an event, a skip (other classes, activities) or a reject."""
    if not is_ocsf(event):
        return Reject("expected an OCSF event object with class_uid and activity_id")
    try:
        class_uid, activity = int(event["class_uid"]), int(event["activity_id"])
    except (TypeError, ValueError):
        return Reject("class_uid and activity_id must be integers")
    name = _CLASSES.get(class_uid)
    if name is None:
        return Skip(f"OCSF class {class_uid} not used")
    mapped = _map(class_uid, activity, event)
    if mapped is None:
        return Skip(f"OCSF {name} ({class_uid}) activity {activity} not used")
    if isinstance(mapped, Reject) or (isinstance(mapped, Skip) and mapped.event is None):
        return Skip(f"OCSF {name} ({class_uid}): {mapped.reason}")
    fields = mapped.event if isinstance(mapped, Skip) else mapped
    assert fields is not None  # kept apart: the account's skip carries its event
    time = _time(event)
    if time is None:
        if isinstance(mapped, Skip):  # an account's event without a time: not kept
            return Skip(f"OCSF {name} ({class_uid}): {mapped.reason}")
        return Reject("no time (expected 'time' in epoch milliseconds or 'time_dt' ISO 8601)")
    metadata = _object(event.get("metadata"))
    device = _object(event.get("device"))
    row = {
        "host": _text(device.get("hostname")) or _text(device.get("name")) or None,
        **fields,
        "event_id": _text(metadata.get("uid")) or None,
        "time": time,
    }
    if isinstance(mapped, Skip):  # a machine or service account: skipped, kept apart
        return Skip(f"OCSF {name} ({class_uid}): {mapped.reason}", kind=mapped.kind, event=row)
    return row


_READ_BYTES = 1 << 20
_SPACE = re.compile(r"\s*")


def ocsf_array_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    """Yield a JSON array file's elements, one JSON line each, as chunks from offset `start`.

    An OCSF export may be one JSON array of events instead of JSON lines; each element
    becomes a record line (its "line" is its ordinal in the array), so the resumable line
    ingest applies. Malformed JSON ends the file with one reject naming its line and column;
    the elements before it are kept.
    """
    yield from record_chunks(_array_records(path), start)


def parse_ocsf_record(raw: bytes) -> Parsed:
    """Map one record line of `ocsf_array_chunks` to an event, a skip or a reject."""
    item = json.loads(raw)
    if "error" in item:
        return Reject(str(item["error"]))
    return map_ocsf_event(item["d"])


def is_json_array(head: bytes) -> bool:
    """Tell whether a file's first bytes open a JSON array (after a BOM and white space)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


class _ArrayText:
    """The text of a JSON array file, read on as the decoding needs it."""

    def __init__(self, path: Path) -> None:
        self.pieces = _texts(path)
        self.text = ""
        self.position = 0
        self.lines_before = 0  # newlines in the text already handed on and dropped
        self.columns_before = 0  # characters of the current line dropped
        self.done = False

    def more(self) -> bool:
        """Read the next piece (dropping the text before `position`); False at the end."""
        piece: str | None = ""
        while not piece and not self.done:
            piece = next(self.pieces, None)
            self.done = piece is None
        if not piece:
            return False
        dropped = self.text[: self.position]
        newlines = dropped.count("\n")
        self.lines_before += newlines
        if newlines:
            self.columns_before = len(dropped) - dropped.rfind("\n") - 1
        else:
            self.columns_before += len(dropped)
        self.text, self.position = self.text[self.position :] + piece, 0
        return True

    def next_char(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            self.position = _SPACE.match(self.text, self.position).end()  # type: ignore[union-attr]
            if self.position < len(self.text):
                return self.text[self.position]
            if not self.more():
                return ""

    def error(self, message: str, at: int | None = None) -> bytes:
        """A record line that rejects the rest of the file, naming the line and column."""
        at = self.position if at is None else at
        line = self.lines_before + self.text.count("\n", 0, at) + 1
        start = self.text.rfind("\n", 0, at)
        column = at - start if start >= 0 else self.columns_before + at + 1
        found = f"malformed JSON array at line {line}, column {column}: {message}"
        return json.dumps({"error": found}).encode() + b"\n"


def _array_records(path: Path) -> Iterator[bytes]:
    """The array's elements as `{"n": ordinal, "d": element}` lines, then an error line if any.

    Read in 1 MiB pieces: an element cut by a piece's end is decoded again with more text,
    so memory holds the element being read, not the whole file.
    """
    source = _ArrayText(path)
    try:
        yield from _array_items(source)
    except IngestError as error:  # not UTF-8, a corrupt gzip: keep the elements before it
        yield json.dumps({"error": str(error).split(": ", 1)[-1]}).encode() + b"\n"


def _array_items(source: _ArrayText) -> Iterator[bytes]:
    decoder = json.JSONDecoder()
    if source.next_char() != "[":
        yield source.error("expected a JSON array '[' of OCSF events")
        return
    source.position += 1
    ordinal = 0
    while True:
        char = source.next_char()
        if char == "]" and ordinal == 0 or char == "":
            break
        try:
            value, end = decoder.raw_decode(source.text, source.position)
        except json.JSONDecodeError as failure:
            if source.more():
                continue  # the element may go on in the next piece
            yield source.error(failure.msg, failure.pos)
            return
        if end == len(source.text) and source.more():
            continue  # a number (or the element) may go on in the next piece
        ordinal += 1
        yield json.dumps({"n": ordinal, "d": value}, separators=(",", ":")).encode() + b"\n"
        source.position = end
        char = source.next_char()
        if char == "]":
            break
        if char != ",":
            yield source.error("expected ',' or ']' after an element")
            return
        source.position += 1
    if char == "":
        yield source.error("the array is not closed (expected ']')")
        return
    source.position += 1
    if source.next_char():
        yield source.error("text after the array's closing ']'")


def _texts(path: Path) -> Iterator[str]:
    """The file's text (UTF-8, a BOM dropped) in pieces; bad bytes end it as an IngestError."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    try:
        with open_binary(path) as handle:
            while piece := handle.read(_READ_BYTES):
                yield decoder.decode(piece)
            yield decoder.decode(b"", final=True)
    except UnicodeDecodeError as failure:
        raise IngestError(f"{path}: not UTF-8 text ({failure.reason})") from failure
