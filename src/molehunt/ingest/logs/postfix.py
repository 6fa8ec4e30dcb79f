"""Postfix logs -> email send events, one per message accepted by the queue manager.

Lines are syslog (`Mon DD HH:MM:SS host postfix/qmgr[pid]: QUEUEID: from=<a@b>, size=N,
nrcpt=N (queue active)`, or with an ISO 8601 timestamp) or JSON objects with a `message`
field (the body after the syslog prefix) and an optional `timestamp`. Syslog times carry no
year and no zone: `LocalClock` reads them in the `--timezone` zone and the file's year.
"""

from __future__ import annotations

import datetime
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest import arrays
from molehunt.ingest.arrays import FALSE, booleans, to_numpy
from molehunt.ingest.arrays import string_scalar as _s
from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import (
    Event,
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    decode_line,
    unnamed,
    with_account,
)
from molehunt.ingest.logs.fast import (
    JOIN_SCHEMA,
    FastRows,
    FastSplit,
    chunk_lines,
    event_table,
    iso_seconds,
    line_numbers,
    skip_counts,
)
from molehunt.ingest.reader import Chunk

_SYSLOG = re.compile(
    r"^(?:(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)|(?P<iso>\d{4}-\d\d-\d\dT\S+))"
    r" (?P<host>\S+) (?P<program>[\w./-]+?)(?:\[\d+\])?: (?P<body>.*)$"
)
_QUEUED = re.compile(
    r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)"
)
_DELIVERED = re.compile(r"^(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]+)>, .*\bstatus=\w+")
_REMOVED = re.compile(r"^(?P<qid>[0-9A-Za-z]+): removed *$")


def postfix_parser(clock: LocalClock) -> LineParser:
    """Return a parser for Postfix lines; `clock` reads syslog times (zone, missing year).

    A qmgr `from=<...>, size=N, nrcpt=N` line becomes one `send` event of the sender; the
    delivery lines (`QUEUEID: to=<...>, ..., status=...`) of the same host and queue id up
    to its `QUEUEID: removed` line add their recipients to it (`messages.OpenMessages`) and
    are counted as skipped. Every other Postfix line is skipped (a `removed` line carries a
    join with no value: it closes the message); a bounce (empty sender) is skipped too.
    """

    def parse(raw: bytes) -> Parsed:
        text = decode_line(raw)
        if isinstance(text, Reject):
            return text
        time: str | None = None
        host: str | None = None
        program = "postfix"
        if text.lstrip().startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                return Reject(f"invalid JSON ({error.msg})")
            if not isinstance(value, dict) or not isinstance(value.get("message"), str):
                return Reject("expected a JSON object with a 'message' string")
            body = value["message"]
            stamp = value.get("timestamp")
            time = None
            if stamp:
                time = clock.iso(str(stamp))
                if time is None:
                    return Reject(f"unparsable timestamp '{str(stamp)[:40]}' (expected ISO 8601)")
        else:
            match = _SYSLOG.match(text)
            if match is None:
                return Reject(
                    "not a syslog line (expected 'Mon DD HH:MM:SS host program[pid]: ...')"
                )
            body, host, program = match["body"], match["host"], match["program"]
            if match["iso"]:
                time = clock.iso(match["iso"])
            else:
                time = clock.parse(" ".join(match["bsd"].split()), "%b %d %H:%M:%S")
            if time is None:
                return Reject(f"unparsable syslog time '{match['bsd'] or match['iso']}'")
            if not program.startswith("postfix"):
                return Skip(f"not a postfix program ({program})")
        queued = _QUEUED.match(body)
        if queued is None:
            delivered = _DELIVERED.match(body)
            if delivered is not None:
                return Skip(
                    f"{program} delivery line (recipient joined to its message)",
                    join=(f"{host or ''}:{delivered['qid']}", delivered["to"]),
                )
            removed = _REMOVED.match(body)
            return Skip(
                f"{program} line not used (only qmgr from= lines are messages)",
                join=None if removed is None else (f"{host or ''}:{removed['qid']}", None),
            )
        sender = queued["sender"]
        if not sender:
            return Skip("bounce or notification (empty sender)")
        if time is None:
            return Reject("no time (the syslog prefix is missing and there is no 'timestamp')")
        if int(queued["size"]) > _MAX_SIZE:  # checked here: the message may be stored later
            return Reject(f"size {queued['size'][:40]} does not fit 64 bits")
        who = account_user(sender)
        if unnamed(who):
            return who
        fields: Event = {
            "event_id": f"postfix:{host or ''}:{queued['qid']}",
            "time": time,
            "host": host,
            "channel": "email",
            "action": "send",
            "size_bytes": queued["size"],
            "sender": sender,
        }
        if isinstance(who, dict):  # a kept-apart account's message: no recipients joined
            fields["_join"] = f"{host or ''}:{queued['qid']}"
        return with_account(who, fields)

    return parse


# The vectorised path (see fast.py): printable-ASCII syslog lines with a BSD stamp or an ISO
# 8601 / RFC 3339 one (rsyslog's high-precision format). The same patterns as above in RE2
# (ASCII classes: the lines are ASCII), the rest per line.
_FAST_REST = r" (?P<host>[!-~]+) (?P<program>[\w./-]+?)(?:\[\d+\])?: (?P<body>[ -~]*?)\n?$"
_FAST_SYSLOG = r"^(?P<stamp>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)" + _FAST_REST
# Tried on the lines the BSD pattern left only: one pattern with both stamps as alternative
# groups costs RE2 3.6x as much on every line.
_FAST_SYSLOG_ISO = r"^(?P<stamp>\d{4}-\d\d-\d\dT[!-~]+)" + _FAST_REST
# The ISO stamps the fast path reads itself (others, and invalid dates: the per-line parser).
_FAST_ISO = (
    r"^(?P<base>[1-8]\d{3}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)"
    r"(?:\.(?P<fraction>\d{1,6}))?(?P<zone>Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?$"
)
_FAST_QUEUED = r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=\d+"
# A delivery line is recognised without captures (a DFA), then its two fields are taken.
_FAST_DELIVERED = r"^[0-9A-Za-z]+: to=<[^>]+>, .*\bstatus=\w"
_FAST_DELIVERY_FIELDS = r"^(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]+)>, "
_FAST_REMOVED = r"^(?P<qid>[0-9A-Za-z]+): removed *$"
_PLAIN_SENDER = r"^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$"
_SPECIAL_LOCAL = r"^(?i:system|anonymous|dwm-.*|umfd-.*)@"
_BSD = "%b %d %H:%M:%S"
_MAX_SIZE = 2**63 - 1
_NULL_TEXT = pa.nulls(1, pa.string())[0]
_NULL_INT = pa.nulls(1, pa.int64())[0]


def _i(value: int) -> pa.Scalar:
    """An int64 Arrow scalar (a Python int in a compute call goes through `pa.scalar`)."""
    return arrays.numbers([value])[0]


def postfix_fast(clock: LocalClock) -> FastSplit:
    """The vectorised split of Postfix syslog lines; `clock` as for `postfix_parser`."""

    def split(chunk: Chunk) -> FastRows | None:
        lines = chunk_lines(chunk)
        if lines is None:
            return None
        numbers = line_numbers(chunk)
        parts, iso, matched = _syslog_parts(lines)
        leftover = numbers[~matched]
        numbers = numbers[matched]
        time = _times(parts, iso, clock)
        has_time = to_numpy(pc.is_valid(time))
        leftover = np.concatenate([leftover, numbers[~has_time]])
        if not has_time.all():
            keep = booleans(has_time)
            parts, time, numbers = parts.filter(keep), time.filter(keep), numbers[has_time]
        host, program = pc.struct_field(parts, "host"), pc.struct_field(parts, "program")
        body = pc.struct_field(parts, "body")
        postfix = pc.starts_with(program, "postfix")
        queued = pc.extract_regex(body, _FAST_QUEUED)
        is_queued = pc.and_(postfix, pc.fill_null(queued.is_valid(), FALSE))
        is_delivered = pc.and_(
            pc.and_(postfix, pc.invert(is_queued)), pc.match_substring_regex(body, _FAST_DELIVERED)
        )
        sender = pc.struct_field(queued, "sender")
        bounce = pc.and_(is_queued, pc.equal(sender, _s("")))
        plain = pc.and_(
            pc.match_substring_regex(sender, _PLAIN_SENDER),
            pc.invert(pc.match_substring_regex(sender, _SPECIAL_LOCAL)),
        )
        # A size of 19 digits or more may not fit 64 bits: the exact parser decides.
        short = pc.less_equal(
            pc.utf8_length(pc.struct_field(queued, "size")), arrays.numbers([18], "int32")[0]
        )
        message = pc.fill_null(pc.and_(pc.and_(is_queued, plain), short), FALSE)
        odd = pc.fill_null(pc.and_(is_queued, pc.invert(pc.or_(bounce, message))), FALSE)
        leftover = np.concatenate([leftover, numbers[to_numpy(odd)]])
        skips, joins = _skips(numbers, program, postfix, is_queued, is_delivered, body, host)
        skips += skip_counts(numbers, bounce, "bounce or notification (empty sender)")
        rows = to_numpy(message)
        senders = sender.filter(message)
        qid = pc.struct_field(queued, "qid").filter(message)
        hosts = host.filter(message)
        key = pc.binary_join_element_wise(hosts, _s(":"), qid, _s(""))
        count = len(senders)
        columns = {
            "user": pc.utf8_lower(pc.replace_substring_regex(senders, "@.*$", "")),
            "event_id": pc.binary_join_element_wise(_s("postfix:"), key, _s("")),
            "time": time.filter(message),
            "host": hosts,
            "channel": arrays.repeated("email", count),
            "action": arrays.repeated("send", count),
            "size_bytes": pc.struct_field(queued, "size").filter(message),
            "sender": senders,
            LINE_COLUMN: arrays.numbers(numbers[rows]),
            "_account": senders,
            "_join": key,
        }
        return event_table(columns, count), sorted(leftover.tolist()), "", skips, joins

    return split


def _syslog_parts(lines: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(stamp, host, program and body of the syslog lines, which of them have an ISO stamp,
    which lines are syslog lines), the parts in line order."""
    found = pc.extract_regex(lines, _FAST_SYSLOG)
    matched = to_numpy(pc.fill_null(found.is_valid(), FALSE))
    bsd = found.filter(booleans(matched))
    if matched.all():
        return bsd, np.zeros(len(bsd), dtype=bool), matched
    rest = np.flatnonzero(~matched)
    iso_found = pc.extract_regex(lines.take(arrays.numbers(rest)), _FAST_SYSLOG_ISO)
    iso_matched = to_numpy(pc.fill_null(iso_found.is_valid(), FALSE))
    if not iso_matched.any():
        return bsd, np.zeros(len(bsd), dtype=bool), matched
    iso_rows = rest[iso_matched]
    parts = pa.concat_arrays([bsd, iso_found.filter(booleans(iso_matched))])
    iso = np.concatenate([np.zeros(len(bsd), dtype=bool), np.ones(len(iso_rows), dtype=bool)])
    if len(bsd):
        order = np.argsort(np.concatenate([np.flatnonzero(matched), iso_rows]), kind="stable")
        parts, iso = parts.take(arrays.numbers(order)), iso[order]
    matched = matched.copy()
    matched[iso_rows] = True
    return parts, iso, matched


def _times(parts: pa.Array, is_iso: np.ndarray, clock: LocalClock) -> pa.Array:
    """UTC ISO times of the lines' BSD or ISO stamps (NULL where the clock gives none)."""
    if not is_iso.any():
        return _bsd_times(parts, clock)
    stamp = pc.struct_field(parts, "stamp")
    if is_iso.all():
        return _iso_times(stamp, clock)
    mask = booleans(is_iso)
    times = pa.concat_arrays(
        [_bsd_times(parts.filter(pc.invert(mask)), clock), _iso_times(stamp.filter(mask), clock)]
    )
    order = np.concatenate([np.flatnonzero(~is_iso), np.flatnonzero(is_iso)])
    return times.take(arrays.numbers(np.argsort(order, kind="stable")))


def _iso_times(iso: pa.Array, clock: LocalClock) -> pa.Array:
    """UTC ISO times of ISO 8601 stamps as `clock.iso` gives them (NULL: per line).

    A stamp with `Z` or an offset is converted by arithmetic; one without is read by the
    clock once per distinct second (its zone's gaps and folds as the per-line parser reads
    them). The fraction (up to microseconds, which `clock.iso` keeps when not zero) is added
    to the result. Stamps of other shapes or invalid dates are left to the per-line parser.
    """
    found = pc.extract_regex(iso, _FAST_ISO)
    base, zone = pc.struct_field(found, "base"), pc.struct_field(found, "zone")
    fraction = pc.utf8_rpad(pc.struct_field(found, "fraction"), 6, "0")
    # With an offset the time is plain arithmetic; without one it is local to the clock's
    # zone (gaps and folds included), read once per distinct second by the clock itself.
    local = pc.binary_join_element_wise(base, zone, _s(""))
    local = pc.if_else(pc.equal(zone, _s("")), local, _NULL_TEXT)
    unique = pc.unique(local)
    whole = arrays.strings([clock.iso(str(text)) for text in unique.to_pylist()])
    utc = pc.take(whole, pc.index_in(local, unique))
    stamp = pc.cast(pc.strptime(base, "%Y-%m-%dT%H:%M:%S", "s", error_is_null=True), pa.int64())
    six = arrays.numbers([6], "int32")[0]
    has_offset = pc.equal(pc.utf8_length(zone), six)  # +HH:MM (else Z or none)
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(zone, 0, 1), _s("-")), _i(-1), _i(1))
    hours = pc.cast(
        pc.if_else(has_offset, pc.utf8_slice_codeunits(zone, 1, 3), _s("0")), pa.int64()
    )
    minutes = pc.cast(
        pc.if_else(has_offset, pc.utf8_slice_codeunits(zone, 4, 6), _s("0")), pa.int64()
    )
    offset = pc.multiply(sign, pc.add(pc.multiply(hours, _i(3600)), pc.multiply(minutes, _i(60))))
    aware = pc.if_else(pc.equal(zone, _s("")), _NULL_INT, pc.subtract(stamp, offset))
    if aware.null_count < len(aware):
        utc = pc.coalesce(utc, pc.binary_join_element_wise(iso_seconds(aware), _s("Z"), _s("")))
    with_fraction = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(utc, 0, -1), _s("."), fraction, _s("Z"), _s("")
    )
    return pc.if_else(pc.equal(fraction, _s("000000")), utc, with_fraction)


def _bsd_times(parts: pa.Array, clock: LocalClock) -> pa.Array:
    """UTC ISO times of BSD stamps as `clock.parse` gives them (NULL where it gives none).

    The clock is asked once per distinct hour (its first and last second): when the two are
    3,599 s apart, every stamp of the hour is its first second plus minutes and seconds; an
    hour with a zone change or a year boundary in it (or an invalid date) is read stamp by
    stamp, exactly as the per-line parser reads it.
    """
    # The stamp's parts by position (extracting them as groups costs 3x the whole match).
    bsd = pc.struct_field(parts, "stamp")
    month = pc.utf8_slice_codeunits(bsd, 0, 3)
    day = pc.utf8_ltrim(pc.utf8_slice_codeunits(bsd, 3, -9), " ")
    hour = pc.utf8_slice_codeunits(bsd, -8, -6)
    minute = pc.cast(pc.utf8_slice_codeunits(bsd, -5, -3), pa.int64())
    second = pc.cast(pc.utf8_slice_codeunits(bsd, -2), pa.int64())
    hour_key = pc.binary_join_element_wise(month, day, hour, _s(" "))
    unique = pc.unique(hour_key)
    starts: list[int | None] = []
    for text in unique.to_pylist():
        start = _epoch(clock.parse(f"{text}:00:00", _BSD))
        end = _epoch(clock.parse(f"{text}:59:59", _BSD))
        regular = start is not None and end is not None and end - start == 3599
        starts.append(start if regular else None)
    known = np.array([start is not None for start in starts], bool)
    starts_array = arrays.numbers([start or 0 for start in starts], valid=known)
    base = pc.take(starts_array, pc.index_in(hour_key, unique))
    in_range = pc.and_(pc.less(minute, _i(60)), pc.less(second, _i(60)))
    seconds = pc.add(base, pc.add(pc.multiply(minute, _i(60)), second))
    seconds = pc.if_else(in_range, seconds, _NULL_INT)
    time = pc.binary_join_element_wise(iso_seconds(seconds), _s("Z"), _s(""))
    odd = to_numpy(pc.fill_null(pc.and_(pc.is_null(base), in_range), FALSE))
    if not odd.any():
        return time
    exact = time.to_pylist()
    stamps = pc.binary_join_element_wise(hour_key, pc.utf8_slice_codeunits(bsd, -6), _s(""))
    for index in np.flatnonzero(odd).tolist():
        exact[index] = clock.parse(str(stamps[index]), _BSD)
    return arrays.strings(exact)


def _epoch(iso: str | None) -> int | None:
    if iso is None:
        return None
    return int(datetime.datetime.fromisoformat(iso).timestamp())


def _skips(
    numbers: np.ndarray,
    program: pa.Array,
    postfix: pa.Array,
    is_queued: pa.Array,
    is_delivered: pa.Array,
    body: pa.Array,
    host: pa.Array,
) -> tuple[list[LineReject], pa.Table]:
    """Counted skips of the non-message lines, with the delivery lines' joins, as `parse`
    gives them."""
    other = pc.fill_null(pc.invert(postfix), FALSE)
    reason = pc.binary_join_element_wise(_s("not a postfix program ("), program, _s(")"), _s(""))
    skips = skip_counts(numbers, other, reason)
    delivery = pc.fill_null(is_delivered, FALSE)
    reason = pc.binary_join_element_wise(
        program, _s(" delivery line (recipient joined to its message)"), _s("")
    )
    skips += skip_counts(numbers, delivery, reason)
    fields = pc.extract_regex(body.filter(delivery), _FAST_DELIVERY_FIELDS)
    key = pc.binary_join_element_wise(
        host.filter(delivery), _s(":"), pc.struct_field(fields, "qid"), _s("")
    )
    unused = pc.fill_null(pc.and_(postfix, pc.invert(pc.or_(is_queued, is_delivered))), FALSE)
    reason = pc.binary_join_element_wise(
        program, _s(" line not used (only qmgr from= lines are messages)"), _s("")
    )
    skips += skip_counts(numbers, unused, reason)
    # `QUEUEID: removed` lines (among the unused) close their message: a join without value.
    removed = pc.extract_regex(body.filter(unused), _FAST_REMOVED)
    is_removed = to_numpy(pc.fill_null(removed.is_valid(), FALSE))
    removed_key = pc.binary_join_element_wise(
        host.filter(unused), _s(":"), pc.struct_field(removed, "qid"), _s("")
    ).filter(booleans(is_removed))
    joins = pa.table(
        [
            pa.concat_arrays(
                [
                    arrays.numbers(numbers[to_numpy(delivery)]),
                    arrays.numbers(numbers[to_numpy(unused)][is_removed]),
                ]
            ),
            pa.concat_arrays([key, removed_key]),
            pa.concat_arrays(
                [pc.struct_field(fields, "to"), pa.nulls(len(removed_key), pa.string())]
            ),
        ],
        schema=JOIN_SCHEMA,
    ).sort_by(LINE_COLUMN)
    return skips, joins
