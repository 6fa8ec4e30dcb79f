"""CUPS page_log and local times: print events, --timezone, and the year of syslog lines."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from molehunt.errors import ConfigError
from molehunt.ingest.logs import detect_format, ingest_logs
from molehunt.ingest.logs.clock import LocalClock, load_zone
from molehunt.store import Store

# CUPS 2.x: one `total` line per job; CUPS 1.x: one line per page; CUPS 1.1: no host/name.
CUPS = (
    "HP4F asmith 12 [04/Mar/2024:08:09:10 +0100] total 14 - 10.1.4.7 Budget 2025 - SECRET.docx "
    "A4 one-sided\n"
    "HP4F bjones 13 [04/Mar/2024:09:00:00 +0100] 1 2 acme-123 pc-0042 plan.pdf A4 one-sided\n"
    "HP4F bjones 13 [04/Mar/2024:09:00:01 +0100] 2 2 acme-123 pc-0042 plan.pdf A4 one-sided\n"
    "HP4F bjones 13 [04/Mar/2024:09:00:02 +0100] 3 2 acme-123 pc-0042 plan.pdf A4 one-sided\n"
    "DeskJet root 2 [20/May/1999:19:21:05 +0000] 1 1 acme-123\n"
    "HP4F carol 14 [04/Mar/2024:10:00:00] total 1 - - - - -\n"
    "HP4F carol 15 [31/Feb/2024:10:00:00 +0100] total 1 - - x A4 one-sided\n"
    "HP4F carol 15 04/Mar/2024:10:00:00 total 1\n"
    "HP4F SYSTEM 16 [04/Mar/2024:10:00:00 +0100] total 3 - - x A4 one-sided\n"
)


def _file(tmp_path: Path, name: str, text: str, written: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    stamp = datetime.datetime.fromisoformat(written).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_cups_page_log_becomes_one_print_event_per_job(store: Store, tmp_path: Path) -> None:
    path = _file(tmp_path, "page_log", CUPS, "2024-03-05T00:00:00+00:00")
    assert detect_format(path) == "cups"
    report = ingest_logs(store, [path], timezone="Europe/Berlin")
    [got] = report.files
    assert (got.read, got.stored, got.rejected, got.skipped) == (9, 4, 2, 3)
    assert dict(got.skip_reasons) == {
        "page 2 of a job (added to its job's page count)": 1,
        "page 3 of a job (added to its job's page count)": 1,
        "service account 'SYSTEM'": 1,
    }
    rows = store.query(
        "SELECT \"user\", strftime(time, '%Y-%m-%d %H:%M:%S'), host, object, attachment_count, "
        "content, channel, action FROM events ORDER BY time"
    )
    assert rows == [
        ("root", "1999-05-20 19:21:05", "DeskJet", None, 1, None, "print", "print"),
        (
            "asmith",
            "2024-03-04 07:09:10",
            "HP4F",
            "Budget 2025 - SECRET.docx",
            14,
            "10.1.4.7",
            "print",
            "print",
        ),
        ("bjones", "2024-03-04 08:00:00", "HP4F", "plan.pdf", 6, "pc-0042", "print", "print"),
        # No offset in the line: read in --timezone (Europe/Berlin, UTC+1 in March).
        ("carol", "2024-03-04 09:00:00", "HP4F", None, 1, None, "print", "print"),
    ]
    rejects = store.query("SELECT line, reason FROM rejects ORDER BY line")
    assert rejects == [
        (7, "unparsable time '31/Feb/2024:10:00:00 +0100' (expected DD/Mon/YYYY:HH:MM:SS +ZZZZ)"),
        (
            8,
            "not a CUPS page_log line (expected 'printer user job-id [date-time] page-number "
            "num-copies ...')",
        ),
    ]
    assert got.notes == (
        "times without a zone offset (CUPS writes one by default) read as Europe/Berlin",
    )


POSTFIX = (
    "Dec 31 23:59:00 mx postfix/qmgr[1]: 4F2A1: from=<ann@x.org>, size=10, nrcpt=1 (queue active)\n"
    "Jan  1 00:01:00 mx postfix/qmgr[1]: 4F2A2: from=<bob@x.org>, size=10, nrcpt=1 (queue active)\n"
    "Jan  1 10:00:00 mx postfix/qmgr[1]: 4F2A3: from=<cy@x.org>, size=10, nrcpt=1 (queue active)\n"
)


def test_postfix_year_rolls_over_from_the_file_date_and_zone_applies(
    store: Store, tmp_path: Path
) -> None:
    path = _file(tmp_path, "maillog", POSTFIX, "2025-01-01T12:00:00+00:00")
    [got] = ingest_logs(store, [path], timezone="America/New_York").files
    rows = store.query("SELECT \"user\", strftime(time, '%Y-%m-%d %H:%M') FROM events ORDER BY 2")
    assert rows == [
        ("ann", "2025-01-01 04:59"),  # Dec 31 2024 23:59 EST: the year before the file's date
        ("bob", "2025-01-01 05:01"),
        ("cy", "2025-01-01 15:00"),
    ]
    assert got.notes == (
        "syslog times (no zone, no year) read as America/New_York; a time without a year takes "
        "the year of the file's date 2025-01-01 (one after that date: the year before)",
        "3 messages still open at the end of the file (no 'removed' line yet) stored with the "
        "recipients seen so far",
    )


def test_unknown_timezone_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    path = _file(tmp_path, "maillog", POSTFIX, "2025-01-01T12:00:00+00:00")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        ingest_logs(store, [path], timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("written", "stamp", "expected"),
    [
        ("2024-06-01T00:00:00", "Mar  4 08:09:10", "2024-03-04T08:09:10Z"),
        ("2024-06-01T00:00:00", "Jun  1 23:00:00", "2024-06-01T23:00:00Z"),  # within a day
        ("2024-06-01T00:00:00", "Jun  3 00:00:00", "2023-06-03T00:00:00Z"),
        ("2025-03-01T00:00:00", "Feb 29 10:00:00", "2024-02-29T10:00:00Z"),  # leap day
    ],
)
def test_clock_infers_the_year_from_the_file_date(written: str, stamp: str, expected: str) -> None:
    clock = LocalClock(load_zone("UTC"), datetime.datetime.fromisoformat(written + "+00:00"))
    assert clock.parse(" ".join(stamp.split()), "%b %d %H:%M:%S") == expected
