"""Zeek http.log and W3C extended (IIS, Blue Coat) proxy logs -> http events."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.ingest.logs import detect_format, ingest_logs
from molehunt.ingest.logs.identity_map import ingest_identities
from molehunt.store import Store

ZEEK_FIELDS = (
    "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer "
    "version user_agent origin request_body_len response_body_len status_code status_msg "
    "info_code info_msg tags username password proxied orig_fuids orig_filenames "
    "orig_mime_types resp_fuids resp_filenames resp_mime_types"
).split()


def _zeek_row(**values: str) -> str:
    return "\t".join(values.get(name.replace(".", "_"), "-") for name in ZEEK_FIELDS)


ZEEK = (
    "\n".join(
        [
            "#separator \\x09",
            "#set_separator\t,",
            "#empty_field\t(empty)",
            "#unset_field\t-",
            "#path\thttp",
            "#open\t2024-03-04-08-00-00",
            "#fields\t" + "\t".join(ZEEK_FIELDS),
            "#types\t" + "\t".join(["string"] * len(ZEEK_FIELDS)),
            _zeek_row(
                ts="1709539750.123456",
                uid="CAbc1",
                id_orig_h="10.1.4.7",
                trans_depth="1",
                method="GET",
                host="www.example.org",
                uri="/jobs?q=analyst",
                response_body_len="5120",
                status_code="200",
            ),
            _zeek_row(
                ts="1709539751.000000",
                uid="CAbc2",
                id_orig_h="10.1.4.7",
                trans_depth="1",
                method="POST",
                host="upload.example.net",
                uri="/put",
                request_body_len="7340032",
                response_body_len="12",
                status_code="201",
                username="OFFSEC\\asmith",
            ),
            _zeek_row(
                ts="1709539752.0",
                uid="CAbc3",
                id_orig_h="10.9.9.9",
                trans_depth="2",
                method="GET",
                id_resp_h="93.184.216.34",
                uri="/",
                status_code="200",
            ),
            _zeek_row(ts="not-a-time", uid="CAbc4"),
            "too\tfew\tfields",
            "#close\t2024-03-04-09-00-00",
        ]
    )
    + "\n"
)


def test_zeek_http_log_maps_requests_and_attributes_by_address(
    store: Store, tmp_path: Path
) -> None:
    identity_map = tmp_path / "map.csv"
    identity_map.write_text("person,ip\nASM0001,10.1.4.0/24\n")
    ingest_identities(store, identity_map)
    path = tmp_path / "http.log"
    path.write_text(ZEEK)
    assert detect_format(path) == "zeek-http"
    [got] = ingest_logs(store, [path]).files
    assert (got.read, got.stored, got.rejected, got.skipped) == (14, 2, 2, 10)
    assert dict(got.skip_reasons) == {
        "Zeek header line": 9,
        "no HTTP user name (client address only)": 1,
    }
    rows = store.query(
        'SELECT event_id, "user", host, action, object, size_bytes, content FROM events '
        "ORDER BY time"
    )
    assert rows == [
        (
            "zeek:CAbc1:1",
            "ASM0001",
            "10.1.4.7",
            "visit",
            "http://www.example.org/jobs?q=analyst",
            5120,
            "200",
        ),
        (
            "zeek:CAbc2:1",
            "asmith",
            "10.1.4.7",
            "upload",
            "http://upload.example.net/put",
            7340032,
            "201",
        ),
    ]
    reasons = [r for (r,) in store.query("SELECT reason FROM rejects ORDER BY line")]
    assert reasons == [
        "unparsable ts 'not-a-time' (expected epoch seconds)",
        f"expected {len(ZEEK_FIELDS)} tab-separated fields, found 3",
    ]


IIS = (
    "#Software: Microsoft Internet Information Services 10.0\n"
    "#Version: 1.0\n"
    "#Date: 2024-03-04 08:00:00\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"
    "2024-03-04 08:09:10 10.0.0.5 GET /hr/salaries.xlsx - 443 OFFSEC\\asmith 10.1.4.7 "
    "Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15\n"
    "2024-03-04 08:09:11 10.0.0.5 POST /upload id=7 443 - 10.1.9.9 curl/8.0 - 200 0 0 3\n"
    "2024-03-04 25:09:11 10.0.0.5 GET / - 443 bob 10.1.4.8 x - 200 0 0 3\n"
    "#Fields: date time c-ip cs-username cs-method cs-uri sc-status sc-bytes cs-bytes\n"
    "2024-03-04 08:10:00 10.1.4.7 bjones PUT https://files.example.com/a 201 10 900\n"
    "2024-03-04 08:10:00 10.1.4.7 bjones PUT\n"
)
BLUECOAT = (
    "#Software: SGOS 6.7.5.3\n"
    "#Version: 1.0\n"
    "#Fields: date time time-taken c-ip cs-username cs-auth-group sc-status s-action "
    "cs-method cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query "
    "cs(User-Agent) sc-bytes cs-bytes\n"
    '2024-03-04 08:09:10 12 10.1.4.7 asmith "OFFSEC\\Research Staff" 200 TCP_NC_MISS POST '
    'https drive.example.com 443 /upload ?id=1 "Mozilla/5.0 (Windows NT 10.0)" 310 8388608\n'
    '2024-03-04 08:09:11 12 10.1.4.7 asmith "unclosed 200 TCP_NC_MISS GET http a 80 / - x 1 1\n'
)


def test_iis_w3c_log_maps_requests_and_follows_a_new_fields_line(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "u_ex240304.log"
    path.write_text(IIS)
    assert detect_format(path) == "w3c"
    [got] = ingest_logs(store, [path]).files
    assert (got.read, got.stored, got.rejected, got.skipped) == (10, 2, 2, 6)
    assert dict(got.skip_reasons) == {
        "W3C directive line": 5,
        "no user name (client address only)": 1,
    }
    rows = store.query(
        "SELECT \"user\", strftime(time, '%H:%M:%S'), host, action, object, size_bytes, content "
        "FROM events ORDER BY time"
    )
    assert rows == [
        ("asmith", "08:09:10", "10.1.4.7", "visit", "/hr/salaries.xlsx", None, "200"),
        ("bjones", "08:10:00", "10.1.4.7", "upload", "https://files.example.com/a", 900, "201"),
    ]
    reasons = [r for (r,) in store.query("SELECT reason FROM rejects ORDER BY line")]
    assert reasons == [
        "unparsable date time '2024-03-04 25:09:11' (expected YYYY-MM-DD HH:MM:SS)",
        "expected 9 space-separated fields, found 5",
    ]
    assert got.notes == ("date and time read as UTC (IIS writes UTC)",)


def test_blue_coat_w3c_log_with_quoted_fields_and_local_time(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bluecoat.log"
    path.write_text(BLUECOAT)
    assert detect_format(path) == "w3c"
    [got] = ingest_logs(store, [path], timezone="Europe/Berlin").files
    assert (got.read, got.stored, got.rejected, got.skipped) == (5, 1, 1, 3)
    rows = store.query(
        "SELECT \"user\", strftime(time, '%H:%M:%S'), action, object, size_bytes FROM events"
    )
    assert rows == [
        ("asmith", "07:09:10", "upload", "https://drive.example.com/upload?id=1", 8388608)
    ]
    [(reason,)] = store.query("SELECT reason FROM rejects")
    assert reason == "malformed quoting (unexpected end of data)"


def test_w3c_ingest_resumed_after_a_new_fields_line_reads_with_it(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import molehunt.ingest.reader as reader
    import molehunt.ingest.source as source

    more = "2024-03-04 08:11:00 10.1.4.7 bjones GET https://files.example.com/b 200 99 0\n"
    path = tmp_path / "u_ex240304.log"
    path.write_text(IIS + more)
    monkeypatch.setattr(reader, "DEFAULT_CHUNK_BYTES", 64)  # a line or two per chunk
    real = source._commit_chunk
    committed: list[int] = []

    def dies_after_the_new_fields(*args: object) -> tuple[int, int]:
        chunk = args[4]
        if committed and committed[-1] >= 8:  # line 8 is the second '#Fields:'
            raise KeyboardInterrupt
        counts = real(*args)  # type: ignore[arg-type]
        committed.append(chunk.first_line + chunk.line_count - 1)  # type: ignore[attr-defined]
        return counts

    monkeypatch.setattr(source, "_commit_chunk", dies_after_the_new_fields)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(store, [path], "w3c")
    [(done,)] = store.query("SELECT lines_done FROM sources")
    assert 8 <= done < 11, "killed after the new '#Fields:' line, before the end"
    monkeypatch.setattr(source, "_commit_chunk", real)
    [got] = ingest_logs(store, [path], "w3c").files
    assert got.status == "resumed"
    rows = store.query("SELECT object, size_bytes FROM events ORDER BY time")
    assert rows == [
        ("/hr/salaries.xlsx", None),
        ("https://files.example.com/a", 900),
        ("https://files.example.com/b", 99),
    ], "the lines after the resume point are read with the second '#Fields:' list"
    [(read, stored, rejected)] = store.query(
        "SELECT rows_read, rows_stored, rows_rejected FROM sources"
    )
    assert (read, stored, rejected) == (11, 3, 2)
