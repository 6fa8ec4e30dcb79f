"""Windows events -> molehunt events: the one event-id mapping every Windows source shares.

EVTX files (`evtx.py`) and exported events (XML, Winlogbeat JSON) all become the same dict
shape, the `evtx` package's JSON rendering of the event XML:

    {"System": {"EventID": 4624, "Channel": "Security", "Computer": "PC1",
                "Provider": {"#attributes": {"Name": "..."}},
                "TimeCreated": {"#attributes": {"SystemTime": "2024-01-02T03:04:05.1234567Z"}},
                "Security": {"#attributes": {"UserID": "S-1-5-21-..."}}},
     "EventData": {"TargetUserName": "alice", ...}}      (or "UserData": {"<Element>": {...}})

and `map_record` turns that into an event, a skip or a reject. The table of event ids is in
docs/logs.md.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from molehunt.errors import ConfigError
from molehunt.ingest.logs.common import (
    LineParser,
    Parsed,
    Reject,
    Skip,
    account_user,
    unnamed,
    with_account,
)

_LOGON = {4624: "logon", 4634: "logoff", 4647: "logoff", 4648: "logon"}
_FILE = {4656, 4663, 5145}
_SYSMON = "Microsoft-Windows-Sysmon"
_PRINT_CHANNEL = "Microsoft-Windows-PrintService/Operational"
# Well-known SIDs of the local service accounts (SYSTEM, LOCAL SERVICE, NETWORK SERVICE).
_SERVICE_SIDS = {"S-1-5-18": "SYSTEM", "S-1-5-19": "LOCAL SERVICE", "S-1-5-20": "NETWORK SERVICE"}
# Device setup classes and compatible ids of removable storage (6416): USB mass storage
# (class 08h, USBSTOR), disks, CD/DVD drives, portable devices (phones, cameras: WPD).
_REMOVABLE_CLASSES = {"diskdrive", "cdrom", "wpd", "volume", "floppydisk", "tapedrive"}
_REMOVABLE_IDS = ("USBSTOR", "USB\\CLASS_08", "SBP2\\", "GENDISK", "GENCDROM", "WPDBUSENUM")
# The task of a 4656 / 4663 logged by the "Audit Removable Storage" subcategory (file access on
# removable storage, whatever the SACL): its number in EVTX and event XML (Object Access
# tasks run from 12800 File System, 12801 Registry, 12802 Kernel Object, ... 12811 Detailed
# File Share, 12812 Removable Storage), its name in Winlogbeat's `winlog.task`.
_REMOVABLE_STORAGE_TASKS = {"12812", "removable storage"}


def text_of(value: object) -> str:
    """The text of a rendered XML value: a string, a number, or an element's `#text`."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return text_of(value.get("#text"))
    return str(value).strip()


def _attribute(element: object, name: str) -> str:
    if not isinstance(element, dict):
        return ""
    return text_of((element.get("#attributes") or {}).get(name))


def event_data(event: dict[str, Any]) -> dict[str, Any]:
    """Return an event's named data: `EventData`, or the one element inside `UserData`."""
    data = event.get("EventData") or event.get("UserData") or {}
    if not isinstance(data, dict):
        return {}
    if "EventData" not in event:
        # UserData wraps its fields in one provider-defined element (DocumentPrinted, ...).
        inner = [value for key, value in data.items() if key != "#attributes"]
        if len(inner) == 1 and isinstance(inner[0], dict):
            return inner[0]
    return data


def record_time(system: dict[str, Any]) -> str | Reject:
    """`TimeCreated/@SystemTime` (UTC) truncated to microseconds, or why there is none."""
    stamp = _attribute(system.get("TimeCreated"), "SystemTime")
    if not stamp:
        return Reject("record has no TimeCreated")
    if stamp.startswith("1601-01-01"):
        return Reject("time 1601-01-01 (FILETIME 0: the record carries no time)")
    date, _, rest = stamp.partition("T")
    if not rest:
        date, _, rest = stamp.partition(" ")
    rest = rest.removesuffix("Z")
    if "+" in rest or "-" in rest:  # an offset (exports): convert to UTC
        try:
            moment = datetime.datetime.fromisoformat(f"{date}T{rest}")
        except ValueError:
            return Reject(f"unparsable SystemTime '{stamp[:40]}' (expected ISO 8601)")
        return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    clock, _, fraction = rest.partition(".")
    return f"{date}T{clock}.{fraction[:6] or '0'}Z"


def map_record(event: dict[str, Any], record: object) -> Parsed:
    """Map one Windows event (the shape in the module docstring) to an event row.

    Args:
        event: The event.
        record: Its record number (EventRecordID or ordinal) for the event id.

    Returns:
        An event; a `Skip` naming the channel and event id for what molehunt does not use
        (a machine or service account's carries its whole event: `Skip.event`, kept apart);
        a `Reject` for a record without an event id or time.
    """
    system: dict[str, Any] = event.get("System") or {}
    try:
        event_id = int(text_of(system.get("EventID")))
    except ValueError:
        return Reject("record has no numeric EventID")
    channel = text_of(system.get("Channel"))
    provider = _attribute(system.get("Provider"), "Name")
    sysmon = is_sysmon(provider, channel)
    where = "Sysmon" if sysmon else channel or provider
    security_sid = _attribute(system.get("Security"), "UserID")
    removable = text_of(system.get("Task")).strip().lower() in _REMOVABLE_STORAGE_TASKS
    mapped = _map(event_id, sysmon, channel, event_data(event), security_sid, removable)
    if mapped is None:
        return Skip(f"{where} event {event_id} not used")
    if isinstance(mapped, Reject) or (isinstance(mapped, Skip) and mapped.event is None):
        return Skip(f"{where} event {event_id}: {mapped.reason}")
    fields = mapped.event if isinstance(mapped, Skip) else mapped
    assert fields is not None  # kept apart: the account's skip carries its event
    time = record_time(system)
    if isinstance(time, Reject):
        if isinstance(mapped, Skip):  # an account's record without a time: not kept
            return Skip(f"{where} event {event_id}: {mapped.reason}")
        return time
    computer = text_of(system.get("Computer"))
    row = {
        "host": computer or None,
        **fields,
        "event_id": f"{computer}:{channel}:{record}:{event_id}",
        "time": time,
    }
    if isinstance(mapped, Skip):  # a machine or service account: skipped, kept apart
        return Skip(f"{where} event {event_id}: {mapped.reason}", kind=mapped.kind, event=row)
    return row


def _get(data: dict[str, Any], name: str) -> str:
    value = text_of(data.get(name))
    return "" if value == "-" else value


def _access_action(mask_text: str) -> str:
    try:
        mask = int(mask_text, 16)
    except ValueError:
        return "open"
    if mask & 0x10000:  # DELETE
        return "delete"
    if mask & 0x6:  # WriteData / AppendData
        return "write"
    return "open"


def _who(data: dict[str, Any], prefix: str) -> Parsed:
    who = account_user(_get(data, f"{prefix}UserName"), _get(data, f"{prefix}DomainName"))
    if isinstance(who, dict) and _get(data, f"{prefix}UserSid"):
        who["_sid"] = _get(data, f"{prefix}UserSid")
    return who


def is_sysmon(provider: str, channel: str) -> bool:
    """Whether a record is Sysmon's (by its provider name or channel)."""
    return provider.startswith(_SYSMON) or channel.startswith(_SYSMON)


def maps(event_id: int, sysmon: bool, channel: str) -> bool:
    """Whether `map_record` maps this event id of this channel (else: skipped as not used)."""
    if sysmon:
        return event_id in (1, 11)
    if channel == _PRINT_CHANNEL:
        return event_id == 307
    if channel == "System":
        return event_id == 7045
    return channel == "Security" and (
        event_id in _LOGON or event_id in _FILE or event_id in (6416, 4688)
    )


def unused_skip(event_id: int, provider: str, channel: str) -> Skip | None:
    """The skip of a record whose event id molehunt does not use; None when it maps it."""
    sysmon = is_sysmon(provider, channel)
    if maps(event_id, sysmon, channel):
        return None
    where = "Sysmon" if sysmon else channel or provider
    return Skip(f"{where} event {event_id} not used")


def _map(
    event_id: int,
    sysmon: bool,
    channel: str,
    data: dict[str, Any],
    security_sid: str,
    removable: bool = False,
) -> Parsed | None:
    if not maps(event_id, sysmon, channel):
        return None
    if sysmon:
        return _map_sysmon(event_id, data)
    if channel == _PRINT_CHANNEL:
        return _map_print(event_id, data, security_sid) if event_id == 307 else None
    if channel == "System":
        return _map_service(data, security_sid) if event_id == 7045 else None
    if channel != "Security":
        return None
    if event_id in _LOGON:
        who = _who(data, "Subject" if event_id == 4648 else "Target")
        if unnamed(who):
            return who
        detail = f"logon type {_get(data, 'LogonType')}" if _get(data, "LogonType") else None
        if event_id == 4648:
            target = f"{_get(data, 'TargetDomainName')}\\{_get(data, 'TargetUserName')}"
            detail = f"explicit credentials {target} to {_get(data, 'TargetServerName')}"
        return with_account(who, {"channel": "logon", "action": _LOGON[event_id], "object": detail})
    if event_id in _FILE:
        return _map_file(event_id, data, removable)
    if event_id == 6416:
        return _map_device(data)
    if event_id == 4688:
        return _process_start(_who(data, "Subject"), data, "NewProcessName")
    return None


def _process_start(who: Parsed, data: dict[str, Any], image: str) -> Parsed:
    """A process start (Security 4688, Sysmon 1) by `who`: the image and its command line."""
    if unnamed(who):
        return who
    fields = {"channel": "process", "action": "start", "object": _get(data, image) or None}
    return with_account(who, {**fields, "content": _get(data, "CommandLine") or None})


def _map_sysmon(event_id: int, data: dict[str, Any]) -> Parsed | None:
    if event_id == 1:
        return _process_start(account_user(_get(data, "User")), data, "Image")
    if event_id == 11:
        if not _get(data, "User"):
            return Skip("no User field (Sysmon schema before 4.x)")
        who = account_user(_get(data, "User"))
        if unnamed(who):
            return who
        target = _get(data, "TargetFilename")
        return with_account(who, {"channel": "file", "action": "write", "object": target})
    return None


def _map_file(event_id: int, data: dict[str, Any], removable: bool = False) -> Parsed:
    """A file access (4656, 4663, 5145); `removable`: logged by the Removable Storage
    subcategory, so the file is on removable storage: read from it (`from`), or written or
    deleted there (`to`, as CERT's to_removable_media marks a file written or deleted on the
    drive); a file access of another subcategory has no direction (NULL)."""
    if _get(data, "ObjectType") != "File":
        return Skip(f"object type {_get(data, 'ObjectType') or '(none)'}, not a file")
    who = _who(data, "Subject")
    if unnamed(who):
        return who
    path = _get(data, "ObjectName")
    if event_id == 5145:
        path = f"{_get(data, 'ShareName')}\\{_get(data, 'RelativeTargetName')}".rstrip("\\")
    mask = _get(data, "AccessMask")
    action = _access_action(mask)
    fields = {
        "channel": "file",
        "action": action,
        "object": path or None,
        "content": f"access mask {mask}" if mask else None,
    }
    if removable:
        fields["removable"] = "from" if action == "open" else "to"
    return with_account(who, fields)


def is_removable_storage(data: dict[str, Any]) -> bool:
    """Tell whether a 6416 device is removable storage, by its class name and device ids."""
    if _get(data, "ClassName").lower() in _REMOVABLE_CLASSES:
        return True
    ids = " ".join(_get(data, name) for name in ("DeviceId", "CompatibleIds")).upper()
    return any(marker in ids for marker in _REMOVABLE_IDS)


def _map_device(data: dict[str, Any]) -> Parsed:
    who = _who(data, "Subject")
    removable = is_removable_storage(data)
    if isinstance(who, Skip) and (unnamed(who) or not removable):
        # An account's other devices are skipped for its account (as ever), and not kept:
        # a person's would not be stored either.
        return Skip(who.reason)
    if isinstance(who, Reject):
        return who
    kind = _get(data, "ClassName")
    if not removable:
        return Skip(f"device class {kind or '(none)'} is not removable storage")
    name = _get(data, "DeviceDescription") or _get(data, "DeviceId")
    return with_account(
        who,
        {
            "channel": "device",
            "action": "connect",
            "object": f"{kind}: {name}" if kind else name or None,
            "content": _get(data, "DeviceId") or None,
        },
    )


def _map_service(data: dict[str, Any], security_sid: str) -> Parsed:
    # 7045 names no account of the installer, only its SID in System/Security/@UserID.
    sid = security_sid.upper()
    if not sid:
        return Skip("no installing account (System/Security has no UserID)")
    fields: dict[str, str | None] = {
        "channel": "process",
        "action": "install",
        "object": _get(data, "ImagePath") or None,
        "content": f"service {_get(data, 'ServiceName')}; start {_get(data, 'StartType')}; "
        f"account {_get(data, 'AccountName') or '-'}",
    }
    if sid in _SERVICE_SIDS:
        name = _SERVICE_SIDS[sid]
        who = {"user": name.lower(), "_account": name, **fields}
        return Skip(f"installed by service account '{name}'", kind="service", event=who)
    return {"user": sid.lower(), "_sid": sid, **fields}


def _map_print(event_id: int, data: dict[str, Any], security_sid: str) -> Parsed:
    # 307: "Document %1, %2 owned by %3 on %4 was printed on %5 through port %6.
    # Size in bytes: %7. Pages printed: %8." (Param1 .. Param8 of UserData/DocumentPrinted).
    who = account_user(_get(data, "Param3"))
    if unnamed(who):
        return who
    if isinstance(who, dict) and security_sid and security_sid.upper() not in _SERVICE_SIDS:
        who["_sid"] = security_sid
    size, pages = _get(data, "Param7"), _get(data, "Param8")
    client = _get(data, "Param4").lstrip("\\")
    # The print channel's columns (docs/events.md): host = printer, object = document,
    # attachment_count = pages, content = the client machine.
    return with_account(
        who,
        {
            "host": _get(data, "Param5") or None,
            "channel": "print",
            "action": "print",
            "object": _get(data, "Param2") or None,
            "size_bytes": size if size.isdigit() else None,
            "attachment_count": pages if pages.isdigit() else None,
            "content": client or None,
            "_host": client or None,
        },
    )


_DRIVE_SPEC = re.compile(r"^([A-Z]):?(?:-([A-Z]):?)?$")
_DRIVE_PATH = re.compile(r"^([A-Za-z]):\\")


def parse_drives(spec: str) -> frozenset[str]:
    """The drive letters of `--removable-drives`: letters and ranges, e.g. `E-Z` or `E,F:,G`.

    Raises:
        ConfigError: `spec` is not such a list (one line, naming what was expected).
    """
    letters: set[str] = set()
    for part in (p.strip().upper() for p in spec.split(",")):
        match = _DRIVE_SPEC.match(part)
        if match is None or (match[2] is not None and match[2] < match[1]):
            raise ConfigError(
                f"--removable-drives: {part or '(empty)'!r} in {spec!r} is not a drive letter "
                "or range (expected e.g. E-Z or E,F,G)"
            )
        letters.update(chr(c) for c in range(ord(match[1]), ord(match[2] or match[1]) + 1))
    return frozenset(letters)


def on_drives(parse: LineParser, drives: frozenset[str]) -> LineParser:
    """`parse`, with file events on `drives` (the drive letters an organisation's removable
    media mount at, `--removable-drives`) given their removable direction: `from` for a
    read, `to` for a write or delete, as the Removable Storage task gives it. Events that
    have a direction already, and paths without a drive letter, are left as they are."""

    def parse_line(raw: bytes) -> Parsed:
        parsed = parse(raw)
        if isinstance(parsed, dict):
            return _on_drive(parsed, drives)
        if isinstance(parsed, Skip) and parsed.event is not None:  # an account's, kept apart
            event = _on_drive(parsed.event, drives)
            return Skip(parsed.reason, parsed.join, parsed.kind, event)
        return parsed

    return parse_line


def _on_drive(event: dict[str, Any], drives: frozenset[str]) -> dict[str, Any]:
    if event.get("channel") != "file" or event.get("removable") is not None:
        return event
    match = _DRIVE_PATH.match(event.get("object") or "")
    if match is None or match[1].upper() not in drives:
        return event
    return {**event, "removable": "from" if event.get("action") == "open" else "to"}
