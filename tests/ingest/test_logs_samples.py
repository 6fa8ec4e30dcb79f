"""Every real log sample in ../shared/data/logs ingests with exact per-file counts.

The counts are what a user reads in `molehunt ingest logs`: read = stored + rejected +
skipped for every file, skipped records named with their reason (for EVTX, the event id), the
stored events per Windows event id, and the skipped records of machine and service accounts
kept apart (`account_events`) per reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from molehunt.ingest import IngestReport
from molehunt.ingest.logs import detect_format, ingest_logs
from molehunt.store import Store

LOGS = Path(__file__).parents[2] / ".." / "shared" / "data" / "logs"

pytestmark = pytest.mark.skipif(not LOGS.is_dir(), reason=f"{LOGS} not found")

EXPECTED: dict[str, tuple[tuple[int, int, int, int], dict[str, int]]] = {
    "mail/exchange-msgtrk_no-header_elastic-integrations.log": (
        (6, 1, 0, 5),
        {
            "event-id RECEIVE not used": 2,
            "event-id HAREDIRECTFAIL not used": 1,
            "no account name": 1,
            "event-id NOTIFYMAPI not used": 1,
        },
    ),
    "mail/postfix-messages_grok-test-corpus_whyscream.jsonl": (
        (191, 0, 1, 190),
        {
            "postfix line not used (only qmgr from= lines are messages)": 170,
            "postfix delivery line (recipient joined to its message)": 20,
        },
    ),
    "mail/zeek-smtp_wrccdc-2018_zed-sample-data.log.gz": (
        (1197, 12, 0, 1185),
        {"SMTP session without a message (no MAIL FROM)": 1176, "Zeek header line": 9},
    ),
    "print/printservice-operational-admin_300-316_mimispool_mdecrevoisier.evtx": (
        (14, 0, 0, 14),
        {
            "Microsoft-Windows-PrintService/Operational event 306 not used": 3,
            "Microsoft-Windows-PrintService/Admin event 808 not used": 2,
            "Microsoft-Windows-PrintService/Operational event 302 not used": 2,
            "Microsoft-Windows-PrintService/Operational event 316 not used": 1,
            "Microsoft-Windows-PrintService/Operational event 300 not used": 1,
            "Microsoft-Windows-PrintService/Operational event 304 not used": 1,
            "Microsoft-Windows-PrintService/Admin event 354 not used": 1,
            "Microsoft-Windows-PrintService/Admin event 823 not used": 1,
            "Microsoft-Windows-PrintService/Operational event 301 not used": 1,
            "Microsoft-Windows-PrintService/Operational event 317 not used": 1,
        },
    ),
    "proxy/squid-access-native_2006_elastic-integrations.log": (
        (100, 85, 0, 15),
        {"no proxy user name (client address only)": 15},
    ),
    "windows-evtx/security_4656-4663-4658-object-access_mdecrevoisier.evtx": (
        (7, 0, 0, 7),
        {
            "Security event 1102 not used": 1,
            "Security event 4690 not used": 1,
            "Security event 4658 not used": 1,
            "Security event 4656: object type Process, not a file": 1,
            "Security event 4663: object type Process, not a file": 1,
            "Security event 4673 not used": 1,
            "Security event 4688: machine account": 1,
        },
    ),
    "windows-evtx/security_4663-file-access-browser-creds_sbousseaden_GPL3.evtx": (
        (5, 4, 0, 1),
        {"Security event 1102 not used": 1},
    ),
    "windows-evtx/security_5145-share-file-access_mdecrevoisier.evtx": ((349, 349, 0, 0), {}),
    "windows-evtx/security_6416-4656-4688-4648_systemnightmare_mdecrevoisier.evtx": (
        (53, 5, 0, 48),
        {
            "Security event 4658 not used": 20,
            "Security event 4690 not used": 10,
            "Security event 4688: machine account": 5,
            "Security event 4656: object type Key, not a file": 6,
            "Security event 4656: object type Security, not a file": 2,
            "Security event 4656: machine account": 2,
            "Security event 6416: machine account": 2,
            "Security event 1102 not used": 1,
        },
    ),
    "windows-evtx/security_6416-new-external-device_4674_mdecrevoisier.evtx": (
        (6, 0, 0, 6),
        {
            "Security event 4688: machine account": 3,
            "Security event 4674 not used": 2,
            "Security event 6416: machine account": 1,
        },
    ),
    "windows-evtx/security_logon-logoff_2016-2017_omerbenamram-evtx.evtx": (
        (2261, 135, 0, 2126),
        {
            "Security event 4907 not used": 620,
            "Security event 4672 not used": 459,
            "Security event 4624: service account 'SYSTEM'": 377,
            "Security event 5058 not used": 102,
            "Security event 5061 not used": 102,
            "Security event 4648: machine account": 45,
            "Security event 4608 not used": 40,
            "Security event 4902 not used": 40,
            "Security event 4624: service account 'NETWORK SERVICE'": 40,
            "Security event 4624: service account 'LOCAL SERVICE'": 39,
            "Security event 4624: service account 'ANONYMOUS LOGON'": 39,
            "Security event 4735 not used": 36,
            "Security event 1100 not used": 36,
            "Security event 4904 not used": 31,
            "Security event 4905 not used": 31,
            "Security event 4616 not used": 26,
            "Security event 4781 not used": 14,
            "Security event 4738 not used": 10,
            "Security event 4731 not used": 7,
            "Security event 4732 not used": 6,
            "Security event 5033 not used": 4,
            "Security event 5024 not used": 4,
            "Security event 5890 not used": 4,
            "Security event 4739 not used": 3,
            "Security event 4728 not used": 2,
            "Security event 4720 not used": 2,
            "Security event 4722 not used": 2,
            "Security event 4724 not used": 1,
            "Security event 4723 not used": 1,
            "Security event 4733 not used": 1,
            "Security event 5056 not used": 1,
            "Security event 1101 not used": 1,
        },
    ),
    "windows-evtx/sysmon_2017-2018_trailing-bad-chunk_omerbenamram-evtx.evtx": (
        (366, 18, 8, 340),
        {
            "Sysmon event 1: service account 'SYSTEM'": 206,
            "Sysmon event 10 not used": 60,
            "Sysmon event 11: no User field (Sysmon schema before 4.x)": 34,
            "Sysmon event 13 not used": 24,
            "Sysmon event 12 not used": 8,
            "Sysmon event 1: service account 'NETWORK SERVICE'": 3,
            "Sysmon event 15 not used": 2,
            "Sysmon event 3 not used": 2,
            "Sysmon event 16 not used": 1,
        },
    ),
    "windows-evtx/system_2017-2018_omerbenamram-evtx.evtx": (
        (1881, 7, 0, 1874),
        {
            "System event 16 not used": 394,
            "System event 1 not used": 211,
            "System event 1014 not used": 160,
            "System event 32 not used": 150,
            "System event 27 not used": 145,
            "System event 44 not used": 137,
            "System event 43 not used": 119,
            "System event 19 not used": 116,
            "System event 7045: installed by service account 'SYSTEM'": 50,
            "System event 18 not used": 35,
            "System event 28 not used": 32,
            "System event 6 not used": 26,
            "System event 20001 not used": 24,
            "System event 7040 not used": 24,
            "System event 6013 not used": 23,
            "System event 20003 not used": 16,
            "System event 10016 not used": 16,
            "System event 37 not used": 13,
            "System event 35 not used": 13,
            "System event 55 not used": 12,
            "System event 7023 not used": 12,
            "System event 15 not used": 12,
            "System event 98 not used": 7,
            "System event 20 not used": 7,
            "System event 12 not used": 6,
            "System event 7001 not used": 4,
            "System event 51 not used": 4,
            "System event 6009 not used": 3,
            "System event 6005 not used": 3,
            "System event 153 not used": 3,
            "System event 25 not used": 3,
            "System event 172 not used": 3,
            "System event 14 not used": 3,
            "System event 16962 not used": 3,
            "System event 7000 not used": 3,
            "System event 50036 not used": 3,
            "System event 50103 not used": 3,
            "System event 51046 not used": 3,
            "System event 7026 not used": 3,
            "System event 10114 not used": 3,
            "System event 219 not used": 3,
            "System event 7002 not used": 3,
            "System event 3 not used": 3,
            "System event 2 not used": 2,
            "System event 22 not used": 2,
            "System event 6006 not used": 2,
            "System event 1074 not used": 2,
            "System event 50104 not used": 2,
            "System event 50105 not used": 2,
            "System event 50106 not used": 2,
            "System event 50037 not used": 2,
            "System event 109 not used": 2,
            "System event 13 not used": 2,
            "System event 1501 not used": 2,
            "System event 51057 not used": 2,
            "System event 10000 not used": 2,
            "System event 10100 not used": 2,
            "System event 24576 not used": 2,
            "System event 24577 not used": 2,
            "System event 24579 not used": 2,
            "System event 42 not used": 2,
            "System event 107 not used": 2,
            "System event 17 not used": 2,
            "System event 104 not used": 2,
            "System event 3261 not used": 1,
            "System event 2003 not used": 1,
            "System event 2004 not used": 1,
            "System event 6011 not used": 1,
            "System event 52 not used": 1,
            "System event 1500 not used": 1,
            "System event 1281 not used": 1,
            "System event 1282 not used": 1,
            "System event 7030 not used": 1,
            "System event 10005 not used": 1,
            "System event 51047 not used": 1,
            "System event 10010 not used": 1,
            "System event 10001 not used": 1,
            "System event 15007 not used": 1,
            "System event 10002 not used": 1,
            "System event 26 not used": 1,
        },
    ),
}
# Skipped records kept apart in account_events, per skip reason (every other file: none). The
# 6416 records of machine accounts are not kept: their devices are not removable storage, which
# is skipped for a person too.
KEPT_APART: dict[str, dict[str, int]] = {
    "windows-evtx/security_4656-4663-4658-object-access_mdecrevoisier.evtx": {
        "Security event 4688: machine account": 1,
    },
    "windows-evtx/security_6416-4656-4688-4648_systemnightmare_mdecrevoisier.evtx": {
        "Security event 4688: machine account": 5,
        "Security event 4656: machine account": 2,
    },
    "windows-evtx/security_6416-new-external-device_4674_mdecrevoisier.evtx": {
        "Security event 4688: machine account": 3,
    },
    "windows-evtx/security_logon-logoff_2016-2017_omerbenamram-evtx.evtx": {
        "Security event 4624: service account 'SYSTEM'": 377,
        "Security event 4648: machine account": 45,
        "Security event 4624: service account 'NETWORK SERVICE'": 40,
        "Security event 4624: service account 'LOCAL SERVICE'": 39,
        "Security event 4624: service account 'ANONYMOUS LOGON'": 39,
    },
    "windows-evtx/sysmon_2017-2018_trailing-bad-chunk_omerbenamram-evtx.evtx": {
        "Sysmon event 1: service account 'SYSTEM'": 206,
        "Sysmon event 1: service account 'NETWORK SERVICE'": 3,
    },
    "windows-evtx/system_2017-2018_omerbenamram-evtx.evtx": {
        "System event 7045: installed by service account 'SYSTEM'": 50,
    },
}
STORED_BY_EVENT_ID: dict[str, dict[int, int]] = {
    "windows-evtx/security_4663-file-access-browser-creds_sbousseaden_GPL3.evtx": {4663: 4},
    "windows-evtx/security_5145-share-file-access_mdecrevoisier.evtx": {5145: 349},
    "windows-evtx/security_6416-4656-4688-4648_systemnightmare_mdecrevoisier.evtx": {
        4648: 1,
        4656: 2,
        4688: 2,
    },
    "windows-evtx/security_logon-logoff_2016-2017_omerbenamram-evtx.evtx": {
        4624: 88,
        4634: 11,
        4647: 36,
    },
    "windows-evtx/sysmon_2017-2018_trailing-bad-chunk_omerbenamram-evtx.evtx": {1: 18},
    "windows-evtx/system_2017-2018_omerbenamram-evtx.evtx": {7045: 7},
}

FORMATS = {
    "mail/exchange-msgtrk_no-header_elastic-integrations.log": "exchange",
    "mail/postfix-messages_grok-test-corpus_whyscream.jsonl": "postfix",
    "mail/zeek-smtp_wrccdc-2018_zed-sample-data.log.gz": "zeek-smtp",
    "proxy/squid-access-native_2006_elastic-integrations.log": "squid",
}


def _samples() -> list[str]:
    return sorted(
        str(p.relative_to(LOGS)) for p in LOGS.rglob("*") if p.is_file() and p.suffix != ".md"
    )


@dataclass(frozen=True)
class Ingested:
    """The samples ingested twice, and what the workspace holds afterwards."""

    report: IngestReport
    again: IngestReport
    by_id: dict[str, dict[int, int]]
    rejects: list[tuple[Any, ...]]
    events: int
    apart: dict[str, dict[str, int]]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """All samples ingested once into one workspace (module-wide: the EVTX files take ~1 s)."""
    root = tmp_path_factory.mktemp("logs")
    with Store.open(root / "workspace") as store:
        report = ingest_logs(store, [LOGS])
        again = ingest_logs(store, [LOGS])
        by_id: dict[str, dict[int, int]] = {}
        for path, event_id, count in store.query(
            "SELECT s.path, split_part(e.event_id, ':', -1), count(*) FROM events e "
            "JOIN sources s USING (source_id) WHERE s.layout = 'evtx' GROUP BY ALL"
        ):
            by_id.setdefault(str(Path(path).relative_to(LOGS)), {})[int(event_id)] = count
        rejects = store.query("SELECT path, line, reason FROM rejects ORDER BY path, line")
        events = store.query("SELECT count(*) FROM events")[0][0]
        apart: dict[str, dict[str, int]] = {}
        for path, reason, count in store.query(
            "SELECT s.path, a.reason, count(*) FROM account_events a "
            "JOIN sources s USING (source_id) GROUP BY ALL"
        ):
            apart.setdefault(str(Path(path).relative_to(LOGS)), {})[reason] = count
    return Ingested(report, again, by_id, rejects, int(events), apart)


def test_every_sample_file_is_covered() -> None:
    assert _samples() == sorted(EXPECTED), "a sample file has no expected counts in this test"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_counts_reconcile(ingested: Ingested, name: str) -> None:
    [got] = [f for f in ingested.report.files if f.path.relative_to(LOGS) == Path(name)]
    counts, skips = EXPECTED[name]
    assert (got.read, got.stored, got.rejected, got.skipped) == counts, (
        f"{name}: read, stored, rejected, skipped"
    )
    assert got.read == got.stored + got.rejected + got.skipped
    assert dict(got.skip_reasons) == skips, f"{name}: skipped records by reason"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_accounts_kept_apart(ingested: Ingested, name: str) -> None:
    [got] = [f for f in ingested.report.files if f.path.relative_to(LOGS) == Path(name)]
    kept = KEPT_APART.get(name, {})
    assert ingested.apart.get(name, {}) == kept, f"{name}: account_events rows by reason"
    assert got.kept_apart == sum(kept.values()), f"{name}: the report's kept_apart"
    skips = dict(got.skip_reasons)
    assert all(count <= skips[reason] for reason, count in kept.items()), "kept ones are skipped"


@pytest.mark.parametrize("name", sorted(STORED_BY_EVENT_ID))
def test_evtx_stored_per_event_id(ingested: Ingested, name: str) -> None:
    assert ingested.by_id.get(name, {}) == STORED_BY_EVENT_ID[name]


def test_reingest_adds_nothing(ingested: Ingested) -> None:
    again = ingested.again
    assert {f.status for f in again.files} == {"unchanged"}
    assert (again.read, again.stored, again.rejected) == (0, 0, 0)
    total = sum(counts[1] for counts, _ in EXPECTED.values())
    assert ingested.events == total, "the second ingest stored events again"
    assert sum(f.kept_apart for f in again.files) == 0
    assert ingested.apart == KEPT_APART, "the second ingest kept accounts apart again"


def test_corrupt_evtx_chunk_keeps_good_records_and_names_chunk_and_offset(
    ingested: Ingested,
) -> None:
    sysmon = [r for r in ingested.rejects if "trailing-bad-chunk" in r[0]]
    assert len(sysmon) == 8
    path, line, reason = sysmon[0]
    assert line == 359, "the corrupt chunk comes after the 358 good records"
    assert reason.startswith("corrupt EVTX chunk 9 at byte offset 593920: ")
    assert path.endswith("sysmon_2017-2018_trailing-bad-chunk_omerbenamram-evtx.evtx")


def test_postfix_sample_without_syslog_prefix_rejects_its_message_for_lack_of_time(
    ingested: Ingested,
) -> None:
    postfix = [r for r in ingested.rejects if r[0].endswith(".jsonl")]
    assert [reason for _, _, reason in postfix] == [
        "no time (the syslog prefix is missing and there is no 'timestamp')"
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_format_detected(name: str) -> None:
    expected = FORMATS.get(name, "evtx")
    assert detect_format(LOGS / name) == expected
