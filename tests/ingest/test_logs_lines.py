"""Native log lines: what each format maps, and one clear reason (with the line) per bad line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import IngestError
from molehunt.ingest.logs import common as logs_common
from molehunt.ingest.logs import ingest_logs
from molehunt.ingest.logs.common import Skip, account_user
from molehunt.store import Store
from tests.ingest.killing import die_on_commit, revive

LOGS = Path(__file__).parents[2] / ".." / "shared" / "data" / "logs"

SQUID = (
    "1157689320.327   2864 10.105.21.199 TCP_MISS/200 10182 GET http://www.example.com/ "
    "BadEyek DIRECT/175.16.199.61 text/html"
)
SQUID_POST = (
    "1157689324.000   100 10.105.21.199 TCP_MISS/200 5000 POST http://up.example.com/x "
    "OFFSEC\\Alice DIRECT/175.16.199.61 text/html"
)
EXCHANGE_SEND = (
    "2024-01-25T15:16:09.949Z,10.1.1.1,mail.x,10.1.1.2,mail,ctx,conn,SMTP,SENDEXTERNAL,7091,"
    "<m@x>,1e6e,out@other.org;cc@other.org,250 OK,7229,2,,,Quarterly,Bob.Smith@x.org,"
    "bob.smith@x.org,,Originating,,,,,Email,05503123,15.02"
)
ZEEK_HEADER = "#fields\tts\tuid\tmailfrom\trcptto\tfrom\tto\tcc\tsubject\tid.orig_h\ttrans_depth"


def _ingest(store: Store, path: Path, text: str, log_format: str) -> tuple[int, ...]:
    path.write_text(text)
    report = ingest_logs(store, [path], log_format)
    [file] = report.files
    assert file.read == file.stored + file.rejected + file.skipped
    return file.read, file.stored, file.rejected, file.skipped


def _rejects(store: Store) -> list[tuple[int, str]]:
    return [
        (int(line), str(reason))
        for line, reason in store.query("SELECT line, reason FROM rejects ORDER BY line")
    ]


@pytest.mark.parametrize(
    ("log_format", "good", "bad", "reason"),
    [
        (
            "squid",
            SQUID,
            "1157689320.327 2864 10.1.1.1 TCP_MISS/200",
            "expected 10 space-separated",
        ),
        (
            "squid",
            SQUID,
            SQUID.replace("1157689320.327", "yesterday"),
            "unparsable time 'yesterday'",
        ),
        ("squid", SQUID, SQUID.replace(" 10182 ", " lots "), "bytes 'lots' is not a whole number"),
        ("exchange", EXCHANGE_SEND, "2024-01-25T15:16:09.949Z,a,b", "expected 30 fields, found 3"),
        (
            "exchange",
            EXCHANGE_SEND,
            EXCHANGE_SEND.replace("2024-01-25T", "2024-13-25T"),
            "unparsable time '2024-13-25",
        ),
        (
            "postfix",
            "Jan  2 07:00:00 mx postfix/qmgr[12]: 4F2A1: from=<a@x.org>, size=10, nrcpt=1",
            "garbage without a prefix",
            "not a syslog line",
        ),
        (
            "postfix",
            "Jan  2 07:00:00 mx postfix/qmgr[12]: 4F2A1: from=<a@x.org>, size=10, nrcpt=1",
            '{"message": "4F2A2: from=<b@x.org>, size=9, nrcpt=1 (queue active)"}',
            "no time",
        ),
    ],
)
def test_bad_line_rejected_with_line_number_and_reason(
    store: Store, tmp_path: Path, log_format: str, good: str, bad: str, reason: str
) -> None:
    # The second good line is another message (a Postfix queue id logged twice while its
    # message is open is one message: a later delivery attempt).
    again = good.replace("4F2A1", "4F2A3")
    counts = _ingest(store, tmp_path / "log.txt", f"{good}\n{bad}\n{again}\n", log_format)
    assert counts == (3, 2, 1, 0), "read, stored, rejected, skipped"
    [(line, got)] = _rejects(store)
    assert line == 2 and got.startswith(reason), got


def test_invalid_utf8_and_empty_lines_rejected(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(SQUID.encode() + b"\n\xff\xfe oops\n\n")
    ingest_logs(store, [path], "squid")
    assert _rejects(store) == [(2, "invalid UTF-8 at byte 1"), (3, "empty line")]


def test_squid_maps_user_url_and_upload(store: Store, tmp_path: Path) -> None:
    _ingest(store, tmp_path / "access.log", f"{SQUID}\n{SQUID_POST}\n", "squid")
    rows = store.query(
        "SELECT user, host, channel, action, object, size_bytes FROM events ORDER BY time"
    )
    assert rows == [
        ("badeyek", "10.105.21.199", "http", "visit", "http://www.example.com/", 10182),
        ("alice", "10.105.21.199", "http", "upload", "http://up.example.com/x", 5000),
    ]


def test_exchange_send_is_an_email_of_the_sender(store: Store, tmp_path: Path) -> None:
    _ingest(store, tmp_path / "MSGTRK.log", EXCHANGE_SEND + "\n", "exchange")
    row = store.query_dicts("SELECT * FROM events")[0]
    assert (row["user"], row["action"], row["sender"], row["object"], row["size_bytes"]) == (
        "bob.smith",
        "send",
        "Bob.Smith@x.org",
        "out@other.org;cc@other.org",
        7229,
    )


def test_exchange_fields_header_is_used(store: Store, tmp_path: Path) -> None:
    header = "#Fields: date-time,event-id,sender-address,recipient-address,total-bytes\n"
    line = "2024-01-25T15:16:09Z,SEND,carol@x.org,dan@y.org,42\n"
    counts = _ingest(store, tmp_path / "MSGTRK.log", header + line, "auto")
    assert counts == (2, 1, 0, 1)
    assert store.query("SELECT user, object, size_bytes FROM events") == [
        ("carol", "dan@y.org", 42)
    ]


def test_zeek_smtp_uses_its_fields_header(store: Store, tmp_path: Path) -> None:
    record = "1521911721.5\tCx1\t<eve@x.org>\ta@y.org,b@y.org\t-\t-\t-\tHello\t10.0.0.5\t1"
    banner = "1521911722.5\tCx2\t-\t-\t-\t-\t-\t-\t10.0.0.6\t1"
    path = tmp_path / "smtp.log.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(f"#separator \\x09\n#path\tsmtp\n{ZEEK_HEADER}\n{record}\n{banner}\n")
    report = ingest_logs(store, [path])
    [file] = report.files
    assert (file.layout, file.read, file.stored, file.skipped) == ("zeek-smtp", 5, 1, 4)
    assert dict(file.skip_reasons)["SMTP session without a message (no MAIL FROM)"] == 1
    assert store.query("SELECT user, object, content FROM events") == [
        ("eve", "a@y.org;b@y.org", "Hello")
    ]


def test_postfix_queue_line_is_one_message_of_the_sender(store: Store, tmp_path: Path) -> None:
    text = (
        "Jan  2 07:00:00 mx postfix/qmgr[12]: 4F2A1: from=<Ann@x.org>, size=1234, nrcpt=2\n"
        "Jan  2 07:00:01 mx postfix/smtp[13]: 4F2A1: to=<z@y.org>, relay=y, status=sent (250 ok)\n"
        "Jan  2 07:00:02 mx postfix/qmgr[12]: 4F2A3: from=<>, size=99, nrcpt=1 (queue active)\n"
        "Jan  2 07:00:03 mx sshd[1]: Accepted password for root\n"
    )
    text += "Jan  2 07:00:04 mx postfix/local[14]: 4F2A1: to=<w@x.org>, relay=local, status=sent\n"
    counts = _ingest(store, tmp_path / "maillog", text, "auto")
    assert counts == (5, 1, 0, 4)
    rows = store.query(
        "SELECT user, host, size_bytes, strftime(time, '%m-%d %H:%M'), object FROM events"
    )
    assert rows == [("ann", "mx", 1234, "01-02 07:00", "z@y.org;w@x.org")], (
        "one event per message, with the recipients of its delivery lines"
    )


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("OFFSEC\\Alice", {"user": "alice", "_account": "OFFSEC\\Alice"}),
        ("alice@offsec.example", {"user": "alice", "_account": "alice@offsec.example"}),
        ("FS01$", Skip("machine account")),
        ("NT AUTHORITY\\SYSTEM", Skip("service account 'SYSTEM'")),
        ("-", Skip("no account name")),
    ],
)
def test_identity_is_lower_cased_account_name_machines_apart(
    account: str, expected: object
) -> None:
    assert account_user(account) == expected


def test_unknown_format_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mystery.log"
    path.write_text("hello world\n")
    with pytest.raises(IngestError, match="cannot tell the log format"):
        ingest_logs(store, [path])


@pytest.mark.skipif(not LOGS.is_dir(), reason=f"{LOGS} not found")
def test_killed_evtx_ingest_resumes_without_duplicates(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = LOGS / "windows-evtx" / "security_5145-share-file-access_mdecrevoisier.evtx"
    monkeypatch.setattr(logs_common, "RECORDS_PER_CHUNK", 100)

    die_on_commit(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(store, [path], "evtx")
    assert store.query("SELECT lines_done, rows_stored FROM sources") == [(200, 200)]
    revive(monkeypatch)
    monkeypatch.setattr(logs_common, "RECORDS_PER_CHUNK", 70)  # resume points are not chunk-bound
    report = ingest_logs(store, [path], "evtx")
    assert (report.files[0].status, report.read, report.stored) == ("resumed", 149, 149)
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(349, 349)]


def test_cli_ingest_logs_prints_skipped_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text(f"{SQUID}\n{SQUID.replace('BadEyek', '-')}\n")
    runner = CliRunner()
    result = runner.invoke(
        main, ["--workspace", str(tmp_path / "ws"), "ingest", "logs", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["files"][0]["skip_reasons"] == {"no proxy user name (client address only)": 1}
    assert data["totals"] == {"read": 2, "stored": 1, "rejected": 0, "skipped": 1}
    text = runner.invoke(main, ["--workspace", str(tmp_path / "ws2"), "ingest", "logs", str(path)])
    assert text.exit_code == 0 and "skipped in" in text.output
    bad = runner.invoke(main, ["--workspace", str(tmp_path / "ws"), "ingest", "logs", "nope.log"])
    assert bad.exit_code == 1 and "nope.log: no such file" in bad.output


def test_status_shows_skipped_per_source(store: Store, tmp_path: Path) -> None:
    from molehunt.store.status import workspace_status

    _ingest(
        store, tmp_path / "access.log", f"{SQUID}\n{SQUID.replace('BadEyek', '-')}\nx\n", "squid"
    )
    [source] = workspace_status(store)["sources"]
    assert (source["rows_read"], source["rows_stored"], source["rows_rejected"]) == (3, 1, 1)
    assert source["rows_skipped"] == 1, "read = stored + rejected + skipped in molehunt status"


@pytest.mark.parametrize(
    "data",
    [b"\x1f\x8b", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage"],
    ids=["truncated", "corrupt"],
)
def test_damaged_gzip_is_one_clear_error(store: Store, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "access.log.gz"
    path.write_bytes(data)
    with pytest.raises(IngestError, match=r"access\.log\.gz: corrupt or truncated gzip data"):
        ingest_logs(store, [path], "squid")
