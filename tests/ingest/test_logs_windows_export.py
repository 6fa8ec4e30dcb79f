"""Exported Windows events (event XML, Winlogbeat JSON) map as EVTX records do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import ConfigError
from molehunt.ingest.logs import detect_format, ingest_logs
from molehunt.ingest.logs.windows import parse_drives
from molehunt.store import Store

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _event(event_id: int, channel: str, record: int, data: str, *, user_data: bool = False) -> str:
    body = f"<UserData>{data}</UserData>" if user_data else f"<EventData>{data}</EventData>"
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='P' Guid='{{1}}'/>"
        f"<EventID Qualifiers='0'>{event_id}</EventID><Version>0</Version>"
        f"<TimeCreated SystemTime='2024-03-04T08:09:10.1234567Z'/>"
        f"<EventRecordID>{record}</EventRecordID><Channel>{channel}</Channel>"
        f"<Computer>PC-0042.offsec.lan</Computer><Security UserID='S-1-5-21-1-2-3-1104'/>"
        f"</System>{body}</Event>"
    )


LOGON = _event(
    4624,
    "Security",
    101,
    "<Data Name='TargetUserSid'>S-1-5-21-1-2-3-1104</Data><Data Name='TargetUserName'>asmith</Data>"
    "<Data Name='TargetDomainName'>OFFSEC</Data><Data Name='LogonType'>2</Data>",
)
PRINTED = _event(
    307,
    "Microsoft-Windows-PrintService/Operational",
    7,
    "<DocumentPrinted xmlns='http://manifests.microsoft.com/win/2005/08/windows/printing/spooler"
    "/core/events'><Param1>12</Param1><Param2>Plan &amp; budget.docx</Param2>"
    "<Param3>asmith</Param3><Param4>\\\\PC-0042</Param4><Param5>HP4F</Param5>"
    "<Param6>IP_10.1.9.20</Param6><Param7>48211</Param7><Param8>3</Param8></DocumentPrinted>",
    user_data=True,
)
MACHINE = _event(
    4624,
    "Security",
    102,
    "<Data Name='TargetUserName'>PC-0042$</Data><Data Name='LogonType'>3</Data>",
)
OTHER = _event(4798, "Security", 103, "<Data Name='TargetUserName'>x</Data>")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (LOGON + "\r\n" + PRINTED + "\r\n" + MACHINE + "\r\n" + OTHER + "\r\n", "utf-8"),
        (
            "<?xml version='1.0' encoding='UTF-16'?>\n<Events>"
            + LOGON
            + PRINTED
            + MACHINE
            + OTHER
            + "</Events>",
            "utf-16",
        ),
    ],
    ids=["wevtutil-qe", "saved-list-utf16"],
)
def test_event_xml_maps_like_evtx(store: Store, tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "security.xml"
    path.write_bytes(text.encode(encoding))
    assert detect_format(path) == "windows-xml"
    [got] = ingest_logs(store, [path]).files
    assert (got.read, got.stored, got.rejected, got.skipped) == (4, 2, 0, 2)
    assert dict(got.skip_reasons) == {
        "Security event 4624: machine account": 1,
        "Security event 4798 not used": 1,
    }
    rows = store.query(
        'SELECT event_id, "user", channel, action, object, attachment_count, host '
        "FROM events ORDER BY event_id"
    )
    assert rows == [
        (
            "PC-0042.offsec.lan:Microsoft-Windows-PrintService/Operational:7:307",
            "asmith",
            "print",
            "print",
            "Plan & budget.docx",
            3,
            "HP4F",
        ),
        (
            "PC-0042.offsec.lan:Security:101:4624",
            "asmith",
            "logon",
            "logon",
            "logon type 2",
            None,
            "PC-0042.offsec.lan",
        ),
    ]


def test_malformed_event_xml_keeps_the_events_before_and_names_the_place(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "cut.xml"
    path.write_text(LOGON + "\n" + PRINTED[:200] + "\n")
    [got] = ingest_logs(store, [path], "windows-xml").files
    assert (got.read, got.stored, got.rejected) == (2, 1, 1)
    [(reason,)] = store.query("SELECT reason FROM rejects")
    assert reason.startswith("malformed XML at line 3, column 0: ")


WINLOGBEAT = [
    {
        "@timestamp": "2024-03-04T08:09:10.123Z",
        "event": {"code": "4688"},
        "winlog": {
            "channel": "Security",
            "event_id": "4688",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "computer_name": "PC-0042.offsec.lan",
            "record_id": 55,
            "event_data": {
                "SubjectUserSid": "S-1-5-21-1-2-3-1104",
                "SubjectUserName": "asmith",
                "SubjectDomainName": "OFFSEC",
                "NewProcessName": "C:\\Windows\\System32\\robocopy.exe",
                "CommandLine": "robocopy \\\\fs01\\secret E:\\",
            },
        },
    },
    {
        "_source": {
            "@timestamp": "2024-03-04T09:00:00+01:00",
            "winlog": {
                "channel": "Microsoft-Windows-PrintService/Operational",
                "event_id": 307,
                "provider_name": "Microsoft-Windows-PrintService",
                "computer_name": "PRN01",
                "record_id": 9,
                "user": {"identifier": "S-1-5-21-1-2-3-1104"},
                "user_data": {
                    "xml_name": "DocumentPrinted",
                    "Param2": "Budget.xlsx",
                    "Param3": "asmith",
                    "Param4": "\\\\PC-0042",
                    "Param5": "HP4F",
                    "Param7": "100",
                    "Param8": "2",
                },
            },
        }
    },
    {"winlog": {"channel": "System", "event_id": 7036, "computer_name": "PC"}, "@timestamp": "x"},
    {"message": "no winlog here"},
]


def test_winlogbeat_json_maps_like_evtx(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "winlogbeat.ndjson"
    path.write_text("\n".join(json.dumps(item) for item in WINLOGBEAT) + "\n{broken\n")
    assert detect_format(path) == "winlogbeat"
    [got] = ingest_logs(store, [path], "winlogbeat").files
    assert (got.read, got.stored, got.rejected, got.skipped) == (5, 2, 2, 1)
    assert dict(got.skip_reasons) == {"System event 7036 not used": 1}
    rows = store.query(
        "SELECT event_id, \"user\", channel, action, object, strftime(time, '%H:%M:%S.%f') "
        "FROM events ORDER BY time"
    )
    assert rows == [
        (
            "PRN01:Microsoft-Windows-PrintService/Operational:9:307",
            "asmith",
            "print",
            "print",
            "Budget.xlsx",
            "08:00:00.000000",
        ),
        (
            "PC-0042.offsec.lan:Security:55:4688",
            "asmith",
            "process",
            "start",
            "C:\\Windows\\System32\\robocopy.exe",
            "08:09:10.123000",
        ),
    ]
    reasons = [r for (r,) in store.query("SELECT reason FROM rejects ORDER BY line")]
    assert reasons == [
        "expected a JSON object with a 'winlog' object (Winlogbeat / Elastic Agent)",
        "invalid JSON (Expecting property name enclosed in double quotes)",
    ]


def test_winlogbeat_task_name_tells_removable_storage(store: Store, tmp_path: Path) -> None:
    # Winlogbeat writes the task's name (winlog.task), event XML and EVTX its number (12812).
    def access(record: int, task: str, mask: str) -> dict[str, object]:
        return {
            "@timestamp": "2024-03-04T22:01:02.000Z",
            "winlog": {
                "channel": "Security",
                "event_id": 4663,
                "provider_name": "Microsoft-Windows-Security-Auditing",
                "computer_name": "PC-0042.offsec.lan",
                "record_id": record,
                "task": task,
                "event_data": {
                    "SubjectUserName": "asmith",
                    "SubjectDomainName": "OFFSEC",
                    "ObjectType": "File",
                    "ObjectName": f"E:\\copy\\{record}.docx",
                    "AccessMask": mask,
                },
            },
        }

    lines = [access(1, "Removable Storage", "0x2"), access(2, "File System", "0x2")]
    lines.append(access(3, "Removable Storage", "0x1"))
    path = tmp_path / "winlogbeat.ndjson"
    path.write_text("\n".join(json.dumps(item) for item in lines) + "\n")
    [got] = ingest_logs(store, [path], "winlogbeat").files
    assert (got.read, got.stored) == (3, 3)
    rows = store.query("SELECT object, action, removable FROM events ORDER BY object")
    assert rows == [
        ("E:\\copy\\1.docx", "write", "to"),
        ("E:\\copy\\2.docx", "write", None),
        ("E:\\copy\\3.docx", "open", "from"),
    ]


def _beat(record: int, event_id: int, provider: str, data: dict[str, str], task: str = "") -> str:
    channel = "Microsoft-Windows-Sysmon/Operational" if "Sysmon" in provider else "Security"
    return json.dumps(
        {
            "@timestamp": "2024-03-04T22:01:02.000Z",
            "winlog": {
                "channel": channel,
                "event_id": event_id,
                "provider_name": provider,
                "computer_name": "PC-0042",
                "record_id": record,
                "task": task,
                "event_data": data,
            },
        }
    )


def _sysmon_create(record: int, target: str) -> str:
    data = {"User": "OFFSEC\\asmith", "Image": "C:\\Windows\\explorer.exe"}
    return _beat(record, 11, "Microsoft-Windows-Sysmon", {**data, "TargetFilename": target})


def _security_access(record: int, name: str, mask: str, task: str) -> str:
    data = {"SubjectUserName": "asmith", "SubjectDomainName": "OFFSEC", "ObjectType": "File"}
    data |= {"ObjectName": name, "AccessMask": mask}
    return _beat(record, 4663, "Microsoft-Windows-Security-Auditing", data, task)


@pytest.mark.parametrize("drives", [frozenset(), frozenset("EF")])
def test_removable_drive_letters_give_file_events_their_direction(
    store: Store, tmp_path: Path, drives: frozenset[str]
) -> None:
    lines = [
        _sysmon_create(1, "E:\\out\\plans.pdf"),  # created on the stick
        _sysmon_create(2, "C:\\Users\\asmith\\plans.pdf"),
        _security_access(3, "F:\\in\\notes.txt", "0x1", "File System"),  # read from it
        _security_access(4, "G:\\x.txt", "0x2", "File System"),  # not a removable letter
        _security_access(5, "\\Device\\HarddiskVolume9\\y.txt", "0x2", "Removable Storage"),
    ]
    path = tmp_path / "beats.ndjson"
    path.write_text("\n".join(lines) + "\n")
    [got] = ingest_logs(store, [path], "winlogbeat", removable_drives=drives).files
    assert got.stored == 5
    rows = store.query("SELECT event_id, removable FROM events ORDER BY event_id")
    directions = [removable for _, removable in rows]
    if drives:
        assert directions == ["to", None, "from", None, "to"]
        assert got.notes == ("file paths on drives E, F read as removable storage",)
    else:
        assert directions == [None, None, None, None, "to"], "only the task says so then"
        assert got.notes == ()


def test_removable_drives_spec() -> None:
    assert parse_drives("E-H") == frozenset("EFGH")
    assert parse_drives("e, F:,g") == frozenset("EFG")
    assert parse_drives("e:-f:") == frozenset("EF")
    for bad in ("Z-E", "EF", "", "E,", "1"):
        with pytest.raises(
            ConfigError, match="--removable-drives: .* is not a drive letter or range"
        ):
            parse_drives(bad)
    result = CliRunner().invoke(
        main, ["-w", "/nonexistent/ws", "ingest", "logs", "x.evtx", "--removable-drives", "Z-E"]
    )
    assert result.exit_code != 0
    assert "--removable-drives: 'Z-E' in 'Z-E' is not a drive letter or range" in result.output
