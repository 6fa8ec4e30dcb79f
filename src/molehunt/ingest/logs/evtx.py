"""Windows EVTX files -> events, through the shared Windows event mapping (`windows.py`).

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
from molehunt.ingest.logs.common import Parsed, Reject, record_chunks
from molehunt.ingest.logs.windows import map_record
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
        fields: dict[str, Any] = dict(record or {})
        # The record's JSON is wrapped as it is (parsing and re-encoding it cost as much as
        # the rest of the mapping); a raw newline can only be whitespace between JSON tokens.
        data = str(fields["data"]).replace("\n", " ").replace("\r", " ")
        yield b'{"n":%d,"d":%s}\n' % (int(fields["event_record_id"]), data.encode())


def evtx_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    """Yield an EVTX file's records, one JSON line each, as chunks from offset `start`.

    Offsets are in this line stream, which is the same for the same file, so a resumed
    ingest skips exactly the records already committed (whatever the chunk size was then).
    """
    yield from record_chunks(_record_lines(path), start)


def parse_evtx_line(raw: bytes) -> Parsed:
    """Map one EVTX record line (see `evtx_chunks`) to an event, a skip or a reject."""
    item = json.loads(raw)
    if "error" in item:
        where = f"chunk {item['chunk']} at byte offset {item['offset']}" if "chunk" in item else ""
        return Reject(f"corrupt EVTX {where}: {item['error']}".replace("  ", " "))
    return map_record((item["d"] or {}).get("Event") or {}, item["n"])
