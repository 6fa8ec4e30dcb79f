"""The shared Windows event mapping: print jobs, process starts, services, removable storage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from molehunt.ingest.logs.common import Skip
from molehunt.ingest.logs.evtx import parse_evtx_line
from molehunt.ingest.logs.windows import is_removable_storage, map_record

USER_SID = "S-1-5-21-1004336348-1177238915-682003330-1104"


def _event(
    event_id: int,
    channel: str,
    data: dict[str, Any],
    *,
    user_data: str = "",
    sid: str = "",
    provider: str = "Microsoft-Windows-Security-Auditing",
) -> dict[str, Any]:
    system: dict[str, Any] = {
        "Provider": {"#attributes": {"Name": provider}},
        "EventID": event_id,
        "Channel": channel,
        "Computer": "PRN01.offsec.lan",
        "TimeCreated": {"#attributes": {"SystemTime": "2024-03-04T08:09:10.1234567Z"}},
    }
    if sid:
        system["Security"] = {"#attributes": {"UserID": sid}}
    if user_data:
        return {"System": system, "UserData": {user_data: {"#attributes": {"xmlns": "x"}, **data}}}
    return {"System": system, "EventData": data}


PRINTED = {
    "Param1": "12",
    "Param2": "Budget 2025 - SECRET.docx",
    "Param3": "asmith",
    "Param4": "\\\\PC-0042",
    "Param5": "HP LaserJet 4F",
    "Param6": "IP_10.1.9.20",
    "Param7": "482113",
    "Param8": "14",
}


def test_printservice_307_is_a_print_event_with_document_pages_printer_and_owner() -> None:
    event = _event(
        307,
        "Microsoft-Windows-PrintService/Operational",
        PRINTED,
        user_data="DocumentPrinted",
        sid=USER_SID,
        provider="Microsoft-Windows-PrintService",
    )
    got = map_record(event, 7)
    assert isinstance(got, dict)
    assert {k: v for k, v in got.items() if not k.startswith("_")} == {
        "user": "asmith",
        "host": "HP LaserJet 4F",
        "channel": "print",
        "action": "print",
        "object": "Budget 2025 - SECRET.docx",
        "size_bytes": "482113",
        "attachment_count": "14",
        "content": "PC-0042",
        "event_id": "PRN01.offsec.lan:Microsoft-Windows-PrintService/Operational:7:307",
        "time": "2024-03-04T08:09:10.123456Z",
    }
    assert got["_sid"] == USER_SID, "the owner's SID goes to the identity map"
    assert got["_host"] == "PC-0042", "the client machine, for attribution by host"


def test_printservice_307_through_the_evtx_line_stream() -> None:
    event = _event(
        307,
        "Microsoft-Windows-PrintService/Operational",
        PRINTED,
        user_data="DocumentPrinted",
        provider="Microsoft-Windows-PrintService",
    )
    got = parse_evtx_line(json.dumps({"n": 3, "d": {"Event": event}}).encode())
    assert isinstance(got, dict) and got["channel"] == "print"


def test_printservice_other_event_ids_are_skipped_with_their_id() -> None:
    event = _event(306, "Microsoft-Windows-PrintService/Operational", {}, user_data="X")
    assert map_record(event, 1) == Skip(
        "Microsoft-Windows-PrintService/Operational event 306 not used"
    )


def test_security_4688_is_a_process_start_of_its_subject() -> None:
    data = {
        "SubjectUserSid": USER_SID,
        "SubjectUserName": "admmig",
        "SubjectDomainName": "OFFSEC",
        "NewProcessName": "C:\\Windows\\System32\\net.exe",
        "CommandLine": "net use \\\\evil\\ipc$",
    }
    got = map_record(_event(4688, "Security", data), 9)
    assert isinstance(got, dict)
    assert (got["user"], got["channel"], got["action"], got["object"], got["content"]) == (
        "admmig",
        "process",
        "start",
        "C:\\Windows\\System32\\net.exe",
        "net use \\\\evil\\ipc$",
    )
    assert (got["_account"], got["_sid"]) == ("OFFSEC\\admmig", USER_SID)


@pytest.mark.parametrize(
    ("sid", "expected"),
    [
        ("S-1-5-18", Skip("System event 7045: installed by service account 'SYSTEM'")),
        ("", Skip("System event 7045: no installing account (System/Security has no UserID)")),
    ],
)
def test_system_7045_by_a_service_account_is_skipped(sid: str, expected: Skip) -> None:
    data = {"ServiceName": "x", "ImagePath": "c:\\x.exe"}
    event = _event(7045, "System", data, sid=sid, provider="Service Control Manager")
    assert map_record(event, 1) == expected


def test_system_7045_by_a_person_is_a_service_install_named_by_sid() -> None:
    data = {
        "ServiceName": "Sysmon",
        "ImagePath": "C:\\Windows\\Sysmon.exe",
        "StartType": "auto start",
        "AccountName": "LocalSystem",
    }
    event = _event(7045, "System", data, sid=USER_SID, provider="Service Control Manager")
    got = map_record(event, 1)
    assert isinstance(got, dict)
    assert (got["user"], got["_sid"], got["channel"], got["action"], got["object"]) == (
        USER_SID.lower(),
        USER_SID,
        "process",
        "install",
        "C:\\Windows\\Sysmon.exe",
    )
    assert got["content"] == "service Sysmon; start auto start; account LocalSystem"


USB_STICK = {
    "DeviceId": "USBSTOR\\DISK&VEN_SANDISK&PROD_CRUZER&REV_1.00\\4C530001",
    "DeviceDescription": "SanDisk Cruzer USB Device",
    "ClassName": "DiskDrive",
    "CompatibleIds": "\r\n\t\tUSBSTOR\\Disk\r\n\t\tUSBSTOR\\RAW\r\n\t\tGenDisk\r\n",
}
PHONE = {"DeviceId": "USB\\VID_04E8&PID_6860\\R58M", "ClassName": "WPD", "CompatibleIds": ""}
PRINTER = {
    "DeviceId": "SWD\\PRINTENUM\\{32FB2173-023E-43DF-9F82-0E851CC0D9BF}",
    "DeviceDescription": "\\\\fs03vuln\\Kiwi Legit Printer",
    "ClassName": "PrintQueue",
    "CompatibleIds": "\r\n\t\tGenPrinterConnection\r\n\t\tSWD\\GenericRaw\r\n",
}
KEYBOARD = {
    "DeviceId": "HID\\VID_046D&PID_C31C\\7&1",
    "ClassName": "Keyboard",
    "CompatibleIds": "HID_DEVICE_SYSTEM_KEYBOARD",
}
MASS_STORAGE_NO_CLASS = {
    "DeviceId": "USB\\VID_1&PID_2",
    "CompatibleIds": "USB\\Class_08&SubClass_06",
}


@pytest.mark.parametrize(
    ("data", "removable"),
    [
        (USB_STICK, True),
        (PHONE, True),
        (MASS_STORAGE_NO_CLASS, True),
        (PRINTER, False),
        (KEYBOARD, False),
    ],
)
def test_6416_tells_removable_storage_from_other_devices(
    data: dict[str, str], removable: bool
) -> None:
    assert is_removable_storage(data) is removable


def test_6416_removable_storage_is_a_device_connect_other_devices_are_skipped() -> None:
    who = {"SubjectUserName": "asmith", "SubjectDomainName": "OFFSEC", "SubjectUserSid": USER_SID}
    stick = map_record(_event(6416, "Security", {**who, **USB_STICK}), 1)
    assert isinstance(stick, dict)
    assert (stick["user"], stick["channel"], stick["action"], stick["object"]) == (
        "asmith",
        "device",
        "connect",
        "DiskDrive: SanDisk Cruzer USB Device",
    )
    printer = map_record(_event(6416, "Security", {**who, **PRINTER}), 2)
    assert printer == Skip("Security event 6416: device class PrintQueue is not removable storage")


def _file_access(mask: str, task: object, event_id: int = 4663) -> dict[str, Any]:
    event = _event(
        event_id,
        "Security",
        {
            "SubjectUserSid": USER_SID,
            "SubjectUserName": "asmith",
            "SubjectDomainName": "OFFSEC",
            "ObjectServer": "Security",
            "ObjectType": "File",
            "ObjectName": "\\Device\\HarddiskVolume7\\plans\\reactor.pdf",
            "AccessMask": mask,
        },
    )
    event["System"]["Task"] = task
    return event


@pytest.mark.parametrize(
    ("mask", "task", "action", "removable"),
    [
        ("0x2", 12812, "write", "to"),  # Audit Removable Storage: written to the drive
        ("0x6", "12812", "write", "to"),
        ("0x1", 12812, "open", "from"),  # read from the drive
        ("0x10000", 12812, "delete", "to"),  # deleted on it: to, as CERT marks it
        ("0x2", 12800, "write", None),  # Audit File System: a local disk as far as we know
        ("0x2", None, "write", None),
    ],
)
def test_file_access_on_removable_storage_has_its_direction(
    mask: str, task: object, action: str, removable: str | None
) -> None:
    for event_id in (4663, 4656):
        got = map_record(_file_access(mask, task, event_id), 3)
        assert isinstance(got, dict)
        assert (got["channel"], got["action"], got.get("removable")) == ("file", action, removable)
        assert got["object"] == "\\Device\\HarddiskVolume7\\plans\\reactor.pdf"
