"""OCSF JSON lines: classes 1001, 1007, 3002, 4002, 4009 -> file, process, logon, http, email."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from molehunt.ingest.logs import detect_format, ingest_logs, ocsf
from molehunt.store import Store
from tests.ingest.killing import die_on_commit, revive

T = 1709539750123  # 2024-03-04T08:09:10.123Z in epoch milliseconds
ACTOR = {"user": {"name": "asmith", "domain": "OFFSEC", "uid": "S-1-5-21-1-2-3-1104"}}
EVENTS: list[dict[str, Any]] = [
    {
        "class_uid": 1001,
        "activity_id": 3,
        "time": T,
        "actor": ACTOR,
        "device": {"hostname": "PC-0042"},
        "file": {"path": "E:\\\\secret\\\\plan.docx"},
        "metadata": {"uid": "f-1", "version": "1.1.0"},
    },
    {
        "class_uid": 1007,
        "activity_id": 1,
        "time": T + 1000,
        "actor": ACTOR,
        "device": {"hostname": "PC-0042"},
        "process": {"file": {"path": "C:\\\\Windows\\\\robocopy.exe"}, "cmd_line": "robocopy a b"},
    },
    {
        "class_uid": 3002,
        "activity_id": 1,
        "time_dt": "2024-03-04T09:00:00+01:00",
        "user": {"name": "bjones@offsec.example"},
        "logon_type_id": 10,
        "device": {"hostname": "JUMP01"},
    },
    {
        "class_uid": 4002,
        "activity_id": 6,
        "time": T + 2000,
        "src_endpoint": {"ip": "10.1.4.7"},
        "actor": {"user": {"name": "asmith"}},
        "http_request": {
            "http_method": "POST",
            "url": {"scheme": "https", "hostname": "drive.example.com", "path": "/up"},
            "length": 7340032,
        },
        "http_response": {"code": 200},
    },
    {
        "class_uid": 4002,
        "activity_id": 3,
        "time": T + 3000,
        "src_endpoint": {"ip": "10.9.9.9"},
        "http_request": {"url": {"url_string": "http://x.example/"}},
    },
    {
        "class_uid": 4009,
        "activity_id": 1,
        "time": T + 4000,
        "email": {
            "from": "a.smith@offsec.example",
            "to": ["rival@mail.example", "me@home.example"],
            "cc": ["x@y.example"],
            "subject": "notes",
            "size": 2048,
        },
    },
    {"class_uid": 4009, "activity_id": 3, "time": T, "email": {}},
    {"class_uid": 2004, "activity_id": 1, "time": T},
    {"class_uid": 1001, "activity_id": 2, "actor": ACTOR, "file": {"path": "x"}},
    {"class_uid": 1007, "activity_id": 1, "time": T, "actor": {"user": {"name": "SYSTEM"}}},
]


def test_ocsf_classes_map_to_molehunt_channels(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "lake.ocsf.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + '\n{"no": "class"}\n')
    assert detect_format(path) == "ocsf"
    [got] = ingest_logs(store, [path]).files
    assert (got.read, got.stored, got.rejected, got.skipped) == (11, 5, 2, 4)
    assert dict(got.skip_reasons) == {
        "no user (client address only)": 1,
        "OCSF Email Activity (4009) activity 3 not used": 1,
        "OCSF class 2004 not used": 1,
        "OCSF Process Activity (1007): service account 'SYSTEM'": 1,
    }
    rows = store.query(
        "SELECT \"user\", strftime(time, '%H:%M:%S.%f'), host, channel, action, object, "
        "size_bytes, content FROM events ORDER BY time"
    )
    assert rows == [
        ("bjones", "08:00:00.000000", "JUMP01", "logon", "logon", "logon type 10", None, None),
        (
            "asmith",
            "08:09:10.123000",
            "PC-0042",
            "file",
            "write",
            "E:\\\\secret\\\\plan.docx",
            None,
            None,
        ),
        (
            "asmith",
            "08:09:11.123000",
            "PC-0042",
            "process",
            "start",
            "C:\\\\Windows\\\\robocopy.exe",
            None,
            "robocopy a b",
        ),
        (
            "asmith",
            "08:09:12.123000",
            "10.1.4.7",
            "http",
            "upload",
            "https://drive.example.com/up",
            7340032,
            "200",
        ),
        (
            "a.smith",
            "08:09:14.123000",
            None,
            "email",
            "send",
            "rival@mail.example;me@home.example",
            2048,
            "notes",
        ),
    ]
    reasons = [r for (r,) in store.query("SELECT reason FROM rejects ORDER BY line")]
    assert reasons == [
        "no time (expected 'time' in epoch milliseconds or 'time_dt' ISO 8601)",
        "expected an OCSF event object with class_uid and activity_id",
    ]


def _array_rows(store: Store) -> list[tuple[object, ...]]:
    return store.query('SELECT "user", channel, action, object FROM events ORDER BY time, object')


@pytest.mark.parametrize("piece_bytes", [1 << 20, 7, 64])
def test_ocsf_json_array_file_reads_like_json_lines(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_bytes: int
) -> None:
    monkeypatch.setattr(ocsf, "_READ_BYTES", piece_bytes)  # elements cut by the read pieces
    lines = tmp_path / "lake.ocsf.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in EVENTS) + '\n{"no": "class"}\n')
    array = tmp_path / "lake.ocsf.json"
    array.write_text("\ufeff" + json.dumps([*EVENTS, {"no": "class"}, 12345], indent=2))
    assert detect_format(array) == "ocsf"
    [got] = ingest_logs(store, [array]).files
    assert (got.read, got.stored, got.rejected, got.skipped) == (12, 5, 3, 4)
    from_array = _array_rows(store)
    with Store.open(tmp_path / "ws2") as other:
        ingest_logs(other, [lines])
        assert from_array == _array_rows(other), "an array holds the same events as its lines"
    reasons = [r for (r,) in store.query("SELECT reason FROM rejects ORDER BY line")]
    assert reasons[1:] == ["expected an OCSF event object with class_uid and activity_id"] * 2


@pytest.mark.parametrize(
    ("text", "stored", "reason"),
    [
        ("[]", 0, None),
        ("  [ ]\n", 0, None),
        ("[{EVENT}, ", 1, "line 1, column {after}: the array is not closed (expected ']')"),
        ("[{EVENT},]", 1, "line 1, column {end}: Expecting value"),
        ("[{EVENT} {EVENT}]", 1, "line 1, column {end}: expected ',' or ']' after an element"),
        ("[{EVENT}]\nx", 1, "line 2, column 1: text after the array's closing ']'"),
        ('[{"class_uid": 1001, "activity_id": ', 0, "Expecting value"),
    ],
)
def test_malformed_ocsf_array_keeps_the_events_before_and_one_reject(
    store: Store, tmp_path: Path, text: str, stored: int, reason: str | None
) -> None:
    event = json.dumps(EVENTS[0])
    text = text.replace("{EVENT}", event)
    path = tmp_path / "lake.json"
    path.write_text(text)
    [got] = ingest_logs(store, [path], "ocsf").files
    assert (got.stored, got.rejected) == (stored, 0 if reason is None else 1)
    if reason is not None:
        end = len(event) + 3  # the column after '[', the element and ','
        reason = reason.format(end=end, after=end + 1)
        [(found,)] = store.query("SELECT reason FROM rejects")
        assert found.startswith("malformed JSON array at ") and found.endswith(reason), found


def test_killed_ocsf_array_ingest_resumes_without_duplicates(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from molehunt.ingest.logs import common

    events = [{**EVENTS[1], "time": T + n, "metadata": {"uid": f"p-{n}"}} for n in range(50)]
    path = tmp_path / "lake.json"
    path.write_text(json.dumps(events))
    monkeypatch.setattr(common, "RECORDS_PER_CHUNK", 10)
    die_on_commit(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(store, [path], "ocsf")
    revive(monkeypatch)
    report = ingest_logs(store, [path], "ocsf")
    assert (report.files[0].status, report.read, report.stored) == ("resumed", 30, 30)
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(50, 50)]
