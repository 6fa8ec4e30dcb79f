"""What every log format shares: one parser per line, identities, the `FilePlan` around it.

A format is a function from one physical line (bytes, no newline) to an `Event` (a dict of
event fields as strings), a `Skip` (well-formed, but nothing molehunt uses) or a `Reject`
(malformed). `LogPlan` turns a chunk of lines into the string table that JSON Lines events
use, so the SQL mapping, the reject-keeping and the resumable commits are the same ones.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from molehunt.ingest.arrays import numbers, strings
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.jsonl import INPUT_FIELDS, JsonLinesPlan
from molehunt.ingest.logs.fast import (
    apply_pages,
    apply_recipients,
    join_table,
    resolve_table,
)
from molehunt.ingest.reader import Chunk
from molehunt.ingest.source import APART_COLUMNS

if TYPE_CHECKING:
    from molehunt.ingest.logs.directory import IdentityDirectory
    from molehunt.ingest.logs.fast import FastSplit
    from molehunt.ingest.logs.messages import OpenMessages

Event = dict[str, str | None]
"""Event fields (docs/events.md) as strings; `time` ISO 8601 UTC; missing fields are None."""


@dataclass(frozen=True)
class Skip:
    """A well-formed line or record that molehunt does not use, and why.

    Args:
        reason: Why, in words (names the event id where there is one).
        join: (key, value) for a line that adds to the event whose `_join` field is `key`:
            a Postfix delivery line's recipient (value None: a `removed` line, which ends
            the message, `messages.py`), a CUPS page line's copies (within JOIN_WINDOW_LINES
            lines after the job's first page).
        kind: `machine` or `service` for a record of a machine or service account: it is
            counted as skipped all the same, but kept apart (`account_events`).
        event: That record's event fields (a fragment, {'user', '_account'}, as
            `account_user` returns it; the whole event once the parser has built it).
    """

    reason: str
    join: tuple[str, str | None] | None = None
    kind: str | None = field(default=None, compare=False)
    event: Event | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Reject:
    """A malformed line or record, and why."""

    reason: str


Parsed = Event | Skip | Reject
LineParser = Callable[[bytes], Parsed]
SplitRows = tuple[pa.Table, pa.Table, list[LineReject], pa.Table | None]
"""A chunk's (rows with `_join`, joins of its lines, rejects and counted skips, the skipped
records of machine and service accounts kept apart (`LogPlan.split_apart`), or None)."""
Apart = list[tuple[int, Event, str, str]]
"""Kept-apart records of machine and service accounts: (line, event, kind, skip reason)."""

# Records (EVTX, event XML) per chunk of a record stream.
RECORDS_PER_CHUNK = 20_000

JOIN_WINDOW_LINES = 20_000
"""How far after a CUPS job's first page its later page lines may be: a rule of the file's
lines, whatever the chunks (Postfix messages are joined while open: `messages.py`)."""


def record_chunks(records: Iterable[bytes], start: int) -> Iterator[Chunk]:
    """Yield a stream of one-line records as chunks, from offset `start` of the stream.

    Offsets count the bytes of the record lines, which are the same for the same file, so a
    resumed ingest skips exactly the records already committed (whatever the chunk size was).

    Args:
        records: The file's records, each one line ending in a newline.
        start: Offset of the first record not yet committed.
    """
    offset = 0
    line = 1
    batch: list[bytes] = []
    for item in records:
        if offset < start:
            offset += len(item)
            line += 1
            continue
        batch.append(item)
        if len(batch) == RECORDS_PER_CHUNK:
            chunk = Chunk(b"".join(batch), line, offset, False)
            yield chunk
            offset, line, batch = chunk.end, line + chunk.line_count, []
    if batch:
        yield Chunk(b"".join(batch), line, offset, True)


_SERVICE_ACCOUNTS = {
    "system",
    "local service",
    "network service",
    "anonymous logon",
    "anonymous",
}
_SERVICE_DOMAINS = {"nt authority", "window manager", "font driver host", "nt service"}


def account_user(name: str | None, domain: str | None = None) -> Parsed:
    """Map an account name to molehunt's user id: the lower-cased account name.

    `DOMAIN\\name` and `name@domain` (UPN or e-mail address) both become `name`. Machine
    accounts (ending in `$`) and Windows service accounts (SYSTEM, LOCAL SERVICE, DWM-1, ...)
    are not people: they come back as a `Skip` with their `kind` and the event fragment
    (`kept_apart`), so they are counted as skipped and stored apart (`account_events`),
    never as a person's events. The parser builds their event with `with_account`.

    Args:
        name: The account as the log spells it.
        domain: A separate domain field (Windows events), if any.

    Returns:
        {'user': id, '_account': the account as written (with its domain)} as an `Event`
        fragment, or a `Skip` saying which kind of account it was.
    """
    written = text = (name or "").strip()
    if "\\" in text:
        domain, text = text.rsplit("\\", 1)
    elif domain and domain.strip() and text:
        written = f"{domain.strip()}\\{text}"
    if "@" in text:
        text = text.split("@", 1)[0]
    lowered = text.lower()
    if lowered in ("", "-"):
        return Skip("no account name")
    who: Event = {"user": lowered, "_account": written}
    if lowered in _SERVICE_ACCOUNTS:
        return Skip(f"service account '{text or '-'}'", kind="service", event=who)
    if lowered.endswith("$"):
        return Skip("machine account", kind="machine", event=who)
    if (domain or "").strip().lower() in _SERVICE_DOMAINS or lowered.startswith(("dwm-", "umfd-")):
        return Skip(f"service account '{text}'", kind="service", event=who)
    return who


def kept_apart(parsed: Parsed) -> bool:
    """Whether `parsed` is a machine or service account's record, kept apart (`Skip.event`)."""
    return isinstance(parsed, Skip) and parsed.event is not None


def unnamed(who: Parsed) -> bool:
    """Whether `who` (from `account_user`) names no account whose event is built: a reject
    or a plain skip (no account name), which the parser returns as it is."""
    return not isinstance(who, dict) and not kept_apart(who)


def with_account(who: Parsed, fields: Event) -> Parsed:
    """The event of `fields` done by the account `who` names (`account_user`).

    Args:
        who: A person's event fragment, or a machine or service account's `Skip` (its
            fragment in `event`): the record's own, completed in place (no copies on the
            path every record takes).
        fields: The rest of the event (overrides the fragment's fields of the same name).

    Returns:
        The event; for a machine or service account, its `Skip` carrying the whole event
        (counted as skipped, stored apart). A reject or plain skip comes back as it is.
    """
    if isinstance(who, dict):
        who.update(fields)
    elif isinstance(who, Skip) and who.event is not None:
        who.event.update(fields)
    return who


def epoch_iso(text: str) -> str | None:
    """Return an epoch-seconds string ('1157689312.049') as ISO 8601 UTC, or None."""
    try:
        seconds = float(text)
    except ValueError:
        return None
    if not 0 < seconds < 32503680000:  # year 1970 .. 3000
        return None
    whole = int(seconds)
    micros = round((seconds - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{_second_iso(whole)}.{micros:06d}Z"


@functools.lru_cache(maxsize=4096)
def _second_iso(whole: int) -> str:
    # Logs are in time order, so consecutive lines share their second: format it once.
    return datetime.datetime.fromtimestamp(whole, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def decode_line(raw: bytes) -> str | Reject:
    """Decode one line as UTF-8 (without a trailing CR), or say why it cannot be."""
    try:
        text = raw.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError as error:
        return Reject(f"invalid UTF-8 at byte {error.start + 1}")
    if not text.strip():
        return Reject("empty line")
    return text


@dataclass(frozen=True)
class LogPlan:
    """Split and map plan for one log file (implements `FilePlan`).

    Args:
        label: The format (squid, exchange, zeek-smtp, postfix, evtx, cups, ...).
        parse: The format's line parser.
        channel: What the file holds, for the report (http, email, windows, print).
        identities: The directory that maps the records' identities to people (None: the
            lower-cased account name is the user, and records without one are skipped).
        fast: The format's vectorised split (`fast.py`), if it has one.
        fast_named: Its split of only the records that name a user, counting the others
            as skipped, if it has one: used instead of `fast` when there is no identity
            map (the others are then skipped anyway, `resolve_table`).
    """

    label: str
    parse: LineParser
    channel: str = "events"
    table: str = "events"
    part: str = ""
    header_lines: int = 0
    identities: IdentityDirectory | None = field(default=None, compare=False, repr=False)
    fast: FastSplit | None = field(default=None, compare=False, repr=False)
    fast_named: FastSplit | None = field(default=None, compare=False, repr=False)
    messages: OpenMessages | None = field(default=None, compare=False, repr=False)
    _memo: dict[int, tuple[bytes, SplitRows]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def split(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject]]:
        """`split_apart` without the kept-apart records (what staging for alerts reads)."""
        table, found, _apart = self.split_apart(chunk)
        return table, found

    def split_apart(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject], pa.Table | None]:
        """Parse each line into event fields; rejects carry their line, skips are counted.

        With a fast split (`fast.py`), its clean rows are taken as they are and only the
        lines it leaves go through the per-line parser. Joined lines (Postfix recipients,
        CUPS pages) are applied over the whole chunk and the lines after it that the chunk
        source passes on (`Chunk.following`), within JOIN_WINDOW_LINES lines of their event.

        Records of machine and service accounts (`Skip.event`: `account_user`, or an
        identity-map entry of kind service or machine) are counted as skipped all the same,
        and come back apart, with their kind and skip reason, for `account_events`; no
        joined lines are applied to them.

        Returns:
            (rows with the event fields and `_line`, rejects and skips sorted by line (a skip
            stands for every line of the chunk skipped for its reason: `LineReject.count`),
            the kept-apart records with the event fields, `_line`, `_kind` and `_reason`, or
            None when there are none).
        """
        kept = self._memo.pop(chunk.start, None)
        if kept is not None and kept[0] is chunk.data:
            table, joins, found, apart = kept[1]
        else:
            table, joins, found, apart = self._split_rows(chunk)
        if self.messages is not None:  # Postfix: joined while the message is open
            table, retries = self.messages.advance(table, joins, chunk.is_last)
            if retries:
                found = sorted([*found, *retries], key=lambda r: (r.line, r.reason))
            return table.select([*INPUT_FIELDS, LINE_COLUMN]), found, apart
        ahead = self._following_joins(chunk)
        if ahead is not None:
            joins = pa.concat_tables([joins, ahead])
        if self.channel == "print":
            table = apply_pages(table, joins, JOIN_WINDOW_LINES)
        else:
            table = apply_recipients(table, joins, JOIN_WINDOW_LINES)
        return table.select([*INPUT_FIELDS, LINE_COLUMN]), found, apart

    def replay(self, chunk: Chunk) -> None:
        """Read a chunk before a resume point again for its open messages (`messages.py`)."""
        if self.messages is not None:
            table, joins, _found, _apart = self._split_rows(chunk)
            self.messages.replay(table, joins)

    def _split_rows(self, chunk: Chunk) -> SplitRows:
        """(rows with `_join`, joins of the chunk's lines, rejects and counted skips)."""
        fast = self.fast
        if self.fast_named is not None and (self.identities is None or self.identities.is_empty()):
            fast = self.fast_named
        rows = fast(chunk) if fast is not None else None
        if rows is None:
            events, joins, rejects, skips, apart = self.parse_lines(chunk.numbered_lines())
            found = _counted(rejects, skips)
            return self.event_table(events), join_table(joins), found, self.apart_table(apart)
        table, leftover, no_user, fast_skips, fast_joins = rows
        wanted = set(leftover)
        numbered = [x for x in chunk.numbered_lines() if x[0] in wanted] if wanted else []
        events, joins, rejects, skips, apart = self.parse_lines(numbered)
        table, resolved_skips, resolved_apart = resolve_table(table, self.identities, no_user)
        if events:
            table = pa.concat_tables([table, self.event_table(events)]).sort_by(LINE_COLUMN)
        all_joins = join_table(joins)
        if fast_joins is not None:
            all_joins = pa.concat_tables([fast_joins, all_joins])
        for skip in [*resolved_skips, *fast_skips]:
            counted = skips.setdefault(skip.reason, [skip.line, 0])
            counted[0] = min(counted[0], skip.line)
            counted[1] += skip.count
        kept_apart = self.apart_table(apart)
        if resolved_apart is not None:
            parts = [resolved_apart] if kept_apart is None else [resolved_apart, kept_apart]
            kept_apart = pa.concat_tables(parts).sort_by(LINE_COLUMN)
        return table, all_joins, _counted(rejects, skips), kept_apart

    def _following_joins(self, chunk: Chunk) -> pa.Table | None:
        """Joins of the chunks after this one that its source passed on, if any.

        Their splits are kept for when they come up themselves (`_memo`): each chunk is
        split once, the lookahead costs nothing but memory.
        """
        if not chunk.following:
            return None
        tables = []
        for ahead in chunk.following:
            kept = self._memo.get(ahead.start)
            if kept is None or kept[0] is not ahead.data:
                kept = (ahead.data, self._split_rows(ahead))
                self._memo[ahead.start] = kept
            tables.append(kept[1][1])
        for start in [start for start in self._memo if start < chunk.following[0].start]:
            del self._memo[start]
        return pa.concat_tables(tables)

    def split_lines(self, numbered: list[tuple[int, bytes]]) -> tuple[pa.Table, list[LineReject]]:
        """The exact path: each (line number, raw line) through the format's line parser."""
        events, _joins, rejects, skips, _apart = self.parse_lines(numbered)
        table = self.event_table(events).select([*INPUT_FIELDS, LINE_COLUMN])
        return table, _counted(rejects, skips)

    def parse_lines(
        self, numbered: list[tuple[int, bytes]]
    ) -> tuple[
        list[tuple[int, Event]],
        list[tuple[int, str, str | None]],
        list[LineReject],
        dict[str, list[int]],
        Apart,
    ]:
        """(events, (line, key, value) joins, rejects, reason -> [first line, count] of skips,
        the skipped records of machine and service accounts, kept apart)."""
        events: list[tuple[int, Event]] = []
        joins: list[tuple[int, str, str | None]] = []
        rejects: list[LineReject] = []
        skips: dict[str, list[int]] = {}
        apart: Apart = []
        for number, raw in numbered:
            try:
                parsed = self.parse(raw)
                if isinstance(parsed, dict):
                    parsed = resolve_event(parsed, self.identities)
            except Exception as error:  # noqa: BLE001 - a parser bug must not lose the line
                parsed = Reject(f"unparsable {self.label} line ({type(error).__name__}: {error})")
            if isinstance(parsed, Skip):
                # A skipped line is only counted by its reason: its text is not kept.
                counted = skips.get(parsed.reason)
                if counted is None:
                    skips[parsed.reason] = [number, 1]
                else:
                    counted[1] += 1
                if parsed.join is not None:
                    joins.append((number, *parsed.join))
                if parsed.event is not None:  # a machine or service account's: kept apart
                    apart.append((number, parsed.event, parsed.kind or "service", parsed.reason))
            elif isinstance(parsed, Reject):
                text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
                rejects.append(LineReject(number, parsed.reason, text))
            else:
                events.append((number, parsed))
        return events, joins, rejects, skips, apart

    def event_table(self, events: list[tuple[int, Event]]) -> pa.Table:
        """The events as string columns plus `_line` and `_join` (the key joined lines add to)."""
        columns: dict[str, list[str | None]] = {name: [] for name in (*INPUT_FIELDS, "_join")}
        lines: list[int] = []
        for number, event in events:
            for name, values in columns.items():
                values.append(event.get(name))
            lines.append(number)
        arrays = {name: strings(values) for name, values in columns.items()}
        arrays[LINE_COLUMN] = numbers(lines)
        return pa.table(arrays).select([*INPUT_FIELDS, LINE_COLUMN, "_join"])

    def apart_table(self, apart: Apart) -> pa.Table | None:
        """Kept-apart records as the event string columns plus `_line`, `_kind`, `_reason`."""
        if not apart:
            return None
        count = len(apart)
        present = {name for _, event, _, _ in apart for name in event}
        # A record names a few of the fields: the others are NULL columns, not lists of None.
        arrays = {
            name: strings([event.get(name) for _, event, _, _ in apart])
            if name in present
            else pa.nulls(count, pa.string())
            for name in INPUT_FIELDS
        }
        arrays[LINE_COLUMN] = numbers([number for number, _, _, _ in apart])
        arrays[APART_COLUMNS[0]] = strings([kind for _, _, kind, _ in apart])
        arrays[APART_COLUMNS[1]] = strings([reason for _, _, _, reason in apart])
        return pa.table(arrays)

    def with_identities(self, identities: IdentityDirectory | None) -> LogPlan:
        """The same plan, resolving identities through `identities`."""
        return dataclasses.replace(self, identities=identities)

    def queries(self, source_id: int, relation: str) -> tuple[str, str]:
        """The JSON Lines mapping: string fields cast to event columns, with reject reasons."""
        return JsonLinesPlan().queries(source_id, relation)

    def group_queries(self, relation: str, source_column: str) -> tuple[str, str]:
        """`queries` over the rows of several files, each row's source id in `source_column`.

        Every log format shares this mapping, so small files of any of them can be written
        together (`molehunt.ingest.source.ingest_files`).
        """
        return JsonLinesPlan().queries(0, relation, source_column)


def _counted(rejects: list[LineReject], skips: dict[str, list[int]]) -> list[LineReject]:
    """Rejects and one counted skip per reason, in line order."""
    found = [
        *rejects,
        *(
            LineReject(first, reason, "", skipped=True, count=count)
            for reason, (first, count) in skips.items()
        ),
    ]
    return sorted(found, key=lambda reject: (reject.line, reject.reason))


def resolve_event(event: Event, directory: IdentityDirectory | None) -> Event | Skip:
    """Resolve an event's identity through `directory` (`directory.py`).

    Without a directory (or an empty one) the event keeps the log's account name, and a
    record that names nobody (a proxy request without a user name) is skipped with the
    parser's `_skip` reason.
    """
    if directory is not None and not directory.is_empty():
        return directory.resolve(event)
    if event.get("user"):
        return event
    return Skip(event.get("_skip") or "no user name")
