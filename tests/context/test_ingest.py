"""Context ingest: every format in CSV and JSON, e-mail mapping, rejects with file:line."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from molehunt.context import ingest_context
from molehunt.errors import IngestError, LayoutError
from molehunt.ingest import ingest_cert
from molehunt.store import Store
from tests.context.conftest import write_files

DOCUMENTS = (
    "path,name,classification,compartments,owner\n"
    "C:\\a\\x.doc,x.doc,SECRET,Project 1;Project 2,AAA0001\n"
    "C:\\a\\y.doc,y.doc,机密★10年,,AAA0002\n"
    "C:\\a\\*.pdf,,CONFIDENTIAL,,\n"
)
CLEARANCES = "user,level,compartments,priority\nAAA0001,TOP SECRET,Project 1,high\n"
HR = "user,kind,date,detail\nAAA0001,grievance,01/05/2010,pay\nAAA0002,termination,2010-02-01,\n"
PURVIEW = (
    "EmailAddress,ResignationDate,LastWorkingDate\nann@x.com,2010-03-01T00:00:00Z,03/15/2010\n"
)
TRAVEL = "user,depart,return,countries,declared\nAAA0001,02/01/2010,02/05/2010,rs;at,no\n"


def _rows(store: Store, table: str) -> list[dict[str, object]]:
    return store.query_dicts(f"SELECT * EXCLUDE (source_id) FROM {table} ORDER BY source_line")


def test_ingest_context_csv_formats_fill_their_tables(store: Store, tmp_path: Path) -> None:
    folder = write_files(
        tmp_path / "ctx",
        {
            "documents.csv": DOCUMENTS,
            "clearances.csv": CLEARANCES,
            "hr_events.csv": HR,
            "purview.csv": PURVIEW,
            "travel.csv": TRAVEL,
            "README.md": "notes",
        },
    )
    report = ingest_context(store, folder)
    assert (report.read, report.stored, report.rejected) == (8, 8, 0)
    assert [p.name for p, _ in report.skipped] == ["README.md"]
    documents = _rows(store, "documents")
    assert [(d["doc_key"], d["match_kind"], d["level"], d["level_rank"]) for d in documents] == [
        ("C:\\a\\x.doc", "path", "SECRET", 2),
        ("C:\\a\\y.doc", "path", "SECRET", 2),
        ("C:\\a\\*.pdf", "glob", "CONFIDENTIAL", 1),
    ]
    assert documents[0]["compartments"] == ["Project 1", "Project 2"]
    assert documents[1]["name"] == "y.doc"
    clearance = _rows(store, "clearances")[0]
    assert (clearance["level_rank"], clearance["priority"]) == (3, True)
    hr = {(r["user_id"], r["kind"], r["day"], r["last_day"]) for r in _rows(store, "hr_events")}
    assert hr == {
        ("AAA0001", "grievance", datetime.date(2010, 1, 5), None),
        ("AAA0002", "termination", datetime.date(2010, 2, 1), None),
        # no LDAP ingested: the e-mail address is kept as the id
        ("ann@x.com", "resignation_notice", datetime.date(2010, 3, 1), datetime.date(2010, 3, 15)),
    }
    trip = _rows(store, "travel")[0]
    assert (trip["countries"], trip["declared"]) == (["RS", "AT"], False)


def test_ingest_context_rerun_changes_nothing(store: Store, tmp_path: Path) -> None:
    folder = write_files(tmp_path / "ctx", {"documents.csv": DOCUMENTS})
    ingest_context(store, folder)
    again = ingest_context(store, folder)
    assert [f.status for f in again.files] == ["unchanged"]
    assert store.query("SELECT count(*) FROM documents")[0][0] == 3


@pytest.mark.parametrize("array", [False, True], ids=["jsonl", "json-array"])
def test_ingest_context_json_formats_fill_their_tables(
    store: Store, tmp_path: Path, array: bool
) -> None:
    items = [
        {"user": "AAA0001", "kind": "resignation_notice", "date": "2010-02-01"},
        {"user": "AAA0001", "kind": "last_working_day", "date": "02/12/2010", "detail": None},
        {"user": "AAA0001", "kind": "holiday", "date": "2010-02-01"},
    ]
    name = "hr_events.json" if array else "hr_events.jsonl"
    text = json.dumps(items, indent=2) if array else "".join(json.dumps(i) + "\n" for i in items)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    report = ingest_context(store, path)
    assert (report.stored, report.rejected) == (2, 1)
    assert report.files[0].path == path
    reject = store.query("SELECT path, line, reason FROM rejects")[0]
    assert reject[0] == str(path) and reject[1] == 3
    assert "unknown HR event kind 'holiday'" in reject[2]


def test_ingest_context_json_documents_lists_become_compartments(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "docs.jsonl"
    item = {"name": "plan.doc", "level": "TS", "compartments": ["B", "A"], "sha256": "AB12"}
    path.write_text(json.dumps(item) + "\n", encoding="utf-8")
    ingest_context(store, path)
    row = _rows(store, "documents")[0]
    assert (row["doc_key"], row["match_kind"], row["level"]) == ("AB12", "hash", "TOP SECRET")
    assert (row["compartments"], row["content_hash"], row["name"]) == (
        ["A", "B"],
        "ab12",
        "plan.doc",
    )


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        (
            "documents.csv",
            "name,classification\nok.doc,SECRET\nx.doc,HUSH\n",
            3,
            "unknown level 'HUSH'",
        ),
        ("documents.csv", "name,classification\nx.doc,\n", 2, "missing classification level"),
        ("documents.csv", "name,path,classification\n,,SECRET\n", 2, "missing path, name"),
        ("hr_events.csv", "user,kind,date\nAAA0001,grievance,13/45/2010\n", 2, "unparsable date"),
        ("hr_events.csv", "user,kind,date\n,grievance,01/01/2010\n", 2, "missing user"),
        (
            "travel.csv",
            "user,depart,return,countries,declared\nA,01/05/2010,01/01/2010,RS,no\n",
            2,
            "before depart",
        ),
        (
            "travel.csv",
            "user,depart,countries,declared\nA,01/05/2010,RS,maybe\n",
            2,
            "bad declared",
        ),
        ("clearances.csv", "user,level,priority\nA,SECRET,urgent\n", 2, "bad priority"),
        ("hr_events.csv", "user,kind,date\nA,grievance\n", 2, "expected 3 fields"),
    ],
)
def test_ingest_context_bad_row_is_rejected_with_line_and_reason(
    store: Store, tmp_path: Path, name: str, text: str, line: int, reason: str
) -> None:
    path = write_files(tmp_path / "ctx", {name: text}) / name
    report = ingest_context(store, path)
    assert report.read == report.stored + report.rejected
    rejects = store.query("SELECT path, line, reason FROM rejects")
    assert len(rejects) == 1
    assert rejects[0][0] == str(path) and rejects[0][1] == line
    assert reason in rejects[0][2]


def test_ingest_context_users_map_through_ldap_emails(store: Store, tmp_path: Path) -> None:
    ldap = write_files(
        tmp_path / "cert" / "LDAP",
        {
            "2010-01.csv": "employee_name,user_id,email,role,business_unit,functional_unit,"
            "department,team,supervisor\nAnn Lee,AAA0001,Ann.Lee@dtaa.com,Engineer,1,2,3,4,Bob\n"
        },
    )
    ingest_cert(store, ldap.parent)
    path = write_files(
        tmp_path / "ctx",
        {
            "purview.csv": "EmailAddress,ResignationDate,LastWorkingDate\n"
            "ann.lee@dtaa.com,2010-03-01,2010-03-15\nzed@dtaa.com,2010-03-01,2010-03-15\n",
            "clearances.csv": "user,level\nAAA0001,SECRET\nZZZ9999,SECRET\n",
        },
    )
    ingest_context(store, path)
    assert store.query("SELECT user_id FROM hr_events") == [("AAA0001",)]
    assert store.query("SELECT user_id FROM clearances") == [("AAA0001",)]
    reasons = sorted(r[0] for r in store.query("SELECT reason FROM rejects"))
    assert reasons[0].startswith("unknown user 'ZZZ9999'")
    assert reasons[1].startswith("unknown user 'zed@dtaa.com'")


def test_ingest_context_custom_scale_from_folder(store: Store, tmp_path: Path) -> None:
    folder = write_files(
        tmp_path / "ctx",
        {
            "scales.yaml": "acme: {levels: {PUBLIC: 0, CROWN JEWELS: TOP SECRET}}\n",
            "documents.csv": "name,classification\nroadmap.ppt,Crown Jewels\n",
        },
    )
    report = ingest_context(store, folder)
    assert [p.name for p, _ in report.skipped] == ["scales.yaml"]
    assert store.query("SELECT level, level_rank FROM documents") == [("TOP SECRET", 3)]
    assert ("acme", "CROWN JEWELS", 3) in store.query("SELECT * FROM level_names")


@pytest.mark.parametrize(
    ("name", "text", "error", "message"),
    [
        ("documents.csv", "colour,shape\nred,round\n", LayoutError, "fit no context format"),
        ("stuff.csv", "user,flavour\nA,x\n", LayoutError, "fit no context format"),
        ("documents.jsonl", "[1]\n", LayoutError, "not a JSON object"),
        ("documents.csv", "", IngestError, "file is empty"),
    ],
)
def test_ingest_context_unrecognised_file_raises_before_writing(
    store: Store, tmp_path: Path, name: str, text: str, error: type[Exception], message: str
) -> None:
    folder = write_files(tmp_path / "ctx", {"clearances.csv": CLEARANCES, name: text})
    with pytest.raises(error, match=message):
        ingest_context(store, folder)
    assert store.query("SELECT count(*) FROM sources")[0][0] == 0


def test_ingest_context_missing_path_raises(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest_context(store, tmp_path / "absent")
