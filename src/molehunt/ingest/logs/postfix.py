"""Postfix logs -> email send events, one per message accepted by the queue manager.

Lines are syslog (`Mon DD HH:MM:SS host postfix/qmgr[pid]: QUEUEID: from=<a@b>, size=N,
nrcpt=N (queue active)`, or with an ISO 8601 timestamp) or JSON objects with a `message`
field (the body after the syslog prefix) and an optional `timestamp`. Syslog times carry no
year and no zone: `LocalClock` reads them in the `--timezone` zone and the file's year.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.ingest.csv_chunk import LINE_COLUMN, LineReject
from molehunt.ingest.logs.clock import LocalClock
from molehunt.ingest.logs.common import LineParser, Parsed, Reject, Skip, account_user, decode_line
from molehunt.ingest.logs.fast import FastRows, FastSplit, chunk_lines, event_table, line_numbers
from molehunt.ingest.reader import Chunk

_SYSLOG = re.compile(
    r"^(?:(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)|(?P<iso>\d{4}-\d\d-\d\dT\S+))"
    r" (?P<host>\S+) (?P<program>[\w./-]+?)(?:\[\d+\])?: (?P<body>.*)$"
)
_QUEUED = re.compile(
    r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)"
)
_DELIVERED = re.compile(r"^(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]+)>, .*\bstatus=\w+")


def postfix_parser(clock: LocalClock) -> LineParser:
    """Return a parser for Postfix lines; `clock` reads syslog times (zone, missing year).

    A qmgr `from=<...>, size=N, nrcpt=N` line becomes one `send` event of the sender; the
    delivery lines (`QUEUEID: to=<...>, ..., status=...`) of the same host and queue id in the
    same chunk add their recipients to it and are counted as skipped. Every other Postfix line
    is skipped; a bounce (empty sender) is skipped too.
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
            return Skip(f"{program} line not used (only qmgr from= lines are messages)")
        sender = queued["sender"]
        if not sender:
            return Skip("bounce or notification (empty sender)")
        if time is None:
            return Reject("no time (the syslog prefix is missing and there is no 'timestamp')")
        who = account_user(sender)
        if isinstance(who, Skip | Reject):
            return who
        return {
            **who,
            "event_id": f"postfix:{host or ''}:{queued['qid']}",
            "_join": f"{host or ''}:{queued['qid']}",
            "time": time,
            "host": host,
            "channel": "email",
            "action": "send",
            "size_bytes": queued["size"],
            "sender": sender,
        }

    return parse


# The vectorised path (see fast.py): printable-ASCII syslog lines with a BSD stamp. The same
# patterns as above in RE2 (ASCII classes: the lines are ASCII), the rest per line.
_FAST_SYSLOG = (
    r"^(?P<bsd>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d) (?P<host>[!-~]+) "
    r"(?P<program>[\w./-]+?)(?:\[\d+\])?: (?P<body>[ -~]*?)\n?$"
)
_FAST_QUEUED = r"^(?P<qid>[0-9A-Za-z]+): from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=\d+"
_FAST_DELIVERED = r"^(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]+)>, .*\bstatus=\w+"
_PLAIN_SENDER = r"^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$"
_SPECIAL_LOCAL = r"^(?i:system|anonymous|dwm-.*|umfd-.*)@"


def postfix_fast(clock: LocalClock) -> FastSplit:
    """The vectorised split of Postfix syslog lines; `clock` as for `postfix_parser`."""

    def split(chunk: Chunk) -> FastRows | None:
        lines = chunk_lines(chunk)
        if lines is None:
            return None
        numbers = line_numbers(chunk)
        found = pc.extract_regex(lines, _FAST_SYSLOG)
        matched = pc.fill_null(found.is_valid(), False)
        parts = found.filter(matched)
        numbers = numbers[matched.to_numpy(zero_copy_only=False)]
        leftover = set(line_numbers(chunk)[~matched.to_numpy(zero_copy_only=False)].tolist())
        stamp = pc.replace_substring_regex(pc.struct_field(parts, "bsd"), " +", " ")
        unique = pc.unique(stamp)
        times = pa.array([clock.parse(text, "%b %d %H:%M:%S") for text in unique.to_pylist()])
        time = pc.take(times, pc.index_in(stamp, unique))
        has_time = pc.is_valid(time).to_numpy(zero_copy_only=False)
        leftover.update(numbers[~has_time].tolist())
        keep = pa.array(has_time)
        parts, time, numbers = parts.filter(keep), time.filter(keep), numbers[has_time]
        host, program = pc.struct_field(parts, "host"), pc.struct_field(parts, "program")
        body = pc.struct_field(parts, "body")
        postfix = pc.starts_with(program, "postfix")
        queued = pc.extract_regex(body, _FAST_QUEUED)
        is_queued = pc.and_(postfix, pc.fill_null(queued.is_valid(), False))
        delivered = pc.extract_regex(body, _FAST_DELIVERED)
        is_delivered = pc.and_(
            pc.and_(postfix, pc.invert(is_queued)), pc.fill_null(delivered.is_valid(), False)
        )
        sender = pc.struct_field(queued, "sender")
        bounce = pc.and_(is_queued, pc.equal(sender, ""))
        plain = pc.and_(
            pc.match_substring_regex(sender, _PLAIN_SENDER),
            pc.invert(pc.match_substring_regex(sender, _SPECIAL_LOCAL)),
        )
        message = pc.fill_null(pc.and_(is_queued, plain), False)
        odd = pc.and_(is_queued, pc.invert(pc.or_(bounce, message)))
        leftover.update(numbers[pc.fill_null(odd, False).to_numpy(zero_copy_only=False)].tolist())
        skips, joins = _skips(numbers, program, postfix, is_queued, is_delivered, delivered, host)
        skips += [
            LineReject(int(line), "bounce or notification (empty sender)", "", skipped=True)
            for line in numbers[pc.fill_null(bounce, False).to_numpy(zero_copy_only=False)]
        ]
        rows = message.to_numpy(zero_copy_only=False)
        chosen = pa.array(rows)
        senders = sender.filter(chosen)
        qid = pc.struct_field(queued, "qid").filter(chosen)
        hosts = host.filter(chosen)
        key = pc.binary_join_element_wise(hosts, ":", qid, "")
        count = len(senders)
        columns = {
            "user": pc.utf8_lower(pc.replace_substring_regex(senders, "@.*$", "")),
            "event_id": pc.binary_join_element_wise("postfix:", key, ""),
            "time": time.filter(chosen),
            "host": hosts,
            "channel": pa.array(["email"] * count, pa.string()),
            "action": pa.array(["send"] * count, pa.string()),
            "size_bytes": pc.struct_field(queued, "size").filter(chosen),
            "sender": senders,
            LINE_COLUMN: pa.array(numbers[rows]),
            "_account": senders,
            "_join": key,
        }
        return event_table(columns, count), sorted(leftover), "", skips, joins

    return split


def _skips(
    numbers: np.ndarray,
    program: pa.Array,
    postfix: pa.Array,
    is_queued: pa.Array,
    is_delivered: pa.Array,
    delivered: pa.Array,
    host: pa.Array,
) -> tuple[list[LineReject], list[tuple[int, str, str]]]:
    """Skips of the non-message lines, with the delivery lines' joins, as `parse` gives them."""
    skips: list[LineReject] = []
    joins: list[tuple[int, str, str]] = []
    other = pc.fill_null(pc.invert(postfix), False)
    for line, name in zip(
        numbers[other.to_numpy(zero_copy_only=False)].tolist(),
        program.filter(other).to_pylist(),
        strict=True,
    ):
        skips.append(LineReject(line, f"not a postfix program ({name})", "", skipped=True))
    delivery = pc.fill_null(is_delivered, False)
    for line, name, where, qid, to in zip(
        numbers[delivery.to_numpy(zero_copy_only=False)].tolist(),
        program.filter(delivery).to_pylist(),
        host.filter(delivery).to_pylist(),
        pc.struct_field(delivered, "qid").filter(delivery).to_pylist(),
        pc.struct_field(delivered, "to").filter(delivery).to_pylist(),
        strict=True,
    ):
        reason = f"{name} delivery line (recipient joined to its message)"
        skips.append(LineReject(line, reason, "", skipped=True))
        joins.append((line, f"{where}:{qid}", to))
    unused = pc.fill_null(pc.and_(postfix, pc.invert(pc.or_(is_queued, is_delivered))), False)
    for line, name in zip(
        numbers[unused.to_numpy(zero_copy_only=False)].tolist(),
        program.filter(unused).to_pylist(),
        strict=True,
    ):
        reason = f"{name} line not used (only qmgr from= lines are messages)"
        skips.append(LineReject(line, reason, "", skipped=True))
    return skips, joins
