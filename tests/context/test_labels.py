"""Labelling events: registry by path then name, globs, markings; the highest level applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.context import ingest_context, label_events
from molehunt.store import Store
from tests.context.conftest import add_events, file_event, write_files

DOCUMENTS = (
    "path,name,classification,compartments\n"
    "C:\\a\\x.doc,x.doc,SECRET,Project 1\n"
    "C:\\a\\y.doc,y.doc,UNCLASSIFIED,\n"
    "C:\\proj\\*.pdf,,CONFIDENTIAL,Project 3\n"
)
T = "2010-01-04T10:00:00"
EVENTS = [
    file_event("AAA0001", T, "C:\\a\\x.doc"),
    file_event("AAA0001", T, "R:\\x.doc", removable="to"),
    file_event("AAA0001", T, "c:\\PROJ\\q.pdf"),
    file_event("AAA0001", T, "C:\\misc\\TOP SECRET plan.doc"),
    file_event("AAA0001", T, "C:\\misc\\notes.txt", content="SECRET//NOFORN budget"),
    file_event("AAA0001", T, "C:\\misc\\unknown.txt", content="a secret classified list"),
    file_event("AAA0001", T, "C:\\a\\y.doc", content="TOP SECRET"),
    {
        "time": T,
        "user": "AAA0001",
        "channel": "email",
        "action": "send",
        "object": "z@gmail.com",
        "attachment_names": "C:\\a\\y.doc;C:\\a\\x.doc",
    },
    {
        "time": T,
        "user": "AAA0001",
        "channel": "http",
        "action": "upload",
        "object": "https://dropbox.com/u/x.doc?dl=1",
    },
    {"time": T, "user": "AAA0001", "channel": "http", "action": "visit", "object": "https://a.b/"},
    {
        "time": T,
        "user": "AAA0001",
        "channel": "email",
        "action": "send",
        "object": "z@gmail.com",
        "attachment_names": "C:\\x\\机密★10年 方案.doc",
    },
]
EXPECTED = [  # (line, level, basis, document, compartments)
    (1, "SECRET", "path", "C:\\a\\x.doc", ["Project 1"]),
    (2, "SECRET", "name", "R:\\x.doc", ["Project 1"]),
    (3, "CONFIDENTIAL", "glob", "c:\\PROJ\\q.pdf", ["Project 3"]),
    (4, "TOP SECRET", "marking", "C:\\misc\\TOP SECRET plan.doc", []),
    (5, "SECRET", "marking", "C:\\misc\\notes.txt", []),
    (6, None, "unknown", None, []),
    (7, "TOP SECRET", "marking", "C:\\a\\y.doc", []),
    (8, "SECRET", "path", "C:\\a\\x.doc", ["Project 1"]),
    (9, "SECRET", "name", "x.doc", ["Project 1"]),
    (11, "SECRET", "marking", "C:\\x\\机密★10年 方案.doc", []),
]


@pytest.fixture
def labelled(store: Store, tmp_path: Path) -> Store:
    add_events(store, tmp_path / "events", EVENTS)
    ingest_context(store, write_files(tmp_path / "ctx", {"documents.csv": DOCUMENTS}))
    label_events(store)
    return store


def test_label_events_each_basis_gives_the_expected_level(labelled: Store) -> None:
    rows = labelled.query(
        "SELECT source_line, level, basis, document, compartments FROM event_labels "
        "ORDER BY source_line"
    )
    assert rows == EXPECTED


def test_label_events_counts_bases_and_reports_unknown(labelled: Store) -> None:
    assert label_events(labelled) == {"glob": 1, "marking": 4, "name": 2, "path": 2, "unknown": 1}


def test_label_events_email_keeps_one_label_per_attachment(labelled: Store) -> None:
    items = labelled.query(
        "SELECT item, level, basis FROM item_labels WHERE source_line = 8 ORDER BY item"
    )
    assert items == [("C:\\a\\x.doc", "SECRET", "path"), ("C:\\a\\y.doc", "UNCLASSIFIED", "path")]


def test_label_events_rerun_replaces_labels(labelled: Store) -> None:
    label_events(labelled)
    assert labelled.query("SELECT count(*) FROM event_labels")[0][0] == len(EXPECTED)
