"""Identities: the identity map and LDAP snapshots turn what logs name into people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import IngestError
from molehunt.ingest.logs import ingest_logs
from molehunt.ingest.logs.directory import IdentityDirectory
from molehunt.ingest.logs.identity_map import ingest_identities, parse_identity_map
from molehunt.store import Store
from molehunt.store.status import workspace_status

SID = "S-1-5-21-1004336348-1177238915-682003330-1104"
MAP = (
    "person,account,sid,email,host,ip,valid_from,valid_to,kind\n"
    f"ASM0001,OFFSEC\\asmith;a.smith,{SID},alice.smith@offsec.example,PC-0042,"
    "10.1.4.0/24,2006-01-01,2006-06-30,\n"
    "ASM0001,a.smith,,,,10.1.5.7,2006-07-01,,person\n"
    "BJO0002,bjones,,,,10.1.4.10-10.1.4.11,,,\n"
    "SVC-BACKUP,svc_backup,,,,,,,service\n"
)
# 1157689312 = 2006-09-08; 1136073600 = 2006-01-01.
SQUID = (
    "1157689312.049 5 10.1.5.7 TCP_MISS/200 100 GET http://a.example/ - DIRECT/1.2.3.4 text/html\n"
    "1136073600.000 5 10.1.4.20 TCP_MISS/200 100 GET http://b.example/ - DIRECT/1.2.3.4 text/html\n"
    "1157689312.049 5 10.1.4.20 TCP_MISS/200 100 GET http://c.example/ - DIRECT/1.2.3.4 text/html\n"
    "1157689312.049 5 10.1.4.10 TCP_MISS/200 100 GET http://d.example/ - DIRECT/1.2.3.4 text/html\n"
    "1157689312.049 5 10.9.9.9 TCP_MISS/200 100 GET http://e.example/ a.smith DIRECT/1.2.3.4 -\n"
    "1157689312.049 5 10.9.9.9 TCP_MISS/200 9 POST http://f.example/ OFFSEC\\Carol DIRECT/- -\n"
    "1157689312.049 5 10.9.9.9 TCP_MISS/200 100 GET http://g.example/ svc_backup DIRECT/1.2.3.4 -\n"
    "1157689312.049 5 10.9.9.9 TCP_MISS/200 100 GET http://h.example/ - DIRECT/1.2.3.4 -\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_identity_map_rows_one_per_identity(tmp_path: Path) -> None:
    rows = parse_identity_map(_write(tmp_path, "map.csv", MAP))
    got = {(r.person, r.identity_type, r.identity, r.line) for r in rows}
    assert ("ASM0001", "account", "offsec\\asmith", 2) in got
    assert ("ASM0001", "sid", SID, 2) in got
    assert ("ASM0001", "email", "alice.smith@offsec.example", 2) in got
    assert ("ASM0001", "host", "pc-0042", 2) in got
    assert ("ASM0001", "ip", "10.1.5.7/32", 3) in got
    assert ("BJO0002", "ip", "10.1.4.10/31", 4) in got, "a first-last range becomes networks"
    assert {r.kind for r in rows if r.person == "SVC-BACKUP"} == {"service"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",alice,,,,,,,", r"map\.csv:2: field 'person': empty"),
        ("ASM0001,,S-1-X,,,,,,", r"map\.csv:2: field 'sid': 'S-1-X' is not a SID"),
        ("ASM0001,,,alice,,,,,", r"map\.csv:2: field 'email': 'alice' is not an e-mail"),
        ("ASM0001,,,,,10.1.4.300,,,", r"map\.csv:2: field 'ip': '10\.1\.4\.300' is not an IP"),
        (
            "ASM0001,,,,,,2024-13-01,,",
            r"map\.csv:2: field 'valid_from': '2024-13-01' is not a date",
        ),
        (
            "ASM0001,,,,,,2024-02-01,2024-01-01,",
            r"map\.csv:2: field 'valid_to': 2024-01-01 is before",
        ),
        ("ASM0001,,,,,,,,robot", r"map\.csv:2: field 'kind': 'robot' is not one of"),
        ("ASM0001,alice", r"map\.csv:2: expected 9 fields as in the header, found 2"),
    ],
)
def test_bad_identity_map_row_names_file_line_and_field(
    tmp_path: Path, row: str, message: str
) -> None:
    header = MAP.splitlines()[0]
    with pytest.raises(IngestError, match=message):
        parse_identity_map(_write(tmp_path, "map.csv", f"{header}\n{row}\n"))


def test_every_bad_row_is_named_one_line_each_and_nothing_is_stored(
    store: Store, tmp_path: Path
) -> None:
    path = _write(
        tmp_path, "map.csv", "person,sid,ip\nA,S-1-5-21-1-2,10.0.0.1\nB,bad,10.0.0.1\nC,S-1-5-3,x\n"
    )
    with pytest.raises(IngestError) as caught:
        ingest_identities(store, path)
    lines = str(caught.value).splitlines()
    assert [line.split(": field ")[0] for line in lines] == [f"{path}:3", f"{path}:4"]
    assert store.query("SELECT count(*) FROM identities")[0][0] == 0


def test_identity_map_header_must_name_person_and_known_columns(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"map\.csv:1: unknown column 'phone'"):
        parse_identity_map(_write(tmp_path, "map.csv", "person,phone\nA,1\n"))
    with pytest.raises(IngestError, match=r"map\.csv:1: the header has no 'person' column"):
        parse_identity_map(_write(tmp_path, "map.csv", "account\nalice\n"))


def test_proxy_requests_are_attributed_by_alias_and_by_ip_range_when_valid(
    store: Store, tmp_path: Path
) -> None:
    ingest_identities(store, _write(tmp_path, "map.csv", MAP))
    report = ingest_logs(store, [_write(tmp_path, "access.log", SQUID)])
    [got] = report.files
    rows = store.query('SELECT object, "user" FROM events ORDER BY object')
    assert rows == [
        ("http://a.example/", "ASM0001"),  # 10.1.5.7 from 2006-07-01
        ("http://b.example/", "ASM0001"),  # 10.1.4.0/24 until 2006-06-30
        ("http://d.example/", "BJO0002"),  # longest range wins over ASM0001's /24
        ("http://e.example/", "ASM0001"),  # proxy user a.smith (second period's row)
        ("http://f.example/", "carol"),  # unmapped: the log's own account name
    ]
    assert dict(got.skip_reasons) == {
        "no proxy user name (client address only)": 2,  # c: /24 expired; h: no range
        "service account 'SVC-BACKUP' (identity map)": 1,
    }
    assert got.read == got.stored + got.skipped + got.rejected == 8


def test_without_a_directory_user_less_requests_are_skipped(store: Store, tmp_path: Path) -> None:
    [got] = ingest_logs(store, [_write(tmp_path, "access.log", SQUID)]).files
    assert (got.stored, got.skipped) == (3, 5)
    assert store.query('SELECT DISTINCT "user" FROM events ORDER BY 1') == [
        ("a.smith",),
        ("carol",),
        ("svc_backup",),
    ]


def test_ldap_snapshot_is_a_directory_too(store: Store) -> None:
    store.query(
        "INSERT INTO people (month, user_id, email, source_id, source_line) "
        "VALUES ('2010-01', 'ACM2278', 'Calvin.Love@dtaa.com', 1, 2)"
    )
    directory = IdentityDirectory.load(store)
    base = {"time": "2010-01-04T08:00:00Z", "channel": "logon", "action": "logon"}
    assert directory.resolve({**base, "user": "acm2278", "_account": "DTAA\\ACM2278"}) == {
        **base,
        "user": "ACM2278",
        "_account": "DTAA\\ACM2278",
    }
    by_mail = directory.resolve({**base, "user": "calvin.love", "_account": "calvin.love@dtaa.com"})
    assert isinstance(by_mail, dict) and by_mail["user"] == "ACM2278"


def test_sid_wins_over_account_name(store: Store, tmp_path: Path) -> None:
    ingest_identities(store, _write(tmp_path, "map.csv", MAP))
    directory = IdentityDirectory.load(store)
    event = {
        "time": "2006-02-01T00:00:00Z",
        "user": "x",
        "_account": "OTHER\\x",
        "_sid": SID.lower(),
    }
    got = directory.resolve(event)
    assert isinstance(got, dict) and got["user"] == "ASM0001"
    late = directory.resolve({**event, "time": "2007-01-01T00:00:00Z"})
    assert isinstance(late, dict) and late["user"] == "x", "the SID's row ended 2006-06-30"


def test_status_lists_unmapped_identities_with_counts(store: Store, tmp_path: Path) -> None:
    ingest_identities(store, _write(tmp_path, "map.csv", MAP))
    ingest_logs(store, [_write(tmp_path, "access.log", SQUID + SQUID.replace("a.example", "z"))])
    status = workspace_status(store)["identities"]
    assert status["mapped"] == 11
    assert [(row["identity"], row["events"]) for row in status["unmapped"]] == [("carol", 2)]


def test_cli_ingest_identities_and_status_json(tmp_path: Path) -> None:
    workspace = str(tmp_path / "ws")
    runner = CliRunner()
    mapped = runner.invoke(
        main, ["-w", workspace, "ingest", "identities", str(_write(tmp_path, "map.csv", MAP))]
    )
    assert mapped.exit_code == 0, mapped.output
    assert "11 identities of 2 people" in mapped.output
    logs = runner.invoke(
        main, ["-w", workspace, "ingest", "logs", str(_write(tmp_path, "a.log", SQUID))]
    )
    assert logs.exit_code == 0, logs.output
    status = runner.invoke(main, ["-w", workspace, "status", "--json"])
    assert json.loads(status.output)["identities"]["unmapped"][0]["identity"] == "carol"
    bad = runner.invoke(
        main,
        [
            "-w",
            workspace,
            "ingest",
            "identities",
            str(_write(tmp_path, "bad.csv", "person,ip\nA,x\n")),
        ],
    )
    assert bad.exit_code == 1
    assert "bad.csv:2: field 'ip'" in bad.output
