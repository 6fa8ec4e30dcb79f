"""Exported Windows events: event XML (wevtutil, saved event lists) and Winlogbeat JSON.

Both are turned into the shape `windows.map_record` reads, so they map exactly as EVTX does.

- `windows-xml`: `wevtutil qe LOG /f:xml` output (`<Event xmlns=...>` elements one after
  another, no root) or a saved list (`<Events><Event>...</Event></Events>`), UTF-8 or UTF-16
  with a byte-order mark. Each `<Event>` becomes one record of a line stream (as EVTX
  records do), so the resumable ingest applies; malformed XML ends the file with one
  rejected record naming the line and column, and the events before it are kept.
- `winlogbeat`: JSON lines as Winlogbeat or Elastic Agent ship them (`winlog.channel`,
  `winlog.event_id`, `winlog.provider_name`, `winlog.computer_name`, `winlog.record_id`,
  `winlog.event_data` / `winlog.user_data`, `winlog.user.identifier`, `@timestamp`); an
  Elasticsearch export's `_source` wrapper is unwrapped.
"""

from __future__ import annotations

import codecs
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from molehunt.errors import IngestError
from molehunt.ingest.logs.common import Parsed, Reject, decode_line, record_chunks
from molehunt.ingest.logs.windows import map_record
from molehunt.ingest.reader import Chunk, open_binary

EVENT_NAMESPACE = b"http://schemas.microsoft.com/win/2004/08/events/event"
_WRAPPER = "molehunt-events"
_READ_BYTES = 1 << 20


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _system(element: ElementTree.Element) -> dict[str, Any]:
    system: dict[str, Any] = {}
    for child in element:
        text = (child.text or "").strip()
        if child.attrib:
            value: dict[str, Any] = {"#attributes": dict(child.attrib)}
            if text:
                value["#text"] = text
            system[_local(child.tag)] = value
        else:
            system[_local(child.tag)] = text
    return system


def element_event(element: ElementTree.Element) -> dict[str, Any]:
    """One `<Event>` element as the dict `map_record` reads (System, EventData, UserData)."""
    event: dict[str, Any] = {}
    for child in element:
        name = _local(child.tag)
        if name == "System":
            event["System"] = _system(child)
        elif name == "EventData":
            event["EventData"] = {
                data.get("Name") or f"Data{index}": (data.text or "")
                for index, data in enumerate(child)
                if _local(data.tag) == "Data"
            }
        elif name == "UserData":
            event["UserData"] = {
                _local(inner.tag): {_local(field.tag): (field.text or "") for field in inner}
                for inner in child
            }
    return event


def _texts(path: Path) -> Iterator[str]:
    """The file's text in pieces, decoded by its byte-order mark, XML declaration removed."""
    with open_binary(path) as handle:
        head = handle.read(_READ_BYTES)
        encoding = "utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        first = decoder.decode(head).lstrip("\ufeff")
        if first.lstrip().startswith("<?xml"):
            first = first.split("?>", 1)[1] if "?>" in first else ""
        yield first
        while piece := handle.read(_READ_BYTES):
            yield decoder.decode(piece)
        yield decoder.decode(b"", final=True)


def _has_system(element: ElementTree.Element) -> bool:
    return any(_local(child.tag) == "System" for child in element)


def _xml_records(path: Path) -> Iterator[bytes]:
    parser: Any = ElementTree.XMLPullParser(events=("end",))
    parser.feed(f"<{_WRAPPER}>")
    ordinal = 0
    try:
        for text in _texts(path):
            parser.feed(text)
            for _, element in parser.read_events():
                if not isinstance(element, ElementTree.Element):
                    continue
                if _local(element.tag) != "Event" or not _has_system(element):
                    continue
                ordinal += 1
                event = element_event(element)
                element.clear()
                record = json.dumps({"n": ordinal, "d": {"Event": event}}, separators=(",", ":"))
                yield record.encode() + b"\n"
        parser.feed(f"</{_WRAPPER}>")
        list(parser.read_events())
        parser.close()
    except ElementTree.ParseError as error:
        line, column = error.position
        message = f"malformed XML at line {line}, column {column}: {error}"
        yield json.dumps({"error": message}).encode() + b"\n"
    except UnicodeDecodeError as error:
        yield json.dumps({"error": f"not UTF-8 or UTF-16 text ({error.reason})"}).encode() + b"\n"
    except IngestError as error:  # corrupt gzip: keep the events before it
        yield json.dumps({"error": str(error).split(": ", 1)[-1]}).encode() + b"\n"


def xml_event_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    """Yield an event XML file's events, one JSON line each, as chunks from offset `start`."""
    yield from record_chunks(_xml_records(path), start)


def parse_xml_record(raw: bytes) -> Parsed:
    """Map one record line of `xml_event_chunks` to an event, a skip or a reject."""
    item = json.loads(raw)
    if "error" in item:
        return Reject(str(item["error"]))
    event = item["d"]["Event"]
    record = (event.get("System") or {}).get("EventRecordID") or item["n"]
    return map_record(event, record)


def winlogbeat_event(value: dict[str, Any]) -> dict[str, Any] | None:
    """A Winlogbeat / Elastic Agent document as the dict `map_record` reads, or None."""
    inner = value.get("_source")
    source: dict[str, Any] = inner if isinstance(inner, dict) else value
    winlog: Any = source.get("winlog")
    if not isinstance(winlog, dict):
        return None
    code = source.get("event")
    event_id = winlog.get("event_id") or (code.get("code") if isinstance(code, dict) else None)
    user: Any = winlog.get("user") if isinstance(winlog.get("user"), dict) else {}
    system: dict[str, Any] = {
        "EventID": event_id,
        "Channel": winlog.get("channel") or "",
        "Computer": winlog.get("computer_name") or "",
        "Provider": {"#attributes": {"Name": winlog.get("provider_name") or ""}},
        "TimeCreated": {"#attributes": {"SystemTime": source.get("@timestamp") or ""}},
        "EventRecordID": winlog.get("record_id"),
        "Task": winlog.get("task") or "",  # its name: "Removable Storage", "File System", ...
    }
    if user.get("identifier"):
        system["Security"] = {"#attributes": {"UserID": user["identifier"]}}
    event: dict[str, Any] = {"System": system}
    if isinstance(winlog.get("event_data"), dict):
        event["EventData"] = winlog["event_data"]
    elif isinstance(winlog.get("user_data"), dict):
        event["EventData"] = winlog["user_data"]
    return event


def parse_winlogbeat_line(raw: bytes) -> Parsed:
    """Map one Winlogbeat JSON line through the shared Windows event mapping."""
    text = decode_line(raw)
    if isinstance(text, Reject):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return Reject(f"invalid JSON ({error.msg})")
    event = winlogbeat_event(value) if isinstance(value, dict) else None
    if event is None:
        return Reject("expected a JSON object with a 'winlog' object (Winlogbeat / Elastic Agent)")
    return map_record(event, event["System"]["EventRecordID"] or "-")
