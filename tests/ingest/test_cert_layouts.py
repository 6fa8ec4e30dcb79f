"""Each CERT release layout is recognised from its header and mapped to the event columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.errors import IngestError, LayoutError
from molehunt.ingest import ingest_cert
from molehunt.store import Store

R62_FILES = {
    "logon.csv": (
        'id,date,user,pc,activity\n"{A1}","01/04/2010 07:01:02","AAA0001","PC-1","Logon"\n'
    ),
    "device.csv": (
        "id,date,user,pc,file_tree,activity\n"
        '"{D1}","01/04/2010 07:05:00","AAA0001","PC-1","R:\\;R:\\AAA0001","Connect"\n'
    ),
    "file.csv": (
        "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content\n"
        '"{F1}","01/04/2010 07:06:00","AAA0001","PC-1","R:\\x\\A.doc","File Write","True",'
        '"False","D0-CF-11 secret, budget"\n'
    ),
    "email.csv": (
        "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content\n"
        '"{E1}","01/04/2010 07:07:00","AAA0001","PC-1","a@x.com;b@dtaa.com","c@dtaa.com",'
        '"d@gmail.com","AAA@dtaa.com","Send","6979662",'
        '"C:\\P\\6YP4EL3N.doc(693210);C:\\TU872U4G.jpg(116474)","hello, world"\n'
    ),
    "http.csv": (
        "id,date,user,pc,url,activity,content\n"
        '{H1},01/04/2010 07:08:00,AAA0001,PC-1,http://wikileaks.org/x.php,WWW Upload,"a, b"\n'
    ),
}


def write_release(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_ingest_r62_layout_maps_every_channel(store: Store, tmp_path: Path) -> None:
    report = ingest_cert(store, write_release(tmp_path / "r6.2", R62_FILES))
    assert report.rejected == 0
    rows = {r["event_id"]: r for r in store.query_dicts("SELECT * FROM events")}
    assert rows["{A1}"]["action"] == "logon"
    assert rows["{D1}"]["object"] == "R:\\;R:\\AAA0001"
    assert rows["{F1}"]["action"] == "write"
    assert rows["{F1}"]["removable"] == "to"
    assert rows["{F1}"]["content"] == "D0-CF-11 secret, budget"
    email = rows["{E1}"]
    assert email["object"] == "a@x.com;b@dtaa.com;c@dtaa.com;d@gmail.com"
    assert email["recipients_bcc"] == "d@gmail.com"
    assert email["attachment_count"] == 2
    assert email["attachment_names"] == "C:\\P\\6YP4EL3N.doc;C:\\TU872U4G.jpg"
    assert email["attachment_bytes"] == 693210 + 116474
    assert email["size_bytes"] == 6979662
    assert rows["{H1}"]["action"] == "upload"
    assert {f.layout for f in report.files} >= {"r6.2", "r5.2+"}


@pytest.mark.parametrize(
    ("to", "source", "expected"),
    [
        ("True", "False", "to"),
        ("False", "True", "from"),
        ("True", "True", "both"),
        ("False", "False", "none"),
    ],
)
def test_file_removable_direction(
    store: Store, tmp_path: Path, to: str, source: str, expected: str
) -> None:
    text = (
        "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content\n"
        f"{{F}},01/04/2010 07:06:00,AAA0001,PC-1,C:\\a.doc,File Open,{to},{source},x\n"
    )
    ingest_cert(store, write_release(tmp_path / "rel", {"file.csv": text}))
    assert store.query("SELECT removable FROM events") == [(expected,)]


def test_r42_logon_and_device_told_apart_by_activity_when_unnamed(
    store: Store, tmp_path: Path
) -> None:
    header = "id,date,user,pc,activity\n"
    (tmp_path / "a.csv").write_text(header + "{1},01/04/2010 07:01:02,AAA0001,PC-1,Connect\n")
    (tmp_path / "b.csv").write_text(header + "{2},01/04/2010 07:01:02,AAA0001,PC-1,Logoff\n")
    ingest_cert(store, tmp_path / "a.csv")
    ingest_cert(store, tmp_path / "b.csv")
    assert store.query("SELECT event_id, channel FROM events ORDER BY 1") == [
        ("{1}", "device"),
        ("{2}", "logon"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{1},13/45/2010 07:01:02,AAA0001,PC-1,Logon", "unparsable date '13/45/2010 07:01:02'"),
        ("{1},,AAA0001,PC-1,Logon", "missing date"),
        ("{1},01/04/2010 07:01:02,,PC-1,Logon", "missing user"),
        ("{1},01/04/2010 07:01:02,AAA0001,PC-1,Dance", "unknown activity 'Dance'"),
        ("{1},01/04/2010 07:01:02,AAA0001,PC-1", "expected 5 fields, found 4"),
        ("{1},01/04/2010 07:01:02,AAA0001,PC-1,Logon,x,y", "expected 5 fields, found 7"),
        ('{1},"01/04/2010 07:01:02,AAA0001,PC-1,Logon', "malformed CSV"),
    ],
)
def test_bad_row_kept_in_rejects_with_line_and_reason(
    store: Store, tmp_path: Path, line: str, reason: str
) -> None:
    good = "{0},01/04/2010 07:00:00,AAA0001,PC-1,Logon"
    text = f"id,date,user,pc,activity\n{good}\n{line}\n{good.replace('{0}', '{2}')}\n"
    report = ingest_cert(store, write_release(tmp_path / "rel", {"logon.csv": text}))
    assert (report.read, report.stored, report.rejected) == (3, 2, 1)
    [(line_number, got, raw)] = store.query("SELECT line, reason, raw FROM rejects")
    assert line_number == 3
    assert got.startswith(reason)
    assert raw == line


def test_email_bad_size_rejected(store: Store, tmp_path: Path) -> None:
    text = (
        "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n"
        "{1},01/04/2010 07:00:00,AAA0001,PC-1,a@b.com,,,c@d.com,big,0,x\n"
    )
    ingest_cert(store, write_release(tmp_path / "rel", {"email.csv": text}))
    assert store.query("SELECT reason FROM rejects") == [("bad number 'big' in field size",)]


def test_invalid_utf8_and_crlf(store: Store, tmp_path: Path) -> None:
    data = (
        b"id,date,user,pc,activity\r\n{1},01/04/2010 07:00:00,AAA0001,PC-1,Logon\r\n"
        b"{2},01/04/2010 07:00:00,\xff\xfe,PC-1,Logon\r\n"
    )
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "logon.csv").write_bytes(data)
    report = ingest_cert(store, folder)
    assert (report.stored, report.rejected) == (1, 1)
    assert store.query("SELECT line, reason FROM rejects") == [(3, "invalid UTF-8 at byte 25")]
    assert store.query("SELECT host FROM events") == [("PC-1",)]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"logon.csv": ""}, "file is empty"),
        ({"logon.csv": "when,who\n1,2\n"}, "unrecognized logon layout, missing column"),
        ({"http.csv": "id,date,user,pc,url,colour\n"}, "unexpected column(s) colour"),
        ({"readme.txt": "hello"}, "no CERT files found"),
        ({"mystery.csv": "a,b\n1,2\n"}, "cannot tell which CERT file this is"),
    ],
)
def test_unusable_input_raises_one_line_error(
    store: Store, tmp_path: Path, files: dict[str, str], message: str
) -> None:
    folder = write_release(tmp_path / "rel", files)
    target = folder / "mystery.csv" if "mystery.csv" in files else folder
    with pytest.raises(
        (IngestError, LayoutError), match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        ingest_cert(store, target)
    assert store.query("SELECT count(*) FROM sources") == [(0,)]


def test_ldap_file_name_must_be_a_month(store: Store, tmp_path: Path) -> None:
    header = (
        "employee_name,user_id,email,role,business_unit,functional_unit,department,team,"
        "supervisor\n"
    )
    folder = write_release(tmp_path / "rel" / "LDAP", {"2010-13.csv": header})
    with pytest.raises(LayoutError, match="YYYY-MM.csv"):
        ingest_cert(store, folder.parent)


def test_gzip_file_is_read_by_content_not_name(store: Store, tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "rel"
    folder.mkdir()
    with gzip.open(folder / "logon.csv.gz", "wt") as handle:
        handle.write(R62_FILES["logon.csv"])
    report = ingest_cert(store, folder)
    assert report.stored == 1


def test_padded_fields_are_trimmed(store: Store, tmp_path: Path) -> None:
    text = "id,date,user,pc,activity\n {1} ,01/04/2010 07:00:00, AAA0001 , PC-1 , Logon \n"
    ingest_cert(store, write_release(tmp_path / "rel", {"logon.csv": text}))
    assert store.query('SELECT event_id, "user", host, action FROM events') == [
        ("{1}", "AAA0001", "PC-1", "logon")
    ]
