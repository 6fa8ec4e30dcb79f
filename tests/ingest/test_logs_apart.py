"""Machine and service accounts are kept, but apart: counted as skipped, stored in
`account_events`, never scored as people (issue 12, docs/logs.md "Identities")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import molehunt.ingest.logs as logs
from molehunt.cli import main
from molehunt.events import EVENT_COLUMNS
from molehunt.ingest.logs import common as logs_common
from molehunt.ingest.logs import ingest_logs
from molehunt.ingest.logs.identity_map import ingest_identities
from molehunt.score import run_detection
from molehunt.store import Store
from molehunt.store.status import workspace_status
from tests.ingest.killing import die_on_commit, revive

LOGS = Path(__file__).parents[2] / ".." / "shared" / "data" / "logs"
DAY = 1704067200  # 2024-01-01T00:00:00Z
PEOPLE = ("alice", "bob", "carol")
ACCOUNTS = ("SYSTEM", "PC-0042$", "OFFSEC\\UMFD-0")


def _squid(user: str, stamp: int, url: str = "http://x.example/", client: str = "10.1.4.7") -> str:
    return f"{stamp}.000 5 {client} TCP_MISS/200 100 GET {url} {user} DIRECT/1.2.3.4 text/html"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_account_events_has_the_event_columns_plus_kind_and_reason(store: Store) -> None:
    columns = store.query(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'account_events' "
        "ORDER BY column_index"
    )
    assert [name for (name,) in columns] == [c.name for c in EVENT_COLUMNS] + ["kind", "reason"]


def test_accounts_are_stored_apart_and_never_scored(store: Store, tmp_path: Path) -> None:
    lines = [
        _squid(user, DAY + day * 86400 + hour * 3600, f"http://x.example/{day}/{hour}")
        for day in range(14)
        for hour in (9, 11, 14)
        for user in (*PEOPLE, *ACCOUNTS)
    ]
    [got] = ingest_logs(store, [_write(tmp_path / "access.log", lines)]).files
    assert (got.read, got.stored, got.skipped, got.kept_apart) == (252, 126, 126, 126)
    assert dict(got.skip_reasons) == {
        "service account 'SYSTEM'": 42,
        "machine account": 42,
        "service account 'UMFD-0'": 42,
    }, "counted as skipped with exactly the reasons they had before they were kept"
    assert store.query(
        'SELECT "user", kind, reason, count(*) FROM account_events GROUP BY ALL ORDER BY 1'
    ) == [
        ("pc-0042$", "machine", "machine account", 42),
        ("system", "service", "service account 'SYSTEM'", 42),
        ("umfd-0", "service", "service account 'UMFD-0'", 42),
    ]
    [row] = store.query(
        "SELECT time, host, channel, action, object, size_bytes, content, source_line "
        "FROM account_events WHERE \"user\" = 'system' ORDER BY source_line LIMIT 1"
    )
    assert row[1:] == ("10.1.4.7", "http", "visit", "http://x.example/0/9", 100, "TCP_MISS/200", 4)
    assert row[0].isoformat() == "2024-01-01T09:00:00"

    run_detection(store)
    for table in ("features_raw", "features", "model_scores", "scores"):
        users = {user for (user,) in store.query(f'SELECT DISTINCT "user" FROM {table}')}
        assert users == set(PEOPLE), f"{table} holds only people"
    assert store.query("SELECT count(*) FROM scores")[0][0] == 3 * 14


MAP = (
    "person,account,sid,email,host,ip,valid_from,valid_to,kind\n"
    "ASM0001,a.smith,,,,,,,\n"
    "SVC-BACKUP,svc_backup,,,,,,,service\n"
    "PC-0099,,,,,10.9.9.77,,,machine\n"
)


def _mapped_lines() -> list[str]:
    stamp = DAY + 9 * 3600
    return [
        _squid("a.smith", stamp, "http://a.example/"),
        _squid("svc_backup", stamp + 1, "http://b.example/"),  # plain name: the fast path
        _squid("OFFSEC\\svc_backup", stamp + 2, "http://c.example/"),  # the exact path
        _squid("-", stamp + 3, "http://d.example/", client="10.9.9.77"),  # by its address
        _squid("-", stamp + 4, "http://e.example/", client="10.9.9.78"),  # nobody: not kept
        _squid("PC-0042$", stamp + 5, "http://f.example/"),
    ]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-split", "exact-parser"])
def test_identity_map_service_and_machine_entries_are_kept_apart(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    if not fast:
        monkeypatch.setattr(logs, "split_squid_fast", lambda chunk: None)
    ingest_identities(store, _write(tmp_path / "map.csv", MAP.splitlines()))
    [got] = ingest_logs(store, [_write(tmp_path / "access.log", _mapped_lines())]).files
    assert dict(got.skip_reasons) == {
        "service account 'SVC-BACKUP' (identity map)": 2,
        "machine account 'PC-0099' (identity map)": 1,
        "no proxy user name (client address only)": 1,
        "machine account": 1,
    }
    assert (got.stored, got.skipped, got.kept_apart) == (1, 5, 4)
    assert store.query(
        'SELECT source_line, "user", kind, reason, object, host FROM account_events ORDER BY 1'
    ) == [
        (
            2,
            "SVC-BACKUP",
            "service",
            "service account 'SVC-BACKUP' (identity map)",
            "http://b.example/",
            "10.1.4.7",
        ),
        (
            3,
            "SVC-BACKUP",
            "service",
            "service account 'SVC-BACKUP' (identity map)",
            "http://c.example/",
            "10.1.4.7",
        ),
        (
            4,
            "PC-0099",
            "machine",
            "machine account 'PC-0099' (identity map)",
            "http://d.example/",
            "10.9.9.77",
        ),
        (6, "pc-0042$", "machine", "machine account", "http://f.example/", "10.1.4.7"),
    ]
    assert store.query('SELECT "user" FROM events') == [("ASM0001",)]


def test_an_account_record_the_row_sql_would_reject_is_not_kept_and_stays_skipped(
    store: Store, tmp_path: Path
) -> None:
    ns = "http://schemas.microsoft.com/win/2004/08/events/event"

    def logon(record: int, stamp: str, user: str) -> str:
        return (
            f"<Event xmlns='{ns}'><System><Provider Name='P'/><EventID>4624</EventID>"
            f"<TimeCreated SystemTime='{stamp}'/><EventRecordID>{record}</EventRecordID>"
            "<Channel>Security</Channel><Computer>PC-0042</Computer></System><EventData>"
            f"<Data Name='TargetUserName'>{user}</Data><Data Name='LogonType'>3</Data>"
            "</EventData></Event>"
        )

    path = tmp_path / "security.xml"
    path.write_text(
        logon(1, "2024-03-04T08:09:10.1234567Z", "PC-0042$")
        + "\n"
        + logon(2, "2024-13-45T08:09:10Z", "PC-0042$")
        + "\n"
        + logon(3, "2024-13-45T08:09:10Z", "asmith")
        + "\n"
    )
    [got] = ingest_logs(store, [path], "windows-xml").files
    assert (got.read, got.stored, got.rejected, got.skipped, got.kept_apart) == (3, 0, 1, 2, 1)
    assert dict(got.skip_reasons) == {"Security event 4624: machine account": 2}
    assert store.query("SELECT source_line, object FROM account_events") == [(1, "logon type 3")]


@pytest.mark.skipif(not LOGS.is_dir(), reason=f"{LOGS} not found")
def test_killed_ingest_resumes_without_losing_or_doubling_kept_apart_records(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = LOGS / "windows-evtx" / "security_logon-logoff_2016-2017_omerbenamram-evtx.evtx"
    monkeypatch.setattr(logs_common, "RECORDS_PER_CHUNK", 500)
    die_on_commit(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(store, [path], "evtx")
    assert store.query("SELECT lines_done FROM sources") == [(1000,)]
    before = store.query("SELECT count(*), max(source_line) FROM account_events")[0]
    assert 0 < before[0] < 540 and before[1] <= 1000, "only the committed chunks' records"
    revive(monkeypatch)
    monkeypatch.setattr(logs_common, "RECORDS_PER_CHUNK", 70)  # resume points are not chunk-bound
    [got] = ingest_logs(store, [path], "evtx").files
    assert (got.status, got.read, got.kept_apart) == ("resumed", 1261, 540 - before[0])
    assert store.query(
        "SELECT count(*), count(DISTINCT (source_id, source_line)) FROM account_events"
    ) == [(540, 540)]
    [again] = ingest_logs(store, [path], "evtx").files
    assert (again.status, again.kept_apart) == ("unchanged", 0)
    assert store.query("SELECT count(*) FROM account_events")[0][0] == 540


def test_small_files_written_together_keep_their_accounts_apart_per_file(
    store: Store, tmp_path: Path
) -> None:
    first = _write(tmp_path / "a.log", [_squid("SYSTEM", DAY), _squid("alice", DAY + 1)])
    second = _write(
        tmp_path / "b.log",
        [_squid("PC-1$", DAY + 2), _squid("PC-2$", DAY + 3), _squid("bob", DAY + 4)],
    )
    report = ingest_logs(store, [first, second], "squid")
    assert [(f.stored, f.skipped, f.kept_apart) for f in report.files] == [(1, 1, 1), (1, 2, 2)]
    assert store.query(
        'SELECT s.path, a."user" FROM account_events a JOIN sources s USING (source_id) '
        "ORDER BY a.source_id, a.source_line"
    ) == [(str(first), "system"), (str(second), "pc-1$"), (str(second), "pc-2$")]


def test_report_and_status_show_the_accounts_kept_apart(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "access.log",
        [_squid(user, DAY + n) for n, user in enumerate(["alice", "SYSTEM", "SYSTEM", "PC-7$"])],
    )
    workspace = str(tmp_path / "ws")
    runner = CliRunner()
    ingested = runner.invoke(main, ["-w", workspace, "ingest", "logs", str(path), "--json"])
    assert ingested.exit_code == 0, ingested.output
    [row] = json.loads(ingested.output)["files"]
    assert (row["skipped"], row["kept_apart"]) == (3, 3)
    status = runner.invoke(main, ["-w", workspace, "status", "--json"])
    summary = json.loads(status.output)
    assert [(a["user"], a["kind"], a["events"]) for a in summary["accounts"]] == [
        ("system", "service", 2),
        ("pc-7$", "machine", 1),
    ]
    assert summary["sources"][0]["kept_apart"] == 3
    text = runner.invoke(main, ["-w", workspace, "status"])
    assert "machine and service accounts (kept apart, not scored): 2 (3 events)" in text.output
    assert "system (service)" in text.output


def test_status_without_accounts_lists_none(store: Store) -> None:
    assert workspace_status(store)["accounts"] == []
