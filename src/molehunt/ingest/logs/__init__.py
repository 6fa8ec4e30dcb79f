"""`molehunt ingest logs`: native logs (EVTX, Squid, Exchange, Zeek, Postfix, CUPS) as events.

Each format maps its records to the event schema (docs/logs.md); the resumable,
reject-keeping file ingest (`molehunt.ingest.source`) does the rest, so every file reports
read = stored + rejected + skipped, and a re-ingest adds nothing.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime
import functools
import itertools
import json
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from molehunt.errors import IngestError
from molehunt.ingest.cert import IngestReport
from molehunt.ingest.logs.clock import DEFAULT_TIMEZONE, LocalClock, load_zone
from molehunt.ingest.logs.common import JOIN_WINDOW_LINES, LineParser, LogPlan
from molehunt.ingest.logs.cups import LINE as _CUPS_LINE
from molehunt.ingest.logs.cups import cups_parser
from molehunt.ingest.logs.directory import IdentityDirectory
from molehunt.ingest.logs.evtx import MAGIC, evtx_chunks, parse_evtx_line
from molehunt.ingest.logs.exchange import exchange_parser, fields_from_header
from molehunt.ingest.logs.messages import OpenMessages
from molehunt.ingest.logs.ocsf import (
    is_json_array,
    is_ocsf,
    ocsf_array_chunks,
    parse_ocsf_line,
    parse_ocsf_record,
)
from molehunt.ingest.logs.postfix import postfix_fast, postfix_parser
from molehunt.ingest.logs.squid import parse_squid, split_squid_fast
from molehunt.ingest.logs.w3c import fields_before, w3c_fast, w3c_fields, w3c_parser
from molehunt.ingest.logs.windows import on_drives
from molehunt.ingest.logs.windows_export import (
    EVENT_NAMESPACE,
    parse_winlogbeat_line,
    parse_xml_record,
    winlogbeat_event,
    xml_event_chunks,
)
from molehunt.ingest.logs.zeek import (
    DEFAULT_HTTP_FIELDS,
    zeek_fields,
    zeek_http_fast,
    zeek_http_parser,
    zeek_smtp_fast,
    zeek_smtp_parser,
)
from molehunt.ingest.reader import Chunk, open_binary, read_chunks
from molehunt.ingest.source import ChunkSource, FileJob, Progress, ingest_files, read_head
from molehunt.store import Store

FORMATS: tuple[str, ...] = (
    "auto",
    "evtx",
    "windows-xml",
    "winlogbeat",
    "squid",
    "zeek-http",
    "w3c",
    "zeek-smtp",
    "exchange",
    "postfix",
    "cups",
    "ocsf",
)
"""Values of `--format`; 'auto' tells them apart by their first bytes."""

_FAST_CHUNK_BYTES = 4 << 20
_SQUID = re.compile(rb"^\d{9,10}\.\d{3} +\d+ \S+ \S+/\d{3} ")
_EXCHANGE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?,")
_SYSLOG_POSTFIX = re.compile(rb"^(\w{3} +\d+ [\d:]{8}|\d{4}-\d\d-\d\dT\S+) \S+ postfix")


def detect_format(path: Path) -> str:
    """Tell a log file's format from its first bytes.

    Raises:
        IngestError: The file is empty, unreadable or of no known format.
    """
    with open_binary(path) as handle:
        if handle.read(len(MAGIC)) == MAGIC:
            return "evtx"
    lines = read_head(path, 12)
    text = b"\n".join(lines)
    if b"<Event" in text and (EVENT_NAMESPACE in text or b"<Events" in text):
        return "windows-xml"
    if text.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        wide = text.decode("utf-16", errors="replace").encode()
        if b"<Event" in wide and EVENT_NAMESPACE in wide:
            return "windows-xml"
    if b"#path\tsmtp" in text or (lines[0].startswith(b"#separator") and b"mailfrom" in text):
        return "zeek-smtp"
    if b"#Software: Microsoft Exchange" in text or b"#Fields: date-time," in text:
        return "exchange"
    if b"#path\thttp" in text or (
        lines[0].startswith(b"#separator") and b"\turi\t" in text and b"\tmethod\t" in text
    ):
        return "zeek-http"
    if b"#Fields:" in text and (b" cs-" in text or b" c-ip" in text):
        return "w3c"
    if is_json_array(text):
        head = b"\n".join(read_head(path, 1 << 16, limit=1 << 16))
        if b'"class_uid"' in head and b'"activity_id"' in head:
            return "ocsf"
    first = next((line for line in lines if line.strip() and not line.startswith(b"#")), b"")
    if _SQUID.match(first):
        return "squid"
    if _EXCHANGE.match(first):
        return "exchange"
    if _SYSLOG_POSTFIX.match(first):
        return "postfix"
    if _CUPS_LINE.match(first.decode("utf-8", errors="replace")):
        return "cups"
    if first.startswith(b"{"):
        try:
            value = json.loads(first)
        except ValueError:
            value = None
        if isinstance(value, dict) and winlogbeat_event(value) is not None:
            return "winlogbeat"
        if is_ocsf(value):
            return "ocsf"
        if isinstance(value, dict) and "message" in value:
            return "postfix"
    raise IngestError(
        f"{path}: cannot tell the log format from its first lines; "
        f"give --format ({', '.join(FORMATS[1:])})"
    )


def plan_for(
    path: Path,
    log_format: str,
    timezone: str = DEFAULT_TIMEZONE,
    removable_drives: frozenset[str] = frozenset(),
) -> tuple[LogPlan, ChunkSource | None]:
    """Return the plan (and, for EVTX, the record source) that reads `path` as `log_format`.

    `timezone` (an IANA name) is the zone of local times without an offset (Postfix syslog,
    CUPS page_log written without one). `removable_drives`: the drive letters removable
    media mount at (Windows formats: file events on them get a removable direction).

    Raises:
        IngestError: `log_format` is unknown.
    """
    windows: dict[str, tuple[LineParser, ChunkSource | None]] = {
        "evtx": (parse_evtx_line, evtx_chunks),
        "windows-xml": (parse_xml_record, xml_event_chunks),
        "winlogbeat": (parse_winlogbeat_line, None),
    }
    if log_format in windows:
        parse, chunks = windows[log_format]
        if removable_drives:
            parse = on_drives(parse, removable_drives)
        return LogPlan(log_format, parse, channel="windows"), chunks
    if log_format == "squid":
        return LogPlan("squid", parse_squid, channel="http", fast=split_squid_fast), _pipelined
    if log_format == "ocsf":
        if is_json_array(b"\n".join(read_head(path, 64, limit=4096))):
            return LogPlan("ocsf", parse_ocsf_record, channel="events"), ocsf_array_chunks
        return LogPlan("ocsf", parse_ocsf_line, channel="events"), None
    if log_format == "zeek-http":
        fields = zeek_fields(read_head(path, 12), DEFAULT_HTTP_FIELDS)
        plan = LogPlan(
            "zeek-http",
            zeek_http_parser(fields),
            "http",
            fast=zeek_http_fast(fields),
            fast_named=zeek_http_fast(fields, named_only=True),
        )
        return plan, _pipelined
    if log_format == "w3c":
        clock = LocalClock.for_file(path, timezone)
        parser = w3c_parser(w3c_fields(read_head(path, 12)), clock)

        def w3c_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
            # A resumed ingest starts with the fields of the last '#Fields:' line before it.
            parser.fields = fields_before(path, start, parser.fields)
            return read_chunks(path, start=start, first_line=first_line)

        return LogPlan("w3c", parser, channel="http", fast=w3c_fast(parser)), w3c_chunks
    if log_format == "exchange":
        fields = fields_from_header(read_head(path, 8))
        return LogPlan("exchange", exchange_parser(fields), channel="email"), None
    if log_format == "zeek-smtp":
        fields = zeek_fields(read_head(path, 12))
        plan = LogPlan("zeek-smtp", zeek_smtp_parser(fields), "email", fast=zeek_smtp_fast(fields))
        return plan, _pipelined
    if log_format == "postfix":
        clock = LocalClock.for_file(path, timezone)
        messages = OpenMessages()
        plan = LogPlan(
            "postfix", postfix_parser(clock), "email", fast=postfix_fast(clock), messages=messages
        )
        messages.plan = plan

        def postfix_chunks(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
            # Messages stay open until their `removed` line: a resumed ingest first reads
            # the file before its resume point again (nothing stored) to know which were
            # open there. `messages.plan` is the plan this file is split with.
            messages.reset()
            rest = _last_marked(_pipelined(path, start, first_line))
            head = next(rest, None)
            if head is None:  # nothing after the resume point (a file ingested already)
                return iter(())
            if start > 0:
                for chunk in read_chunks(path, start=0, chunk_bytes=_FAST_CHUNK_BYTES):
                    if chunk.start >= start:
                        break
                    if chunk.end > start:  # `start` is a line start
                        cut = chunk.data[: start - chunk.start]
                        chunk = Chunk(cut, chunk.first_line, chunk.start, False)
                    (messages.plan or plan).replay(chunk)
                messages.forget_stored()
            return itertools.chain([head], rest)

        return plan, postfix_chunks
    if log_format == "cups":
        clock = LocalClock.for_file(path, timezone)
        return LogPlan("cups", cups_parser(clock), channel="print"), _with_following
    raise IngestError(f"unknown log format '{log_format}' (expected one of {', '.join(FORMATS)})")


def _pipelined(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    # Vectorised formats split a chunk about as fast as DuckDB stores one: smaller chunks
    # let the two overlap (the prefetch thread splits the next while this one is written).
    return read_chunks(path, start=start, first_line=first_line, chunk_bytes=_FAST_CHUNK_BYTES)


def _last_marked(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """The chunks, the final one marked `is_last` even when the file ends with a newline
    (`read_chunks` then ends without one so marked): open messages are stored there."""
    previous = next(chunks, None)
    for chunk in chunks:
        assert previous is not None
        yield previous
        previous = chunk
    if previous is not None:
        yield previous if previous.is_last else dataclasses.replace(previous, is_last=True)


def _with_following(path: Path, start: int, first_line: int) -> Iterator[Chunk]:
    # Formats that join later lines to an event (Postfix deliveries, CUPS pages): each chunk
    # carries the chunks that hold the JOIN_WINDOW_LINES lines after it, so an event at a
    # chunk's end still gets the lines of the next chunk (which counts them itself, as ever).
    waiting: deque[Chunk] = deque()
    after = 0  # lines in the waiting chunks after the first
    for chunk in _pipelined(path, start, first_line):
        waiting.append(chunk)
        after += chunk.line_count if len(waiting) > 1 else 0
        while len(waiting) > 1 and after >= JOIN_WINDOW_LINES:
            yield dataclasses.replace(waiting.popleft(), following=tuple(waiting))
            after -= waiting[0].line_count
    while waiting:
        yield dataclasses.replace(waiting.popleft(), following=tuple(waiting))


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.name.lower() not in ("readme.md", "sources.md")
        )
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder")
    return [path]


def ingest_logs(
    store: Store,
    paths: list[Path],
    log_format: str = "auto",
    progress: Progress | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    removable_drives: frozenset[str] = frozenset(),
) -> IngestReport:
    """Ingest native log files (or folders of them).

    Identities are resolved through the workspace's identity map and LDAP snapshots
    (`directory.py`) as they are when the file is ingested.

    Args:
        store: The workspace.
        paths: Files or folders (folders are read recursively; with 'auto', files of no known
            format are listed as skipped).
        log_format: One of FORMATS.
        progress: Called after every committed chunk.
        timezone: IANA zone of local times that carry no offset (Postfix, CUPS).
        removable_drives: Drive letters removable media mount at (`parse_drives`): a
            Windows file event on one (Sysmon 11, a 4663 of the File System task) gets its
            removable direction; none (the default): only the Removable Storage task's do.

    Returns:
        What happened to each file: read = stored + rejected + skipped; files whose times
        were read in `timezone` or had their year inferred say so in `notes`.

    Raises:
        IngestError: A path is missing, or a named file's format cannot be told.
        ConfigError: `timezone` is not an IANA zone name.
    """
    load_zone(timezone)
    if log_format not in FORMATS:
        raise IngestError(
            f"unknown log format '{log_format}' (expected one of {', '.join(FORMATS)})"
        )
    report = IngestReport()
    work: list[tuple[Path, str]] = []
    for given in paths:
        for path in _files(Path(given)):
            if log_format != "auto":
                read_head(path, 1)
                work.append((path, log_format))
                continue
            try:
                work.append((path, detect_format(path)))
            except IngestError as error:
                if Path(given).is_dir():
                    report.skipped.append((path, str(error).split(": ", 1)[-1]))
                    continue
                raise
    directory = IdentityDirectory.load(store)

    def jobs() -> Iterator[FileJob]:
        for path, found in work:
            plan, chunks = plan_for(path, found, timezone, removable_drives)
            plan = plan.with_identities(directory)
            if plan.messages is not None:
                plan.messages.plan = plan
                plan.messages.stored_lines = functools.partial(_stored_messages, store)
            plans.append(plan)
            yield FileJob(path, plan, chunks)

    plans: list[LogPlan] = []

    # Small files (most EVTX exports) commit several to a transaction; the ledger records
    # the new batches once, before this returns.
    done_files = ingest_files(store, jobs(), "logs", progress)
    for (path, found), done, plan in zip(work, done_files, plans, strict=True):
        found_notes = (
            _time_note(path, found, timezone),
            _open_note(plan),
            _drives_note(found, removable_drives),
        )
        notes = tuple(n for n in found_notes if n)
        report.files.append(dataclasses.replace(done, notes=notes) if notes else done)
    if report.stored:
        store.refresh_events()  # once for all the files (the view lists every batch)
    return report


def _stored_messages(store: Store, messages: list[tuple[str, int, str]]) -> set[int]:
    """Source lines of the (event id, source line, time) Postfix messages already stored."""
    wanted = {(event_id, line, _utc(time)) for event_id, line, time in messages}
    ids = sorted({event_id for event_id, _, _ in messages})
    found: set[int] = set()
    for at in range(0, len(ids), 1000):
        part = ids[at : at + 1000]
        rows = store.query(
            "SELECT event_id, source_line, time FROM events WHERE channel = 'email' "
            f"AND event_id IN ({', '.join('?' * len(part))})",
            part,
        )
        found |= {int(line) for event_id, line, time in rows if (event_id, line, time) in wanted}
    return found


def _utc(text: str) -> datetime.datetime:
    """An ISO 8601 UTC time ('...Z') as the naive UTC datetime DuckDB returns."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _open_note(plan: LogPlan) -> str:
    """What a Postfix file's report says of messages open at its end or resume point."""
    if plan.messages is None:
        return ""
    notes = []
    if plan.messages.open_at_end:
        notes.append(
            f"{plan.messages.open_at_end:,} messages still open at the end of the file (no "
            "'removed' line yet) stored with the recipients seen so far"
        )
    if plan.messages.carried:
        notes.append(
            f"{plan.messages.carried:,} messages opened before the resume point (read by the "
            "interrupted ingest) stored by this one: 'stored' counts them, 'read' does not"
        )
    return "; ".join(notes)


def _drives_note(log_format: str, drives: frozenset[str]) -> str:
    if not drives or log_format not in ("evtx", "windows-xml", "winlogbeat"):
        return ""
    return f"file paths on drives {', '.join(sorted(drives))} read as removable storage"


def _time_note(path: Path, log_format: str, timezone: str) -> str:
    if log_format == "postfix":
        return LocalClock.for_file(path, timezone).describe("syslog times (no zone, no year)")
    if log_format == "cups":
        zone = load_zone(timezone).key
        return f"times without a zone offset (CUPS writes one by default) read as {zone}"
    if log_format == "w3c":
        return f"date and time read as {load_zone(timezone).key} (IIS writes UTC)"
    return ""


__all__ = ["FORMATS", "detect_format", "ingest_logs"]
