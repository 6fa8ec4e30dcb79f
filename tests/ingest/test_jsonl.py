"""JSON Lines events: the documented schema, with bad lines kept as rejects."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from molehunt.ingest import ingest_events
from molehunt.store import Store

GOOD = (
    '{"event_id":"e1","time":"2010-01-02T07:00:00Z","user":"AAA0001","host":"PC-1",'
    '"channel":"file","action":"Write","object":"R:\\\\a.doc","removable":"to"}'
)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1,2]", "expected a JSON object, found list"),
        ('{"time":"2010-01-02T07:00:00Z","user":"A","channel":"logon"}', "missing field 'action'"),
        (
            '{"time":"2010-01-02","user":"A","channel":"logon","action":"logon","colour":1}',
            "unknown field 'colour'",
        ),
        (
            '{"time":"yesterday","user":"A","channel":"logon","action":"logon"}',
            "unparsable time 'yesterday'",
        ),
        (
            '{"time":"2010-01-02","user":"A","channel":"Log On","action":"logon"}',
            "bad channel 'Log On'",
        ),
        (
            '{"time":"2010-01-02","user":"A","channel":"email","action":"send","size_bytes":"9"}',
            "field 'size_bytes' must be an integer",
        ),
        ("{oops", "invalid JSON"),
    ],
)
def test_bad_json_line_rejected_with_reason(
    store: Store, tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(f"{GOOD}\n{line}\n")
    report = ingest_events(store, [path])
    assert (report.read, report.stored, report.rejected) == (2, 1, 1)
    [(number, got)] = store.query("SELECT line, reason FROM rejects")
    assert number == 2 and got.startswith(reason)


def test_good_event_normalized(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(GOOD + "\n")
    ingest_events(store, [path])
    row = store.query_dicts("SELECT * FROM events")[0]
    assert (row["event_id"], row["action"], row["object"], row["removable"]) == (
        "e1",
        "write",
        "R:\\a.doc",
        "to",
    )
    assert row["source_line"] == 1
