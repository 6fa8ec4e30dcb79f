"""OCSF JSON lines: classes 1001, 1007, 3002, 4002, 4009 -> file, process, logon, http, email."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from molehunt.ingest.logs import detect_format, ingest_logs
from molehunt.store import Store

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
