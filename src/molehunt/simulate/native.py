"""The simulated institute's activity as the logs an organisation has (`--format native`).

The CERT-format activity files a run wrote are rewritten, row by row, as

- `native/windows/Security.xml`: wevtutil `qe Security /f:xml` event XML: logons and logoffs
  (4624 logon type 2, 4634), removable-storage connects (6416, a USB disk drive), file access
  (4663 with the access mask of the CERT activity: open = ReadData 0x1, copy and write =
  WriteData 0x2, delete = DELETE 0x10000; under the Removable Storage task 12812 when the
  file is on the drive, to or from it, else the File System task 12800);
- `native/windows/PrintService.xml`: PrintService/Operational 307 for the department printers;
- `native/print/page_log`: CUPS page_log `total` lines for the shared printers;
- `native/proxy/access.log`: Squid native access.log (POST for uploads, GET otherwise; the
  proxy user name is the account);
- `native/mail/maillog`: Postfix syslog with ISO 8601 times (one qmgr `from=` line per message
  and one smtp delivery line per recipient, To, Cc then Bcc);
- `identities.csv` (beside `native/`): the identity map (`molehunt ingest identities`):
  account (`DTAA\\ID` and `ID`), SID, work and private e-mail addresses, own PC;

and the CERT activity files are removed (LDAP, psychometric, decoys, context and answers stay).
All times are UTC. What the native formats cannot carry is documented in docs/simulate.md.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from molehunt.errors import SimulationError
from molehunt.simulate.institute import Institute
from molehunt.simulate.printing import SHARED_PRINTERS

DOMAIN = "DTAA"
PRINT_SERVER = "PRINTSRV1"
MAIL_HOST = "mail"
SID_PREFIX = "S-1-5-21-1004336348-1177238915-682003330-"
NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
SPOOLER_NAMESPACE = (
    "http://manifests.microsoft.com/win/2005/08/windows/printing/spooler/core/events"
)
SECURITY_PROVIDER = (
    '<Provider Name="Microsoft-Windows-Security-Auditing" '
    'Guid="{54849625-5478-4994-A5BA-3E3B0328C30D}"/>'
)
PRINT_PROVIDER = (
    '<Provider Name="Microsoft-Windows-PrintService" '
    'Guid="{747EF6FD-E535-4D16-B510-42C90F6873A1}"/>'
)
ACCESS_MASKS = {"open": "0x1", "copy": "0x2", "write": "0x2", "delete": "0x10000"}
# The Security log's tasks of file accesses: Audit File System, Audit Removable Storage.
FILE_SYSTEM_TASK, REMOVABLE_STORAGE_TASK = 12800, 12812
USB_DISK = (
    "USBSTOR\\DISK&VEN_SANDISK&PROD_CRUZER_BLADE&REV_1.00\\4C530001230517108262&0",
    "SanDisk Cruzer Blade USB Device",
)
ACTIVITY_FILES = ("logon", "device", "file", "email", "http", "print")


def sid_of(user: int) -> str:
    """The simulated domain SID of person ``user``."""
    return f"{SID_PREFIX}{1100 + user}"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a CERT-format activity file (plain or gzip) as dicts."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _moment(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%m/%d/%Y %H:%M:%S")


def _system(
    event_id: int,
    moment: datetime.datetime,
    record: int,
    channel: str,
    computer: str,
    provider: str,
    user_sid: str = "",
    task: int = 0,
) -> str:
    security = f'<Security UserID="{user_sid}"/>' if user_sid else "<Security/>"
    return (
        f"<System>{provider}<EventID>{event_id}</EventID><Version>0</Version><Level>0</Level>"
        f"<Task>{task}</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
        f'<TimeCreated SystemTime="{moment.isoformat()}.0000000Z"/>'
        f"<EventRecordID>{record}</EventRecordID><Correlation/>"
        f'<Execution ProcessID="4" ThreadID="96"/><Channel>{channel}</Channel>'
        f"<Computer>{escape(computer)}</Computer>{security}</System>"
    )


def _data(fields: dict[str, str]) -> str:
    body = "".join(f'<Data Name="{name}">{escape(value)}</Data>' for name, value in fields.items())
    return f"<EventData>{body}</EventData>"


def _security_event(row: dict[str, str], kind: str, record: int, users: dict[str, int]) -> str:
    """One CERT logon, device or file row as a Security event (empty when not logged)."""
    moment, user, pc = _moment(row["date"]), row["user"], row["pc"]
    task = 0
    subject = {
        "SubjectUserSid": sid_of(users[user]),
        "SubjectUserName": user,
        "SubjectDomainName": DOMAIN,
        "SubjectLogonId": "0x3e7",
    }
    if kind == "logon":
        event_id = 4624 if row["activity"] == "Logon" else 4634
        fields = {
            "TargetUserSid": sid_of(users[user]),
            "TargetUserName": user,
            "TargetDomainName": DOMAIN,
            "TargetLogonId": "0x3e7",
            "LogonType": "2",
        }
    elif kind == "device":
        if row["activity"] != "Connect":
            return ""  # Windows logs no removal of a device
        event_id = 6416
        fields = {
            **subject,
            "DeviceId": USB_DISK[0],
            "DeviceDescription": USB_DISK[1],
            "ClassId": "{4d36e967-e325-11ce-bfc1-08002be10318}",
            "ClassName": "DiskDrive",
            "VendorIds": "USBSTOR\\DiskSanDisk_Cruzer_Blade___1.00",
            "CompatibleIds": "USBSTOR\\Disk;USBSTOR\\RAW",
            "LocationInformation": "Port_#0001.Hub_#0004",
        }
    else:
        event_id = 4663
        action = row["activity"].removeprefix("File ").lower()
        # Audit Removable Storage logs the accesses to files on the drive under its own task;
        # Audit File System the others (a write or delete there is `to`, a read `from`).
        on_drive = "true" in (
            row.get("to_removable_media", "").strip().lower(),
            row.get("from_removable_media", "").strip().lower(),
        )
        task = REMOVABLE_STORAGE_TASK if on_drive else FILE_SYSTEM_TASK
        fields = {
            **subject,
            "ObjectServer": "Security",
            "ObjectType": "File",
            "ObjectName": row["filename"],
            "HandleId": "0x1f4",
            "AccessList": "%%4417" if action != "open" else "%%4416",
            "AccessMask": ACCESS_MASKS.get(action, "0x1"),
            "ProcessId": "0x1a2c",
            "ProcessName": "C:\\Windows\\explorer.exe",
        }
    system = _system(event_id, moment, record, "Security", pc, SECURITY_PROVIDER, task=task)
    return f'<Event xmlns="{NAMESPACE}">{system}{_data(fields)}</Event>\n'


def _print_event(row: dict[str, str], record: int, users: dict[str, int]) -> str:
    """A print job as PrintService 307 (Param1..Param8 of UserData/DocumentPrinted)."""
    pages = row["pages"]
    params = (
        str(record),
        row["document"],
        row["user"],
        "\\\\" + row["pc"],
        row["printer"],
        "IP_10.20.0.17",
        str(int(pages) * 41_337 if pages.isdigit() else 0),
        pages,
    )
    body = "".join(f"<Param{i}>{escape(value)}</Param{i}>" for i, value in enumerate(params, 1))
    system = _system(
        307,
        _moment(row["date"]),
        record,
        "Microsoft-Windows-PrintService/Operational",
        PRINT_SERVER,
        PRINT_PROVIDER,
        sid_of(users[row["user"]]),
    )
    return (
        f'<Event xmlns="{NAMESPACE}">{system}<UserData><DocumentPrinted '
        f'xmlns="{SPOOLER_NAMESPACE}">{body}</DocumentPrinted></UserData></Event>\n'
    )


def _cups_line(job: int, row: dict[str, str]) -> str:
    """A print job as a CUPS 2.x page_log `total` line (default PageLogFormat)."""
    stamp = _moment(row["date"]).strftime("%d/%b/%Y:%H:%M:%S +0000")
    name = row["document"].strip() or "-"
    return (
        f"{row['printer']} {row['user']} {job} [{stamp}] total {row['pages']} - {row['pc']} "
        f"{name} a4 one-sided\n"
    )


def _squid_line(row: dict[str, str], address: str) -> str:
    """A web request as a Squid native access.log line."""
    epoch = (_moment(row["date"]) - datetime.datetime(1970, 1, 1)).total_seconds()
    method = "POST" if row.get("activity") == "WWW Upload" else "GET"
    url = row["url"]
    host = url.split("/")[2] if url.count("/") >= 2 else "-"
    return (
        f"{epoch:.3f} 120 {address} TCP_MISS/200 4311 {method} {url} {row['user']} "
        f"HIER_DIRECT/{host} text/html\n"
    )


def _postfix_lines(row: dict[str, str], queue: int) -> str:
    """A sent mail as Postfix qmgr and smtp lines (ISO 8601 time)."""
    stamp = _moment(row["date"]).isoformat() + "+00:00"
    qid = f"{queue:010X}"
    recipients = [
        address
        for column in ("to", "cc", "bcc")
        for address in row[column].split(";")
        if address.strip()
    ]
    lines = [
        f"{stamp} {MAIL_HOST} postfix/qmgr[1207]: {qid}: from=<{row['from']}>, "
        f"size={row['size'] or 0}, nrcpt={len(recipients)} (queue active)\n"
    ]
    lines += [
        f"{stamp} {MAIL_HOST} postfix/smtp[1311]: {qid}: to=<{address}>, relay=relay.dtaa.com"
        "[10.0.0.25]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 OK)\n"
        for address in recipients
    ]
    return "".join(lines)


def _address(pc: str) -> str:
    digits = int("".join(c for c in pc if c.isdigit()) or 0)
    return f"10.{16 + digits // 65536 % 16}.{digits // 256 % 256}.{digits % 256}"


def _keyed(path: Path, kind: str) -> Iterator[tuple[datetime.datetime, str, dict[str, str]]]:
    for row in _rows(path):
        yield _moment(row["date"]), kind, row


def _find(outdir: Path, name: str) -> Path | None:
    for suffix in (".csv", ".csv.gz"):
        if (outdir / f"{name}{suffix}").is_file():
            return outdir / f"{name}{suffix}"
    return None


def _write(path: Path, render: Callable[[int, Any], str], items: Iterable[Any]) -> int:
    """Write ``render(record, item)`` for each item (1-based records); return the records."""
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for item in items:
            text = render(written + 1, item)
            if text:
                written += 1
                handle.write(text)
    return written


def write_identity_map(path: Path, inst: Institute) -> int:
    """The identity map of every person: accounts, SID, work and private addresses, own PC."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("person", "account", "sid", "email", "host", "kind"))
        for number, user_id in enumerate(inst.user_ids):
            writer.writerow(
                (
                    user_id,
                    f"{DOMAIN}\\{user_id};{user_id}",
                    sid_of(number),
                    f"{inst.emails[number]};{inst.personal_emails[number]}",
                    inst.pcs[int(inst.own_pc[number])],
                    "person",
                )
            )
    return len(inst.user_ids)


def write_native(outdir: Path, inst: Institute) -> dict[str, int]:
    """Rewrite the CERT-format activity files in ``outdir`` as native logs (module docstring).

    Args:
        outdir: A simulated release in the r6.2 layout.
        inst: Its institute (accounts, addresses, PCs for the identity map).

    Returns:
        Records written per native file (path relative to ``outdir/native``; the identity
        map, ``../identities.csv``, beside it).

    Raises:
        SimulationError: An activity file is missing.
    """
    paths: dict[str, Path] = {}
    for name in ACTIVITY_FILES:
        found = _find(outdir, name)
        if found is None:
            raise SimulationError(f"{outdir}: no {name} activity file to rewrite")
        paths[name] = found
    native = outdir / "native"
    for folder in ("windows", "print", "proxy", "mail"):
        (native / folder).mkdir(parents=True, exist_ok=True)
    users = {user_id: number for number, user_id in enumerate(inst.user_ids)}
    security = heapq.merge(
        *(_keyed(paths[kind], kind) for kind in ("logon", "device", "file")),
        key=lambda item: item[0],
    )
    shared = set(SHARED_PRINTERS)
    prints = list(_rows(paths["print"]))
    counts = {
        "windows/Security.xml": _write(
            native / "windows" / "Security.xml",
            lambda record, item: _security_event(item[2], item[1], record, users),
            security,
        ),
        "windows/PrintService.xml": _write(
            native / "windows" / "PrintService.xml",
            lambda record, row: _print_event(row, record, users),
            (row for row in prints if row["printer"] not in shared),
        ),
        "print/page_log": _write(
            native / "print" / "page_log",
            _cups_line,
            (row for row in prints if row["printer"] in shared),
        ),
        "proxy/access.log": _write(
            native / "proxy" / "access.log",
            lambda _record, row: _squid_line(row, _address(row["pc"])),
            _rows(paths["http"]),
        ),
        "mail/maillog": _write(
            native / "mail" / "maillog",
            lambda record, row: _postfix_lines(row, record),
            (row for row in _rows(paths["email"]) if row.get("activity", "Send") == "Send"),
        ),
        "../identities.csv": write_identity_map(outdir / "identities.csv", inst),
    }
    for path in paths.values():
        path.unlink()
    return counts
