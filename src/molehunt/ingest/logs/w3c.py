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
import datetime
import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest import arrays
from molehunt.ingest.arrays import FALSE, to_numpy
from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import (
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    unnamed,
    with_account,
)
from molehunt.ingest.logs.fast import (
    FastRows,
    FastSplit,
    chunk_lines,
    event_table,
    iso_seconds,
    line_numbers,
)
from molehunt.ingest.reader import Chunk, open_binary

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
        who: Parsed = {"user": None, "_ip": get.get("c-ip"), "_skip": _NO_USER}
        if get.get("cs-username"):
            who = account_user(get["cs-username"])
            if unnamed(who):
                return who
        upload = get.get("cs-method", "").upper() in _UPLOAD_METHODS
        size = get.get("cs-bytes" if upload else "sc-bytes", "")
        return with_account(
            who,
            {
                "time": time,
                "host": get.get("c-ip"),
                "channel": "http",
                "action": "upload" if upload else "visit",
                "object": _url(get),
                "size_bytes": size if size.isdigit() else None,
                "content": get.get("sc-status"),
            },
        )


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


# The vectorised path (see fast.py): per `#Fields:` section, lines of printable ASCII without
# quotes, single spaces between fields (so a plain split is csv's split), the section's
# field count, `YYYY-MM-DD` and `HH:MM:SS`, and a plain user name (or none). Sections with
# cs-host or cs-uri (Blue Coat's URL parts), repeated field names or no date and time, and
# every other line, take the exact parser.
_CLEAN_LINE = r"^[!#-~]+( [!#-~]+)*\n?$"
_DATE = r"^\d{4}-\d\d-\d\d$"
_TIME = r"^\d\d:\d\d:\d\d$"
_PLAIN_USER = r"^[A-Za-z0-9._-]+$"
_SPECIAL_USER = r"^(?i:system|anonymous|dwm-.*|umfd-.*)$"
_DIGITS = r"^[0-9]+$"
_DATE_TIME = "%Y-%m-%d %H:%M:%S"


def w3c_fast(parser: W3CParser) -> FastSplit:
    """The vectorised split of W3C lines, with the fields `parser` has in force (the parser
    takes the directive lines, so it follows every `#Fields:` line as it reads them)."""

    def split(chunk: Chunk) -> FastRows | None:
        lines = chunk_lines(chunk)
        if lines is None:
            return None
        numbers = line_numbers(chunk)
        fields = parser.fields
        taken_tables: list[pa.Table] = []
        handled = np.zeros(len(numbers), bool)
        # The sections: each `#Fields:` line starts one (its fields as the parser reads them).
        starts = np.flatnonzero(to_numpy(pc.starts_with(lines, "#Fields:")))
        bounds = [0, *(int(at) + 1 for at in starts), len(numbers)]
        for index, (low, high) in enumerate(itertools.pairwise(bounds)):
            if index > 0:
                # As the parser reads it: without its newline and trailing CRs.
                text = lines[int(starts[index - 1])].as_py().removesuffix("\n").rstrip("\r")
                fields = tuple(text[len("#Fields:") :].split())
            if high > low:
                rows = _section(lines.slice(low, high - low), numbers[low:high], fields, parser)
                if rows is not None:
                    table, done = rows
                    taken_tables.append(table)
                    handled[low:high] = done
        leftover = numbers[~handled].tolist()
        if not taken_tables:
            return event_table({LINE_COLUMN: arrays.numbers([])}, 0), leftover, _NO_USER, [], None
        table = pa.concat_tables(taken_tables)
        return table, leftover, _NO_USER, [], None

    return split


def _section(
    lines: pa.Array, numbers: np.ndarray, fields: tuple[str, ...], parser: W3CParser
) -> tuple[pa.Table, np.ndarray] | None:
    """(rows of the clean lines of one section, which lines they are); None: none clean."""
    names = set(fields)
    if not {"date", "time"} <= names or names & {"cs-host", "cs-uri"} or len(names) < len(fields):
        return None
    clean = to_numpy(
        pc.and_(
            pc.match_substring_regex(lines, _CLEAN_LINE),
            pc.invert(pc.starts_with(lines, "#")),
        )
    )
    rows = np.flatnonzero(clean)
    if len(rows) == 0:
        return None
    parts = pc.split_pattern(pc.utf8_rtrim(lines.take(arrays.numbers(rows)), "\n"), " ")
    count_ok = to_numpy(pc.equal(pc.list_value_length(parts), _i32(len(fields))))
    rows, parts = rows[count_ok], parts.filter(arrays.booleans(count_ok))
    flat = parts.values
    offsets = np.frombuffer(parts.buffers()[1], np.int32, len(parts) + 1, parts.offset * 4)

    def raw(name: str) -> pa.Array:
        return flat.take(arrays.numbers(offsets[:-1] + fields.index(name)))

    def get(name: str) -> pa.Array:
        if name not in names:
            return pa.nulls(len(parts), pa.string())
        value = raw(name)
        return pc.if_else(pc.equal(value, _DASH), _NULL, value)

    date, time = raw("date"), raw("time")
    user = get("cs-username")
    stamped = pc.and_(pc.match_substring_regex(date, _DATE), pc.match_substring_regex(time, _TIME))
    good = pc.and_(
        stamped,
        pc.or_kleene(  # Kleene: no user (NULL) is true whatever the patterns give
            pc.is_null(user),
            pc.and_(
                pc.match_substring_regex(user, _PLAIN_USER),
                pc.invert(pc.match_substring_regex(user, _SPECIAL_USER)),
            ),
        ),
    )
    # Lines without a well-formed stamp are the exact parser's: read a placeholder for them.
    date = pc.if_else(stamped, date, _EPOCH_DAY)
    seconds = _seconds(date, pc.if_else(stamped, time, _MIDNIGHT), parser.clock)
    good = to_numpy(pc.fill_null(pc.and_(good, pc.is_valid(seconds)), FALSE))
    if not good.any():
        return None
    mask = arrays.booleans(good)
    rows, count = rows[good], int(good.sum())

    def keep(array: pa.Array) -> pa.Array:
        return array.filter(mask)

    user, seconds = keep(user), keep(seconds)
    method = keep(get("cs-method"))
    upload = pc.fill_null(pc.is_in(pc.utf8_upper(method), _UPLOADS), FALSE)
    size = pc.if_else(upload, keep(get("cs-bytes")), keep(get("sc-bytes")))
    size = pc.if_else(pc.fill_null(pc.match_substring_regex(size, _DIGITS), FALSE), size, _NULL)
    base = pc.coalesce(keep(get("cs-uri-stem")), keep(get("cs-uri-path")), _EMPTY)
    query = keep(get("cs-uri-query"))
    query = pc.if_else(
        pc.starts_with(query, "?"), query, pc.binary_join_element_wise(_QUESTION, query, _EMPTY)
    )
    url = pc.binary_join_element_wise(base, pc.coalesce(query, _EMPTY), _EMPTY)
    client = keep(get("c-ip"))
    columns = {
        "user": pc.utf8_lower(user),
        "time": pc.binary_join_element_wise(iso_seconds(seconds), _Z, _EMPTY),
        "host": client,
        "channel": arrays.repeated("http", count),
        "action": pc.if_else(upload, _UPLOAD, _VISIT),
        "object": pc.if_else(pc.equal(url, _EMPTY), _NULL, url),
        "size_bytes": size,
        "content": keep(get("sc-status")),
        LINE_COLUMN: arrays.numbers(numbers[rows]),
        "_account": user,
        "_ip": pc.if_else(pc.is_null(user), client, _NULL),
    }
    done = np.zeros(len(numbers), bool)
    done[rows] = True
    return event_table(columns, count), done


def _seconds(date: pa.Array, time: pa.Array, clock: LocalClock) -> pa.Array:
    """Epoch seconds of `date time` as `clock.parse` reads them (NULL: the exact parser).

    The clock is asked once per distinct hour (its first and last second); an hour with a
    zone change in it, an invalid date, or minutes / seconds over 59 are left to the parser.
    """
    hour_key = pc.binary_join_element_wise(date, pc.utf8_slice_codeunits(time, 0, 2), _SPACE)
    minute = pc.cast(pc.utf8_slice_codeunits(time, 3, 5), pa.int64(), safe=False)
    second = pc.cast(pc.utf8_slice_codeunits(time, 6, 8), pa.int64(), safe=False)
    unique = pc.unique(hour_key)
    starts: list[int] = []
    known: list[bool] = []
    for text in unique.to_pylist():
        start = _epoch(clock.parse(f"{text}:00:00", _DATE_TIME))
        end = _epoch(clock.parse(f"{text}:59:59", _DATE_TIME))
        regular = start is not None and end is not None and end - start == 3599
        starts.append(start if regular and start is not None else 0)
        known.append(regular)
    base = pc.take(
        arrays.numbers(starts, valid=np.array(known, bool)), pc.index_in(hour_key, unique)
    )
    in_range = pc.and_(pc.less(minute, _i64(60)), pc.less(second, _i64(60)))
    total = pc.add(base, pc.add(pc.multiply(minute, _i64(60)), second))
    return pc.if_else(in_range, total, pa.nulls(1, pa.int64())[0])


def _epoch(iso: str | None) -> int | None:
    if iso is None:
        return None
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _i32(value: int) -> pa.Scalar:
    return arrays.numbers([value], "int32")[0]


def _i64(value: int) -> pa.Scalar:
    return arrays.numbers([value])[0]


_DASH, _EMPTY, _Z, _SPACE, _QUESTION = (
    arrays.string_scalar(text) for text in ("-", "", "Z", " ", "?")
)
_UPLOAD, _VISIT = arrays.string_scalar("upload"), arrays.string_scalar("visit")
_EPOCH_DAY, _MIDNIGHT = arrays.string_scalar("1970-01-01"), arrays.string_scalar("00:00:00")
_UPLOADS = arrays.strings(sorted(_UPLOAD_METHODS))
_NULL = pa.nulls(1, pa.string())[0]
