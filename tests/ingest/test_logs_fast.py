"""The vectorised split gives exactly what the per-line parser gives, line for line."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from molehunt.ingest.csv_chunk import LineReject
from molehunt.ingest.logs import plan_for
from molehunt.ingest.logs.clock import LocalClock, load_zone
from molehunt.ingest.logs.common import LogPlan
from molehunt.ingest.logs.directory import IdentityDirectory
from molehunt.ingest.logs.fast import FastSplit
from molehunt.ingest.logs.postfix import postfix_fast, postfix_parser
from molehunt.ingest.logs.squid import parse_squid, split_squid_fast
from molehunt.ingest.logs.w3c import w3c_fast, w3c_parser
from molehunt.ingest.logs.zeek import (
    DEFAULT_HTTP_FIELDS,
    DEFAULT_SMTP_FIELDS,
    TsvLines,
    zeek_http_fast,
    zeek_http_parser,
    zeek_smtp_fast,
    zeek_smtp_parser,
)
from molehunt.ingest.reader import Chunk

SQUID = [
    b"1157689312.049   5006 10.1.2.3 TCP_MISS/200 19763 CONNECT login.yahoo.com:443 badeyek "
    b"DIRECT/1.2.3.4 -",
    b"1157689320.327 2864 10.1.2.4 TCP_MISS/200 10182 POST http://a.example/x - DIRECT/1.2.3.4 "
    b"text/html",
    b"1157689320.999 1 10.1.2.4 TCP_DENIED/403 0 get http://b/ OFFSEC\\Bob NONE/- text/html",
    b"1157689321.000 1 10.1.2.5 TCP_MISS/200 9 GET http://c/ SYSTEM DIRECT/1.1.1.1 -",
    b"1157689321.000 1 10.1.2.5 TCP_MISS/200 9 GET http://c/ Alice.B DIRECT/1.1.1.1 - extra",
    b"1157689321.5 1 10.1.2.5 TCP_MISS/200 9 PUT http://d/ carol DIRECT/1.1.1.1 -",
    b"1157689321.000\t1 10.1.2.5 TCP_MISS/200 9 GET http://e/ dave DIRECT/1.1.1.1 -",
    b"1157689321.000 1 10.1.2.5 TCP_MISS/200 9 GET http://f/\xc2\xa0x erin DIRECT/1.1.1.1 -",
    b"1157689321.000 1 10.1.2.5 TCP_MISS/200 9 GET http://g/ frank DIRECT/1.1.1.1 -\r",
    b"1157689321.000 1 10.1.2.5 TCP_MISS/200 x9 GET http://h/ gina DIRECT/1.1.1.1 -",
    b"1157689321.000 1 10.1.2.5 TCP_MISS/200 9 GET http://i/ dwm-1 DIRECT/1.1.1.1 -",
    b"",
    b"\xff\xfe broken",
]
DIRECTORY = IdentityDirectory()
DIRECTORY.add("account", "badeyek", ("BAD01", "person", "", ""))
DIRECTORY.add("account", "carol", ("SVC", "service", "", ""))
DIRECTORY.add("host", "10.1.2.4", ("HOST01", "person", "", ""))

line = st.one_of(
    st.sampled_from(SQUID),
    st.sampled_from(SQUID).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
    st.binary(max_size=120).map(lambda b: b.replace(b"\n", b" ")),
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(line, min_size=1, max_size=12),
    newline=st.booleans(),
    directory=st.sampled_from([None, DIRECTORY]),
)
def test_squid_fast_split_equals_the_per_line_parser(
    lines: list[bytes], newline: bool, directory: IdentityDirectory | None
) -> None:
    chunk = Chunk(b"\n".join(lines) + (b"\n" if newline else b""), 41, 0, True)
    assume(chunk.data)  # the reader never yields an empty chunk
    fast = LogPlan("squid", parse_squid, fast=split_squid_fast, identities=directory)
    exact = LogPlan("squid", parse_squid, identities=directory)
    fast_table, fast_rejects = fast.split(chunk)
    exact_table, exact_rejects = exact.split(chunk)
    assert fast_table.equals(exact_table), (fast_table.to_pylist(), exact_table.to_pylist())
    assert fast_rejects == exact_rejects


def test_squid_fast_split_takes_the_clean_lines_itself() -> None:
    chunk = Chunk(b"\n".join(SQUID[:2]) + b"\n", 1, 0, True)
    rows = split_squid_fast(chunk)
    assert rows is not None
    table, leftover, _, _, _ = rows
    assert (table.num_rows, leftover) == (2, [])
    assert table.column("time").to_pylist() == [
        "2006-09-08T04:21:52.049000Z",
        "2006-09-08T04:22:00.327000Z",
    ]
    assert isinstance(table.column("user"), pa.ChunkedArray)


def _smtp(**values: str) -> bytes:
    return "\t".join(values.get(n.replace(".", "_"), "-") for n in DEFAULT_SMTP_FIELDS).encode()


SMTP = [
    b"#separator \\x09",
    b"#fields\t" + "\t".join(DEFAULT_SMTP_FIELDS).encode(),
    _smtp(ts="1521911721.123457", uid="C1", id_orig_h="10.0.0.1", trans_depth="1"),
    _smtp(
        ts="1521911722.5",
        uid="C2",
        trans_depth="2",
        mailfrom="Ann.B@x.org",
        rcptto="c@d.org,e@f.org",
        to="c@d.org",
        cc="(empty)",
        subject="hello world",
    ),
    _smtp(ts="1521911723.999999", uid="C3", mailfrom="<ann@x.org>", rcptto="c@d.org"),
    _smtp(ts="1521911724", uid="C4", mailfrom="system@x.org", subject=""),
    _smtp(ts="1521911725.0", uid="C5", mailfrom="-", **{"from": "Ann <ann@x.org>"}),
    _smtp(ts="1521911726.000000", uid="C6", mailfrom="bob@x.org", rcptto="-", to="z@y.org"),
    _smtp(ts="x", uid="C7"),
    _smtp(ts="1521911727.1", uid="C8", mailfrom="éva@x.org"),
    b"short\tline",
    b"#close\t2018",
    b"\xff",
]
SMTP_FAST = zeek_smtp_fast(DEFAULT_SMTP_FIELDS)

smtp_line = st.one_of(
    st.sampled_from(SMTP),
    st.sampled_from(SMTP).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(smtp_line, min_size=1, max_size=12), newline=st.booleans())
def test_zeek_smtp_fast_split_equals_the_per_line_parser(lines: list[bytes], newline: bool) -> None:
    chunk = Chunk(b"\n".join(lines) + (b"\n" if newline else b""), 7, 0, True)
    assume(chunk.data)
    fast = LogPlan("zeek-smtp", zeek_smtp_parser(), fast=SMTP_FAST)
    exact = LogPlan("zeek-smtp", zeek_smtp_parser())
    fast_table, fast_rejects = fast.split(chunk)
    exact_table, exact_rejects = exact.split(chunk)
    assert fast_table.equals(exact_table), (fast_table.to_pylist(), exact_table.to_pylist())
    assert fast_rejects == exact_rejects


def _clean_split(split: FastSplit | None, lines: list[bytes]) -> tuple[pa.Table, list[LineReject]]:
    """Run a fast split on clean lines: it maps them all itself (nothing left to the exact
    parser); return its table and skip counts."""
    assert split is not None
    rows = split(Chunk(b"\n".join(lines) + b"\n", 1, 0, True))
    assert rows is not None
    table, leftover, _, skips, _ = rows
    assert leftover == []
    return table, skips


def test_zeek_smtp_fast_split_maps_clean_lines_itself() -> None:
    table, skips = _clean_split(SMTP_FAST, SMTP[:4])
    assert [(s.reason, s.line, s.count) for s in skips] == [
        ("Zeek header line", 1, 2),
        ("SMTP session without a message (no MAIL FROM)", 3, 1),
    ], "skips are counted per reason (first line, count), not one object per line"
    assert table.column("object").to_pylist() == ["c@d.org;e@f.org"]
    assert table.column("time").to_pylist() == ["2018-03-24T17:15:22.500000Z"]


POSTFIX = [
    b"Jan  2 07:00:00 mx postfix/qmgr[6]: 4F2A1: from=<Ann@x.org>, size=900, nrcpt=2 (queue)",
    b"Jan  2 07:00:01 mx postfix/smtp[7]: 4F2A1: to=<b@y.org>, relay=y, delay=1, status=sent (ok)",
    b"Jan  2 07:00:01 mx postfix/smtp[7]: 4F2A1: to=<c@y.org>, relay=y, status=deferred (x)",
    b"Jan  2 07:00:01 mx postfix/smtp[7]: 4F2A1: to=<b@y.org>, relay=y, status=sent (again)",
    b"Jan  2 07:00:02 mx postfix/qmgr[6]: 5B: from=<>, size=10, nrcpt=1 (queue active)",
    b"Jan  2 07:00:03 mx postfix/qmgr[6]: 5C: from=<MAILER-DAEMON>, size=10, nrcpt=1",
    b"Jan  2 07:00:03 mx postfix/qmgr[6]: 5D: from=<system@x.org>, size=10, nrcpt=1",
    b"Jan  2 07:00:04 mx postfix/cleanup[8]: 4F2A1: message-id=<m@x.org>",
    b"Jan  2 07:00:05 mx dovecot: imap-login: Login: user=<ann>",
    b"Feb 30 07:00:05 mx postfix/qmgr[6]: 6A: from=<a@x.org>, size=1, nrcpt=1",
    b"2024-01-02T07:00:00+01:00 mx postfix/qmgr[6]: 7A: from=<iso@x.org>, size=5, nrcpt=1",
    b"2024-01-02T07:00:08.5 mx postfix/qmgr[6]: 7B: from=<frac@x.org>, size=5, nrcpt=1",
    b"2024-03-31T02:30:00 mx postfix/qmgr[6]: 7C: from=<gap@x.org>, size=5, nrcpt=1",
    b"2024-01-02T07:00:09.123456789Z mx postfix/qmgr[6]: 7D: from=<nano@x.org>, size=5, nrcpt=1",
    b"2024-01-02T07:00:10.000000-05:00 mx postfix/smtp[7]: 7B: to=<w@y.org>, status=sent",
    b"2024-13-02T07:00:10Z mx postfix/qmgr[6]: 7E: from=<bad@x.org>, size=5, nrcpt=1",
    b"2024-02-30T07:00:11 mx postfix/qmgr[6]: 7F: from=<feb@x.org>, size=5, nrcpt=1",
    b'{"message": "8A: from=<j@x.org>, size=10, nrcpt=1", "timestamp": "2024-01-02T00:00:00Z"}',
    b"Jan  2 07:00:06 mx postfix/smtp[7]: 7A: to=<z@y.org>, status=sent",
    b"Jan  2 07:00:07 mx2 postfix/qmgr[6]: 4F2A1: from=<other@x.org>, size=1, nrcpt=1",
    b"Jan  2 07:00:07 mx postfix/qmgr[6]: 9Z: from=<\xc3\xa9@x.org>, size=1, nrcpt=1",
    b"not syslog at all",
]
POSTFIX_CLOCK = LocalClock(
    load_zone("Europe/Berlin"), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC)
)

postfix_line = st.one_of(
    st.sampled_from(POSTFIX),
    st.sampled_from(POSTFIX).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(postfix_line, min_size=1, max_size=14), newline=st.booleans())
def test_postfix_fast_split_equals_the_per_line_parser(lines: list[bytes], newline: bool) -> None:
    chunk = Chunk(b"\n".join(lines) + (b"\n" if newline else b""), 3, 0, True)
    assume(chunk.data)
    fast = LogPlan("postfix", postfix_parser(POSTFIX_CLOCK), fast=postfix_fast(POSTFIX_CLOCK))
    exact = LogPlan("postfix", postfix_parser(POSTFIX_CLOCK))
    fast_table, fast_rejects = fast.split(chunk)
    exact_table, exact_rejects = exact.split(chunk)
    assert fast_table.equals(exact_table), (fast_table.to_pylist(), exact_table.to_pylist())
    assert fast_rejects == exact_rejects


def test_postfix_fast_split_joins_recipients_across_both_paths() -> None:
    chunk = Chunk(b"\n".join(POSTFIX) + b"\n", 1, 0, True)
    fast = LogPlan("postfix", postfix_parser(POSTFIX_CLOCK), fast=postfix_fast(POSTFIX_CLOCK))
    table, _ = fast.split(chunk)
    rows = {r["event_id"]: r["object"] for r in table.to_pylist()}
    assert rows["postfix:mx:4F2A1"] == "b@y.org;c@y.org"
    assert rows["postfix:mx:7A"] == "z@y.org", "an ISO-stamped message joined to a BSD line"
    assert rows["postfix:mx:7B"] == "w@y.org"


def test_postfix_iso_stamps_take_the_fast_path() -> None:
    lines = [line for line in POSTFIX if line[:4].isdigit() and b"789Z" not in line]
    chunk = Chunk(b"\n".join(lines) + b"\n", 1, 0, True)
    rows = postfix_fast(POSTFIX_CLOCK)(chunk)
    assert rows is not None
    table, leftover, _, _, _ = rows
    assert leftover == [5, 6], "month 13, February 30: the per-line parser names them"
    assert dict(
        zip(table.column("event_id").to_pylist(), table.column("time").to_pylist(), strict=True)
    ) == {
        "postfix:mx:7A": "2024-01-02T06:00:00Z",
        "postfix:mx:7B": "2024-01-02T06:00:08.500000Z",
        "postfix:mx:7C": POSTFIX_CLOCK.iso("2024-03-31T02:30:00"),  # in Berlin's DST gap
    }


# Stamps near what makes an hour irregular: the zone's changes (Berlin: 31 Mar 02:00 has no
# local time, 27 Oct 02:00-03:00 comes twice), 29 February, and the year boundary of the
# file's date (a stamp more than a day after it belongs to the year before).
MONTHS = ("Jan", "Feb", "Mar", "Oct", "Dec", "Jun")
stamp = st.tuples(
    st.sampled_from(MONTHS),
    st.sampled_from(["1", " 1", "02", "27", "29", "30", "31", "0", "32"]),
    st.sampled_from(["00", "01", "02", "03", "23", "24"]),
    st.sampled_from(["00", "30", "59", "60"]),
    st.sampled_from(["00", "07", "59", "60", "61"]),
).map(lambda p: f"{p[0]} {p[1]} {p[2]}:{p[3]}:{p[4]}".encode())
written = st.sampled_from(
    [
        datetime.datetime(2024, 10, 27, 1, 30, 15, tzinfo=datetime.UTC),
        datetime.datetime(2024, 3, 30, 2, 59, 59, tzinfo=datetime.UTC),
        datetime.datetime(2025, 1, 1, 0, 10, 0, tzinfo=datetime.UTC),
        datetime.datetime(2024, 12, 31, 23, 30, 0, tzinfo=datetime.UTC),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    stamps=st.lists(stamp, min_size=1, max_size=10),
    when=written,
    zone=st.sampled_from(["Europe/Berlin", "UTC", "Australia/Lord_Howe"]),
)
def test_postfix_fast_times_equal_the_clock_around_zone_and_year_changes(
    stamps: list[bytes], when: datetime.datetime, zone: str
) -> None:
    clock = LocalClock(load_zone(zone), when.astimezone(load_zone(zone)))
    body = b" mx postfix/qmgr[6]: 4F2A1: from=<ann@x.org>, size=9, nrcpt=1"
    chunk = Chunk(b"\n".join(s + body for s in stamps) + b"\n", 1, 0, True)
    fast = LogPlan("postfix", postfix_parser(clock), fast=postfix_fast(clock))
    exact = LogPlan("postfix", postfix_parser(clock))
    fast_table, fast_rejects = fast.split(chunk)
    exact_table, exact_rejects = exact.split(chunk)
    assert fast_table.equals(exact_table), (fast_table.to_pylist(), exact_table.to_pylist())
    assert fast_rejects == exact_rejects


def _http(**values: str) -> bytes:
    return "\t".join(values.get(n.replace(".", "_"), "-") for n in DEFAULT_HTTP_FIELDS).encode()


HTTP = [
    b"#separator \\x09",
    b"#fields\t" + "\t".join(DEFAULT_HTTP_FIELDS).encode(),
    _http(ts="1709539750.123456", uid="C1", id_orig_h="10.1.2.4", trans_depth="1", method="GET"),
    _http(
        ts="1709539751.5",
        uid="C2",
        id_orig_h="10.1.2.3",
        id_resp_h="1.2.3.4",
        trans_depth="2",
        method="post",
        host="up.example.net",
        uri="/put?x=1",
        request_body_len="7340032",
        response_body_len="12",
        status_code="201",
        username="Alice.B",
    ),
    _http(ts="1709539752", uid="C3", id_resp_h="1.2.3.4", uri="/a", response_body_len="9"),
    _http(ts="1709539753.1", uid="C4", host="(empty)", uri="(empty)", username="(empty)"),
    _http(ts="1709539754.0", uid="C5", username="OFFSEC\\bob", method="PUT", host="h"),
    _http(ts="1709539755.0", uid="C6", username="SYSTEM", id_orig_h="10.1.2.4"),
    _http(ts="1709539756.0", uid="C7", username="badeyek", response_body_len="x9"),
    _http(ts="1709539757.0", uid="C8", username="carol", uri="/é"),
    _http(ts="not-a-time", uid="C9", username="carol"),
    b"short\tline",
    b"#close\t2024",
    b"\xff",
]
HTTP_FAST = zeek_http_fast(DEFAULT_HTTP_FIELDS)
HTTP_NAMED = zeek_http_fast(DEFAULT_HTTP_FIELDS, named_only=True)
http_line = st.one_of(
    st.sampled_from(HTTP),
    st.sampled_from(HTTP).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(http_line, min_size=1, max_size=12),
    newline=st.booleans(),
    directory=st.sampled_from([None, DIRECTORY]),
)
def test_zeek_http_fast_split_equals_the_per_line_parser(
    lines: list[bytes], newline: bool, directory: IdentityDirectory | None
) -> None:
    chunk = Chunk(b"\n".join(lines) + (b"\n" if newline else b""), 5, 0, True)
    assume(chunk.data)
    parser = zeek_http_parser()
    fast = LogPlan("zeek-http", parser, fast=HTTP_FAST, identities=directory)
    # Without an identity map a plan takes the named-only split: both are checked.
    named = LogPlan("zeek-http", parser, fast=HTTP_FAST, fast_named=HTTP_NAMED)
    named = named.with_identities(directory)
    exact = LogPlan("zeek-http", parser, identities=directory)
    exact_table, exact_rejects = exact.split(chunk)
    for plan in (fast, named):
        fast_table, fast_rejects = plan.split(chunk)
        assert fast_table.equals(exact_table), (fast_table.to_pylist(), exact_table.to_pylist())
        assert fast_rejects == exact_rejects


def test_zeek_http_fast_split_maps_clean_lines_itself() -> None:
    table, _ = _clean_split(HTTP_FAST, HTTP[:5])
    # The request naming a user comes first (so dropping the others is a slice).
    assert table.column("_line").to_pylist() == [4, 3, 5]
    table = table.sort_by("_line")
    assert table.column("object").to_pylist() == [
        None,
        "http://up.example.net/put?x=1",
        "http://1.2.3.4/a",
    ]
    assert table.column("action").to_pylist() == ["visit", "upload", "visit"]
    assert table.column("size_bytes").to_pylist() == [None, "7340032", "9"]


def test_zeek_http_named_split_counts_requests_naming_nobody_without_mapping_them() -> None:
    table, skips = _clean_split(HTTP_NAMED, HTTP[:5])
    assert table.column("_line").to_pylist() == [4]
    assert table.column("object").to_pylist() == ["http://up.example.net/put?x=1"]
    assert [(s.reason, s.line, s.count) for s in skips] == [
        ("Zeek header line", 1, 2),
        ("no HTTP user name (client address only)", 3, 2),
    ]
    plan, _ = plan_for(Path(__file__), "zeek-http")
    assert plan.fast is not None and plan.fast_named is not None


TSV_FIELD = st.one_of(
    st.sampled_from(["", "-", "(empty)", "(empty", "(emptyx)", "-x", "a b", "#", "x\r", "é"]),
    st.text(alphabet=st.sampled_from("ab-()#\t\r é\x00~ "), max_size=8),
)
TSV_LINE = st.one_of(
    st.lists(TSV_FIELD, min_size=1, max_size=5).map(lambda f: "\t".join(f).encode()),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(TSV_LINE, min_size=1, max_size=10),
    width=st.integers(1, 4),
    newline=st.booleans(),
)
def test_tsv_lines_finds_the_fields_python_splits(
    lines: list[bytes], width: int, newline: bool
) -> None:
    data = b"\n".join(lines) + (b"\n" if newline else b"")
    assume(data)
    chunk = Chunk(data, 3, 0, True)
    tsv = TsvLines(chunk, width)
    raw = [line for _, line in chunk.numbered_lines()]
    printable = [all(32 <= c <= 126 or c == 9 for c in line) for line in raw]
    header = [p and line.startswith(b"#") for p, line in zip(printable, raw, strict=True)]
    shaped = [
        i
        for i, line in enumerate(raw)
        if printable[i] and not header[i] and line.count(b"\t") == width - 1
    ]
    assert tsv.numbers.tolist() == list(range(3, 3 + len(raw)))
    assert tsv.header.tolist() == header
    assert tsv.shaped.tolist() == shaped
    rows = np.array(shaped[::-1], dtype=np.int64)  # any order of rows
    for index in range(width):
        words = [raw[i].decode().split("\t")[index] for i in rows]
        empty = [word in ("", "-", "(empty)") for word in words]
        assert tsv.text(index, rows).to_pylist() == words
        assert tsv.empty(index, rows).tolist() == empty
        expected = [None if e else word for word, e in zip(words, empty, strict=True)]
        assert tsv.value(index, rows).to_pylist() == expected


BERLIN = LocalClock(load_zone("Europe/Berlin"), datetime.datetime(2024, 12, 1, tzinfo=datetime.UTC))
W3C_IIS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip sc-status "
    "sc-bytes cs-bytes"
).split()
W3C_OTHER = "date time cs-username c-ip cs-method cs-uri-path sc-status".split()
W3C_BLUE_COAT = "date time c-ip cs-username cs-host cs-uri-stem sc-status".split()
W3C_VALUES = {
    "date": ["2024-03-04", "2024-03-31", "2024-10-27", "2024-02-30", "24-03-04", "-"],
    "time": ["08:09:10", "02:30:00", "02:59:59", "25:00:00", "12:60:01", "8:09:10", "-"],
    "s-ip": ["10.0.0.1", "-"],
    "cs-method": ["GET", "POST", "put", "-"],
    "cs-uri-stem": ["/a/b.html", "-", "/x+y"],
    "cs-uri-path": ["/p", "-"],
    "cs-uri-query": ["q=1", "?r=2", "-"],
    "s-port": ["80"],
    "cs-username": ["ann", "Bob.X", "OFFSEC\\carol", "badeyek", "SYSTEM", "pc1$", "-", "é"],
    "c-ip": ["10.1.2.4", "10.9.9.9", "-"],
    "sc-status": ["200", "404", "-"],
    "sc-bytes": ["512", "-", "12x"],
    "cs-bytes": ["77", "-"],
    "cs-host": ["example.org", "-"],
}


def _w3c_line(fields: list[str]) -> st.SearchStrategy[bytes]:
    return st.tuples(*(st.sampled_from(W3C_VALUES[name]) for name in fields)).map(
        lambda values: " ".join(values).encode()
    )


w3c_line = st.one_of(
    _w3c_line(W3C_IIS),
    _w3c_line(W3C_OTHER),
    _w3c_line(W3C_BLUE_COAT),
    st.sampled_from(
        [
            b"#Fields: " + " ".join(W3C_IIS).encode(),
            b"#Fields: " + " ".join(W3C_OTHER).encode(),
            b"#Fields: " + " ".join(W3C_BLUE_COAT).encode(),
            b"#Fields: time c-ip",
            b"#Software: Microsoft Internet Information Services 10.0",
            b'2024-03-04 08:09:10 10.0.0.1 GET "/a b" - 80 ann 10.1.2.4 200 5 6',
            b"2024-03-04  08:09:10 10.0.0.1 GET /a - 80 ann 10.1.2.4 200 5 6",
            b"2024-03-04 08:09:10 10.0.0.1 GET /a - 80 ann 10.1.2.4 200 5 6\r",
            b"",
            b"\xff\xfe",
        ]
    ),
    _w3c_line(W3C_IIS).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(w3c_line, min_size=1, max_size=14),
    newline=st.booleans(),
    directory=st.sampled_from([None, DIRECTORY]),
    first_fields=st.sampled_from([W3C_IIS, W3C_OTHER]),
)
def test_w3c_fast_split_equals_the_per_line_parser(
    lines: list[bytes],
    newline: bool,
    directory: IdentityDirectory | None,
    first_fields: list[str],
) -> None:
    chunk = Chunk(b"\n".join(lines) + (b"\n" if newline else b""), 3, 0, True)
    assume(chunk.data)
    fast_parser = w3c_parser(tuple(first_fields), BERLIN)
    fast = LogPlan("w3c", fast_parser, "http", identities=directory, fast=w3c_fast(fast_parser))
    exact = LogPlan("w3c", w3c_parser(tuple(first_fields), BERLIN), "http", identities=directory)
    fast_table, fast_rejects = fast.split(chunk)
    exact_table, exact_rejects = exact.split(chunk)
    assert fast_table.equals(exact_table), (fast_table.to_pylist(), exact_table.to_pylist())
    assert fast_rejects == exact_rejects


def test_w3c_fast_split_takes_clean_lines_itself_across_a_fields_line() -> None:
    parser = w3c_parser(tuple(W3C_IIS), BERLIN)
    data = (
        b"2024-03-04 08:09:10 10.0.0.1 POST /a q=1 80 Ann 10.1.2.4 200 512 77\n"
        b"#Fields: " + " ".join(W3C_OTHER).encode() + b"\n"
        b"2024-03-04 08:09:11 - 10.1.2.4 GET /p 404\n"
    )
    rows = w3c_fast(parser)(Chunk(data, 1, 0, True))
    assert rows is not None
    table, leftover, _, _, _ = rows
    assert leftover == [2]
    assert table.select(
        ["user", "time", "action", "object", "size_bytes", "_line"]
    ).to_pylist() == [
        {
            "user": "ann",
            "time": "2024-03-04T07:09:10Z",
            "action": "upload",
            "object": "/a?q=1",
            "size_bytes": "77",
            "_line": 1,
        },
        {
            "user": None,
            "time": "2024-03-04T07:09:11Z",
            "action": "visit",
            "object": "/p",
            "size_bytes": None,
            "_line": 3,
        },
    ]
