"""Windows EVTX files (Security, Sysmon) -> logon, file, device and process events.

The `evtx` package (pyevtx-rs) turns each record into JSON; each record becomes one "line"
(its ordinal in the file, 1-based) so the line-based resumable ingest applies unchanged. A
corrupt chunk becomes one rejected line naming the chunk and its byte offset; the records
before and after it are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from molehunt.errors import IngestError
from molehunt.ingest.logs.common import Event, Parsed, Reject, Skip, account_user
from molehunt.ingest.reader import Chunk

MAGIC = b"ElfFile\x00"
_RECORDS_PER_CHUNK = 20_000
_CHUNK = re.compile(r"chunk number (\d+)")
_HEADER_BYTES = 4096
_CHUNK_BYTES = 65536

_LOGON = {4624: "logon", 4634: "logoff", 4647: "logoff", 4648: "logon"}
_FILE = {4656, 4663, 5145}
_SYSMON = "Microsoft-Windows-Sysmon"


def _record_lines(path: Path) -> Iterator[bytes]:
    try:
        import evtx
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise IngestError(f"{path}: reading EVTX needs the 'evtx' package ({error})") from error
    try:
        parser = evtx.PyEvtxParser(str(path))
    except (OSError, RuntimeError) as error:
        raise IngestError(f"{path}: not a readable EVTX file ({error})") from error
    records = parser.records_json()
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except RuntimeError as error:
            message = str(error).splitlines()[0]
            found = _CHUNK.search(message)
            item: dict[str, Any] = {"error": message}
            if found:
                number = int(found.group(1))
                item["chunk"] = number
                item["offset"] = _HEADER_BYTES + number * _CHUNK_BYTES
            yield json.dumps(item).encode() + b"\n"
            continue
        fields: dict[str, Any] = dict(record or {})
        event = json.loads(str(fields["data"])).get("Event", {})
        line = {"n": fields["event_record_id"], "e": event}
        yield json.dumps(line, separators=(",", ":")).encode() + b"\n"


def evtx_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    """Yield an EVTX file's records, one JSON line each, as chunks from offset `start`.

    Offsets are in this line stream, which is the same for the same file, so a resumed
    ingest skips exactly the records already committed (whatever the chunk size was then).
    """
    offset = 0
    line = 1
    batch: list[bytes] = []
    for item in _record_lines(path):
        if offset < start:
            offset += len(item)
            line += 1
            continue
        batch.append(item)
        if len(batch) == _RECORDS_PER_CHUNK:
            chunk = Chunk(b"".join(batch), line, offset, False)
            yield chunk
            offset, line, batch = chunk.end, line + chunk.line_count, []
    if batch:
        yield Chunk(b"".join(batch), line, offset, True)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return _text(value.get("#text"))
    return str(value).strip()


def _time(system: dict[str, Any]) -> str | Reject:
    created = system.get("TimeCreated") or {}
    stamp = _text((created.get("#attributes") or {}).get("SystemTime"))
    if not stamp:
        return Reject("record has no TimeCreated")
    if stamp.startswith("1601-01-01"):
        return Reject("time 1601-01-01 (FILETIME 0: the record carries no time)")
    date, _, rest = stamp.partition("T")
    clock, _, fraction = rest.rstrip("Z").partition(".")
    return f"{date}T{clock}.{fraction[:6] or '0'}Z"


def _access_action(mask_text: str) -> str:
    try:
        mask = int(mask_text, 16)
    except ValueError:
        return "open"
    if mask & 0x10000:  # DELETE
        return "delete"
    if mask & 0x6:  # WriteData / AppendData
        return "write"
    return "open"


def parse_evtx_line(raw: bytes) -> Parsed:
    """Map one EVTX record line (see `evtx_chunks`) to an event, a skip or a reject."""
    item = json.loads(raw)
    if "error" in item:
        where = f"chunk {item['chunk']} at byte offset {item['offset']}" if "chunk" in item else ""
        return Reject(f"corrupt EVTX {where}: {item['error']}".replace("  ", " "))
    event: dict[str, Any] = item["e"]
    system: dict[str, Any] = event.get("System") or {}
    try:
        event_id = int(_text(system.get("EventID")))
    except ValueError:
        return Reject("record has no numeric EventID")
    channel = _text(system.get("Channel"))
    provider = _text(((system.get("Provider") or {}).get("#attributes") or {}).get("Name"))
    data: dict[str, Any] = event.get("EventData") or event.get("UserData") or {}
    if not isinstance(data, dict):
        data = {}
    sysmon = provider.startswith(_SYSMON) or channel.startswith(_SYSMON)
    where = "Sysmon" if sysmon else channel or provider
    mapped = _map(event_id, sysmon, channel, data)
    if mapped is None:
        return Skip(f"{where} event {event_id} not used")
    if isinstance(mapped, Skip | Reject):
        return Skip(f"{where} event {event_id}: {mapped.reason}")
    time = _time(system)
    if isinstance(time, Reject):
        return time
    computer = _text(system.get("Computer"))
    return {
        **mapped,
        "event_id": f"{computer}:{channel}:{item['n']}:{event_id}",
        "time": time,
        "host": computer or None,
    }


def _get(data: dict[str, Any], name: str) -> str:
    value = _text(data.get(name))
    return "" if value == "-" else value


def _map(event_id: int, sysmon: bool, channel: str, data: dict[str, Any]) -> Parsed | None:
    if sysmon:
        if event_id == 1:
            who = account_user(_get(data, "User"))
            if not isinstance(who, dict):
                return who
            return {
                **who,
                "channel": "process",
                "action": "start",
                "object": _get(data, "Image") or None,
                "content": _get(data, "CommandLine") or None,
            }
        if event_id == 11:
            if not _get(data, "User"):
                return Skip("no User field (Sysmon schema before 4.x)")
            who = account_user(_get(data, "User"))
            if not isinstance(who, dict):
                return who
            return {
                **who,
                "channel": "file",
                "action": "write",
                "object": _get(data, "TargetFilename"),
            }
        return None
    if channel != "Security":
        return None
    if event_id in _LOGON:
        prefix = "Subject" if event_id == 4648 else "Target"
        who = account_user(_get(data, f"{prefix}UserName"), _get(data, f"{prefix}DomainName"))
        if not isinstance(who, dict):
            return who
        detail = f"logon type {_get(data, 'LogonType')}" if _get(data, "LogonType") else None
        if event_id == 4648:
            target = f"{_get(data, 'TargetDomainName')}\\{_get(data, 'TargetUserName')}"
            detail = f"explicit credentials {target} to {_get(data, 'TargetServerName')}"
        return {**who, "channel": "logon", "action": _LOGON[event_id], "object": detail}
    if event_id in _FILE:
        if _get(data, "ObjectType") != "File":
            return Skip(f"object type {_get(data, 'ObjectType') or '(none)'}, not a file")
        who = account_user(_get(data, "SubjectUserName"), _get(data, "SubjectDomainName"))
        if not isinstance(who, dict):
            return who
        path = _get(data, "ObjectName")
        if event_id == 5145:
            share = _get(data, "ShareName")
            path = f"{share}\\{_get(data, 'RelativeTargetName')}".rstrip("\\")
        result: Event = {
            **who,
            "channel": "file",
            "action": _access_action(_get(data, "AccessMask")),
            "object": path or None,
            "content": f"access mask {_get(data, 'AccessMask')}"
            if _get(data, "AccessMask")
            else None,
        }
        return result
    if event_id == 6416:
        who = account_user(_get(data, "SubjectUserName"), _get(data, "SubjectDomainName"))
        if not isinstance(who, dict):
            return who
        name = _get(data, "DeviceDescription") or _get(data, "DeviceId")
        kind = _get(data, "ClassName")
        return {
            **who,
            "channel": "device",
            "action": "connect",
            "object": f"{kind}: {name}" if kind else name or None,
            "content": _get(data, "DeviceId") or None,
        }
    return None
