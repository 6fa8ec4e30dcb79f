"""Fuzzing the text log parsers: no input crashes them, and every line is accounted for once."""

from __future__ import annotations

import datetime
import json
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs import ocsf
from molehunt.ingest.logs.clock import LocalClock, load_zone
from molehunt.ingest.logs.common import LogPlan, Reject
from molehunt.ingest.logs.cups import cups_parser
from molehunt.ingest.logs.directory import IdentityDirectory
from molehunt.ingest.logs.exchange import exchange_parser
from molehunt.ingest.logs.ocsf import ocsf_array_chunks, parse_ocsf_line, parse_ocsf_record
from molehunt.ingest.logs.postfix import postfix_fast, postfix_parser
from molehunt.ingest.logs.squid import parse_squid, split_squid_fast
from molehunt.ingest.logs.w3c import w3c_fast, w3c_fields, w3c_parser
from molehunt.ingest.logs.windows_export import (
    parse_winlogbeat_line,
    parse_xml_record,
    xml_event_chunks,
)
from molehunt.ingest.logs.zeek import (
    DEFAULT_HTTP_FIELDS as HTTP_FIELDS,
)
from molehunt.ingest.logs.zeek import (
    DEFAULT_SMTP_FIELDS as SMTP_FIELDS,
)
from molehunt.ingest.logs.zeek import (
    zeek_http_fast,
    zeek_http_parser,
    zeek_smtp_fast,
    zeek_smtp_parser,
)
from molehunt.ingest.reader import Chunk

CLOCK = LocalClock(load_zone("Europe/Berlin"), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))
DIRECTORY = IdentityDirectory()
DIRECTORY.add("account", "bob", ("BOB01", "person", "2006-01-01", ""))
DIRECTORY.add("host", "pc-1", ("ANN01", "person", "", ""))
W3C_FAST_PARSER = w3c_parser(w3c_fields([]), CLOCK)
PLANS = {
    "squid": LogPlan("squid", parse_squid),
    "squid-identities": LogPlan("squid", parse_squid, identities=DIRECTORY),
    "exchange": LogPlan("exchange", exchange_parser()),
    "zeek-smtp": LogPlan("zeek-smtp", zeek_smtp_parser()),
    "postfix": LogPlan("postfix", postfix_parser(CLOCK)),
    "postfix-fast": LogPlan("postfix", postfix_parser(CLOCK), fast=postfix_fast(CLOCK)),
    "squid-fast": LogPlan("squid", parse_squid, fast=split_squid_fast, identities=DIRECTORY),
    "zeek-smtp-fast": LogPlan("zeek-smtp", zeek_smtp_parser(), fast=zeek_smtp_fast(SMTP_FIELDS)),
    "cups": LogPlan("cups", cups_parser(CLOCK), identities=DIRECTORY),
    "winlogbeat": LogPlan("winlogbeat", parse_winlogbeat_line),
    "ocsf": LogPlan("ocsf", parse_ocsf_line, identities=DIRECTORY),
    "zeek-http": LogPlan("zeek-http", zeek_http_parser(), identities=DIRECTORY),
    "zeek-http-fast": LogPlan(
        "zeek-http", zeek_http_parser(), fast=zeek_http_fast(HTTP_FIELDS), identities=DIRECTORY
    ),
    "w3c": LogPlan("w3c", w3c_parser(w3c_fields([]), CLOCK), identities=DIRECTORY),
    "w3c-fast": LogPlan(
        "w3c", W3C_FAST_PARSER, fast=w3c_fast(W3C_FAST_PARSER), identities=DIRECTORY
    ),
}
SEEDS = [
    b"2024-03-04 08:09:10 10.0.0.1 GET /a q=1 80 bob 10.1.4.7 Mozilla - 200 0 0 15",
    b"#Fields: date time c-ip cs-username cs-method cs-uri-stem sc-status sc-bytes",
    b"2024-03-04 08:09:11 pc-1 - POST /up 200 77",
    b"1157689320.327   2864 10.1.1.1 TCP_MISS/200 10182 GET http://a/ bob DIRECT/1.2.3.4 text/html",
    b"2024-01-25T15:16:09Z" + b",x" * 7 + b",SEND" + b",y" * 10 + b",a@b.org" + b",z" * 10,
    b"1521911721.5\tC1\t10.0.0.1\t1\t10.0.0.2\t25\t1\th\t<a@b>\tc@d\t-\t-\t-\t-\t-\t-\t-\ts"
    + b"\t-" * 9,
    b"Jan  2 07:00:00 mx postfix/qmgr[1]: 4F2A1: from=<a@x.org>, size=10, nrcpt=1",
    b"2024-01-02T07:00:00.25+01:00 mx postfix/qmgr[1]: 4F2A2: from=<b@x.org>, size=10, nrcpt=1",
    b'{"message": "4F2A1: from=<a@x.org>, size=10, nrcpt=1", "timestamp": "2024-01-02T00:00:00Z"}',
    b"1157689320.327   2864 10.1.1.1 TCP_MISS/200 10182 GET http://a/ - DIRECT/1.2.3.4 text/html",
    b"HP4F bob 12 [04/Mar/2024:08:09:10 +0100] total 14 - 10.1.4.7 Budget 2025.docx A4 one-sided",
    b"HP4F - 13 [04/Mar/2024:08:09:10] 1 2 acme pc-1 job A4 two-sided-long-edge",
    b"HP4F bob 13 [04/Mar/2024:08:09:10 +0100] 2 2 acme-123",
    b'{"@timestamp": "2024-03-04T08:09:10Z", "winlog": {"channel": "Security", "event_id": 4624,'
    b' "computer_name": "PC", "record_id": 1, "event_data": {"TargetUserName": "bob"}}}',
    b"1709539751.0\tC1\t10.1.4.7\t1\t10.0.0.1\t80\t1\tPOST\th\t/u\t-\t1.1\t-\t-\t7\t1\t201"
    + b"\t-" * 4
    + b"\tbob"
    + b"\t-" * 8,
    b"2024-03-04 08:09:10 10.0.0.5 GET /a - 443 OFFSEC\\bob 10.1.4.7 M/5.0 - 200 0 0 15",
    b'2024-03-04 08:09:10 10.0.0.5 POST "/a b" - 443 - pc-1 M/5.0 - 200 0 0 15',
    b"#Fields: date time c-ip cs-username cs-method cs-uri sc-status sc-bytes cs-bytes",
    b'{"class_uid": 4002, "activity_id": 6, "time": 1709539750123, "src_endpoint": {"ip": "pc-1"},'
    b' "http_request": {"url": {"hostname": "h", "path": "/p"}, "length": 7}}',
    b'{"class_uid": 4009, "activity_id": 1, "time_dt": "2024-03-04T08:00:00", "email":'
    b' {"from": "bob@x.org", "to": ["a@b.c"], "size": 9}}',
]

XML = (
    b"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    b"<EventID>4624</EventID><TimeCreated SystemTime='2024-03-04T08:09:10Z'/>"
    b"<Channel>Security</Channel><Computer>PC</Computer></System><EventData>"
    b"<Data Name='TargetUserName'>bob</Data></EventData></Event>\n" * 2
)

line = st.one_of(
    st.sampled_from(SEEDS),
    st.sampled_from(SEEDS).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=200).map(lambda t: t.replace("\n", " ").encode("utf-8")),
    st.sampled_from(SEEDS).map(lambda s: s + b"x" * 100_000),
    st.sampled_from(SEEDS)
    .map(lambda s: s.decode().encode("utf-16"))
    .map(lambda b: b.replace(b"\n", b" ")),
)


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(line, min_size=1, max_size=8))
def test_every_line_is_stored_rejected_or_skipped_once(name: str, lines: list[bytes]) -> None:
    chunk = Chunk(b"\n".join(lines) + b"\n", 1, 0, True)
    table, rejects = PLANS[name].split(chunk)
    stored = table.column(LINE_COLUMN).to_pylist()
    rejected = [r.line for r in rejects if not r.skipped]
    skipped = Counter[str]()
    for skip in (r for r in rejects if r.skipped):
        skipped[skip.reason] += skip.count
    numbers = sorted([*stored, *rejected])
    assert len(numbers) == len(set(numbers)), "a line was stored or rejected twice"
    assert len(numbers) + skipped.total() == len(lines), "a line was lost or counted twice"
    for reject in rejects:
        assert reject.reason and not reject.reason.startswith(
            f"unparsable {PLANS[name].label} line ("
        ), f"parser crashed on line {reject.line}: {reject.reason}"
    if name in ("w3c", "w3c-fast"):
        return  # a '#Fields:' line changes how the lines after it read: no line stands alone
    # Skips are counted per reason, so check them line by line: each line alone must land in
    # the same place (stored, rejected, or skipped for the same reason).
    alone_stored, alone_rejected, alone_skipped = [], [], Counter[str]()
    for number, raw in enumerate(lines, start=1):
        single, found = PLANS[name].split(Chunk(raw + b"\n", number, 0, True))
        alone_stored += single.column(LINE_COLUMN).to_pylist()
        alone_rejected += [r.line for r in found if not r.skipped]
        for skip in (r for r in found if r.skipped):
            alone_skipped[skip.reason] += skip.count
    assert (sorted(stored), sorted(rejected), skipped) == (
        alone_stored,
        alone_rejected,
        alone_skipped,
    )


@settings(max_examples=60, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.sampled_from([XML]).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
        st.just(XML.decode().encode("utf-16")),
    )
)
def test_event_xml_never_crashes_and_rejects_at_most_once(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("xml") / "events.xml"
    path.write_bytes(data)
    results = [
        parse_xml_record(raw)
        for chunk in xml_event_chunks(path, 0, 1)
        for _, raw in chunk.numbered_lines()
    ]
    rejects = [r for r in results if isinstance(r, Reject)]
    assert len(rejects) <= 1, "malformed XML ends the file with one reject"
    assert all(
        r.reason.startswith(("malformed XML", "not UTF-8", "corrupt or truncated gzip"))
        for r in rejects
    )


ARRAY = json.dumps(
    [json.loads(seed) for seed in SEEDS if seed.startswith(b'{"class_uid"')], indent=1
).encode()


@settings(max_examples=80, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300).map(lambda b: b"[" + b),
        st.sampled_from([ARRAY]).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
        st.sampled_from([ARRAY]).flatmap(
            lambda s: st.tuples(st.integers(0, len(s)), st.binary(min_size=1, max_size=3)).map(
                lambda cut: s[: cut[0]] + cut[1] + s[cut[0] :]
            )
        ),
    ),
    piece=st.sampled_from([3, 1 << 20]),
)
def test_ocsf_array_never_crashes_and_rejects_at_most_once(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, piece: int
) -> None:
    path = tmp_path_factory.mktemp("ocsf") / "lake.json"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ocsf, "_READ_BYTES", piece)
        results = [
            parse_ocsf_record(raw)
            for chunk in ocsf_array_chunks(path, 0, 1)
            for _, raw in chunk.numbered_lines()
        ]
    errors = [r for r in results if isinstance(r, Reject) and "JSON array" in r.reason]
    decoding = [r for r in results if isinstance(r, Reject) and "UTF-8" in r.reason]
    assert len(errors) + len(decoding) <= 1, "a malformed array ends with one reject"
    assert all(r.reason.startswith("malformed JSON array at line ") for r in errors)


# An EVTX record as the `evtx` package renders it (compact JSON), for the pattern that tells
# unused event ids without decoding (`evtx._unused_record`): whatever the values, it either
# leaves the record to the full mapping or gives exactly the full mapping's skip.
EVTX_RECORD = {
    "Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4624,
            "TimeCreated": {"#attributes": {"SystemTime": "2024-03-04T08:09:10.123456Z"}},
            "EventRecordID": 7,
            "Channel": "Security",
            "Computer": "PC",
            "Security": None,
        },
        "EventData": {"TargetUserName": "bob", "LogonType": 2},
    }
}
text_value = st.one_of(
    st.sampled_from(
        [
            "Security",
            "System",
            "Microsoft-Windows-Sysmon/Operational",
            "Microsoft-Windows-PrintService/Operational",
            "Microsoft-Windows-Sysmon",
            "",
            " Security ",
            'Se"cu\\rity',
            "{x}",
        ]
    ),
    st.text(max_size=30),
)
event_id = st.one_of(
    st.sampled_from([4624, 4634, 1, 11, 307, 7045, 4608, 0, 999999999]),
    st.integers(-5, 10**12),
    st.text(max_size=6),
    st.fixed_dictionaries(
        {"#attributes": st.just({"Qualifiers": 16384}), "#text": st.integers(0, 70000)}
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    channel=text_value,
    provider=text_value,
    number=event_id,
    drop=st.sampled_from([None, "Channel", "Provider", "EventID", "EventData"]),
    data_channel=st.booleans(),
)
def test_evtx_unused_event_ids_are_told_as_the_full_mapping_tells_them(
    channel: str, provider: str, number: object, drop: str | None, data_channel: bool
) -> None:
    from molehunt.ingest.logs.evtx import _unused_record, parse_evtx_line

    record = json.loads(json.dumps(EVTX_RECORD))
    system = record["Event"]["System"]
    system["Channel"], system["EventID"] = channel, number
    system["Provider"]["#attributes"]["Name"] = provider
    if data_channel:
        record["Event"]["EventData"]["Channel"] = "Nope"
    if drop in system:
        del system[drop]
    elif drop:
        del record["Event"][drop]
    data = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    raw = b'{"n":7,"d":%s}' % data.encode()
    told = _unused_record(raw)
    if told is not None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("molehunt.ingest.logs.evtx._unused_record", lambda _raw: None)
            assert parse_evtx_line(raw) == told


_QMGR = "Jan  2 07:00:{s:02d} mx postfix/qmgr[6]: {q}: from=<{v}@x.org>, size=5, nrcpt=1"
_SMTP = "Jan  2 07:00:{s:02d} mx postfix/smtp[7]: {q}: to=<{v}@y.org>, relay=y, status=sent (ok)"
_REMOVED = "Jan  2 07:00:{s:02d} mx postfix/qmgr[6]: {q}: removed"
_NOISE = "Jan  2 07:00:{s:02d} mx postfix/smtpd[5]: connect from unknown[10.0.0.1]"
_POSTFIX_LINES = st.lists(
    st.tuples(
        st.sampled_from(["from", "to", "removed", "noise"]),
        st.sampled_from(["QA", "QB", "QC"]),
        st.sampled_from(["a", "b", "c"]),
        st.booleans(),  # an ISO stamp: the line takes the per-line parser
    ),
    max_size=60,
)


def _maillog(lines: list[tuple[str, str, str, bool]]) -> str:
    out = []
    for second, (kind, queue, value, iso) in enumerate(lines):
        pattern = {"from": _QMGR, "to": _SMTP, "removed": _REMOVED, "noise": _NOISE}[kind]
        line = pattern.format(s=second % 60, q=queue, v=value)
        if iso:
            line = line.replace("Jan  2 07:00:", "2024-01-02T07:00:", 1)
            line = line.replace(f"07:00:{second % 60:02d} mx", f"07:00:{second % 60:02d}Z mx", 1)
        out.append(line)
    return "".join(f"{line}\n" for line in out)


def _messages_model(lines: list[tuple[str, str, str, bool]]) -> list[tuple[int, str, str | None]]:
    """The join's rule, one line at a time: (line, user, recipients) of every message."""
    open_messages: dict[str, tuple[int, str, list[str]]] = {}
    done = []
    for number, (kind, queue, value, _iso) in enumerate(lines, 1):
        if kind == "from" and queue not in open_messages:
            open_messages[queue] = (number, value, [])
        elif kind == "to" and queue in open_messages:
            seen = open_messages[queue][2]
            if f"{value}@y.org" not in seen:
                seen.append(f"{value}@y.org")
        elif kind == "removed" and queue in open_messages:
            done.append(open_messages.pop(queue))
    done += open_messages.values()
    return sorted((line, user, ";".join(to) or None) for line, user, to in done)


# A queue id closed and opened again in one chunk, delivered to in the next: the later
# message must stay the open one of its key.
_REUSED = [
    ("from", "QA", "a", False),
    ("removed", "QA", "a", False),
    ("from", "QA", "b", False),
    ("noise", "QA", "a", False),
    ("noise", "QA", "a", False),
    ("to", "QA", "c", False),
]


@settings(max_examples=150, deadline=None)
@given(_POSTFIX_LINES, st.integers(60, 2000), st.integers(60, 2000), st.integers(0, 80))
@example(_REUSED, 300, 80, 1).via("a queue id reused within a chunk")
def test_postfix_messages_join_as_the_line_by_line_rule_whatever_the_chunks(
    lines: list[tuple[str, str, str, bool]], first_bytes: int, then_bytes: int, kill_at: int
) -> None:
    # Split in chunks of one size, "killed" after some of them, resumed with another size:
    # the messages stored are those of the rule read line by line, each once.
    import tempfile
    from pathlib import Path

    import molehunt.ingest.logs as logs
    from molehunt.ingest.logs import plan_for

    text = _maillog(lines)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "maillog"
        path.write_text(text)
        saved = logs._FAST_CHUNK_BYTES
        stored: list[tuple[int, str, str | None]] = []
        try:
            logs._FAST_CHUNK_BYTES = first_bytes
            plan, chunks = plan_for(path, "postfix")
            assert plan.messages is not None
            plan.messages.plan = plan
            every = list(chunks(path, 0, 1))
            kill = min(kill_at, len(every))
            start, next_line = 0, 1
            for chunk in every[:kill]:
                table, _ = plan.split(chunk)
                stored += _rows(table)
                start, next_line = chunk.end, chunk.first_line + chunk.line_count
            logs._FAST_CHUNK_BYTES = then_bytes
            plan, chunks = plan_for(path, "postfix")
            assert plan.messages is not None
            plan.messages.plan = plan
            for chunk in chunks(path, start, next_line):
                table, _ = plan.split(chunk)
                stored += _rows(table)
        finally:
            logs._FAST_CHUNK_BYTES = saved
    assert sorted(stored) == _messages_model(lines)


def _rows(table: object) -> list[tuple[int, str, str | None]]:
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    return list(
        zip(
            table.column(LINE_COLUMN).to_pylist(),
            table.column("user").to_pylist(),
            table.column("object").to_pylist(),
            strict=True,
        )
    )
