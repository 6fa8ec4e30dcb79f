"""Windows EVTX files -> events, through the shared Windows event mapping (`windows.py`).

The `evtx` package (pyevtx-rs) turns each record into JSON; each record becomes one "line"
(its ordinal in the file, 1-based) so the line-based resumable ingest applies unchanged. A
corrupt chunk becomes one rejected line naming the chunk and its byte offset; the records
before and after it are kept.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from molehunt.errors import IngestError
from molehunt.ingest.logs.common import Parsed, Reject, Skip, record_chunks
from molehunt.ingest.logs.windows import map_record, unused_skip
from molehunt.ingest.reader import Chunk

MAGIC = b"ElfFile\x00"
_CHUNK = re.compile(r"chunk number (\d+)")
_HEADER_BYTES = 4096
_CHUNK_BYTES = 65536


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
        fields: dict[str, Any] = record or {}
        # The record's JSON is wrapped as it is (parsing and re-encoding it cost as much as
        # the rest of the mapping); a raw newline can only be whitespace between JSON tokens
        # (compact JSON has none: looked for before replacing).
        data = str(fields["data"])
        if "\n" in data or "\r" in data:
            data = data.replace("\n", " ").replace("\r", " ")
        yield b'{"n":%d,"d":%s}\n' % (int(fields["event_record_id"]), data.encode())


def evtx_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    """Yield an EVTX file's records, one JSON line each, as chunks from offset `start`.

    Offsets are in this line stream, which is the same for the same file, so a resumed
    ingest skips exactly the records already committed (whatever the chunk size was then).
    """
    yield from record_chunks(_record_lines(path), start)


# Most records of a real log are event ids molehunt does not use. Their skip needs only the
# event id, provider and channel, which the `evtx` package writes first, in this order, as
# compact JSON: read them with a pattern instead of decoding the whole record. In JSON a
# quote inside a string is always escaped, so `"Channel":"` can only be a key; the first one
# before the event's data is System's. Any other shape takes the full path.
# An object's inside without nested objects (its strings may hold braces); unrolled.
_FLAT = rb'[^{}"]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^{}"]*)*'
_HEAD = re.compile(
    rb'\{"n":\d+,"d":\{"Event":\{(?:"#attributes":\{' + _FLAT + rb'\},)?"System":\{'
    rb'"Provider":\{"#attributes":\{"Name":"([^"\\]*)"' + _FLAT + rb"\}\},"
    rb'"EventID":(?:(\d{1,9})|\{"#attributes":\{' + _FLAT + rb'\},"#text":(\d{1,9})\}),'
)
_CHANNEL_KEY = b'"Channel":"'
_CHANNEL = re.compile(rb'"Channel":"([^"\\]*)"')
_DATA = re.compile(rb'"(?:EventData|UserData)":')


def _unused_record(raw: bytes) -> Skip | None:
    """The skip of a record of an unused event id, told without decoding it; None: decode."""
    head = _HEAD.match(raw)
    if head is None:
        return None
    at = raw.find(_CHANNEL_KEY, head.end())
    channel = _CHANNEL.match(raw, at) if at >= 0 else None
    if channel is None:  # no Channel, or one with an escape: decode
        return None
    data = _DATA.search(raw, head.end(), at)
    if data is not None:
        return None  # System has no Channel: this one is the event's own data
    return _skip_of(head.group(1), head.group(2) or head.group(3), channel.group(1))


@functools.lru_cache(maxsize=4096)
def _skip_of(provider: bytes, event_id: bytes, channel: bytes) -> Skip | None:
    # A log has few distinct (provider, event id, channel): each is looked at once.
    try:
        return unused_skip(int(event_id), provider.decode().strip(), channel.decode().strip())
    except UnicodeDecodeError:
        return None


def parse_evtx_line(raw: bytes) -> Parsed:
    """Map one EVTX record line (see `evtx_chunks`) to an event, a skip or a reject."""
    skip = _unused_record(raw)
    if skip is not None:
        return skip
    item = json.loads(raw)
    if "error" in item:
        where = f"chunk {item['chunk']} at byte offset {item['offset']}" if "chunk" in item else ""
        return Reject(f"corrupt EVTX {where}: {item['error']}".replace("  ", " "))
    return map_record((item["d"] or {}).get("Event") or {}, item["n"])
