"""Many small log files in one call: committed together, counted and resumed as one by one.

`ingest_files` commits consecutive one-chunk files in one transaction (one COPY, one insert
per table); the EVTX mapping tells unused event ids without decoding the record. Both are
optimisations only: what each file reports and what the workspace holds must not change.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from molehunt.ingest import source
from molehunt.ingest.logs import ingest_logs
from molehunt.ingest.logs.evtx import _record_lines, _unused_record
from molehunt.ingest.logs.windows import map_record
from molehunt.ledger import verify_ledger
from molehunt.store import Store
from molehunt.store.database import EVENTS_DIR

LOGS = Path(__file__).parents[2] / ".." / "shared" / "data" / "logs"
EVTX = sorted(LOGS.rglob("*.evtx"))

pytestmark = pytest.mark.skipif(not EVTX, reason=f"no EVTX samples in {LOGS}")

SQUID = (
    "1157689320.{ms:03d}   2864 10.105.21.199 TCP_MISS/200 10182 GET http://www.example.com/{n} "
    "{user} DIRECT/175.16.199.61 text/html\n"
)


def _counts(report: Any) -> list[tuple[str, int, int, int, int, tuple[tuple[str, int], ...]]]:
    return [
        (f.path.name, f.read, f.stored, f.rejected, f.skipped, tuple(sorted(f.skip_reasons)))
        for f in report.files
    ]


def _contents(store: Store) -> list[tuple[Any, ...]]:
    return sorted(
        store.query(
            "SELECT s.path, e.source_line, e.event_id, e.time, e.user, e.host, e.channel, "
            "e.action, e.object, e.content FROM events e JOIN sources s USING (source_id)"
        )
    )


def _commits(monkeypatch: pytest.MonkeyPatch, store: Store) -> list[int]:
    """Count the store's transactions from now on."""
    count = [0]
    real = store.transaction

    def counting() -> Any:
        count[0] += 1
        return real()

    monkeypatch.setattr(store, "transaction", counting)
    return count


def _one_by_one(root: Path, files: list[Path]) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """Each file in a call of its own (the path without groups), as the reference."""
    counts = []
    with Store.open(root) as store:
        for path in files:
            counts += _counts(ingest_logs(store, [path], "evtx"))
        return counts, _contents(store)


def test_small_files_commit_together_with_the_same_counts_and_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected, events = _one_by_one(tmp_path / "alone", EVTX)
    with Store.open(tmp_path / "together") as store:
        commits = _commits(monkeypatch, store)
        report = ingest_logs(store, EVTX, "evtx")
        assert _counts(report) == expected
        assert _contents(store) == events
        # One commit for the 9 files, one for the ledger: not two or three per file.
        assert commits[0] == 2
        batches = store.query(
            "SELECT b.source_id, b.first_line, b.last_line, b.rows_stored, s.rows_read, "
            "s.rows_stored, s.lines_done FROM batches b JOIN sources s USING (source_id)"
        )
        assert len(batches) == sum(1 for f in report.files if f.stored)
        for _source, first, last, rows, read, stored, done in batches:
            assert (first, last, rows) == (1, read, stored) and done == read
        assert store.query("SELECT sum(rows_read) FROM sources")[0][0] == report.read
        assert verify_ledger(store).is_valid, "every batch is in the ledger when the call returns"
        assert not list((tmp_path / "together" / EVENTS_DIR).glob(".stage-*"))


def test_a_killed_group_leaves_nothing_and_a_rerun_ingests_it_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected, events = _one_by_one(tmp_path / "alone", EVTX)
    monkeypatch.setattr(source, "GROUP_LINES", 600)  # several groups
    real = source._write_together
    calls = {"n": 0}

    def dies_in_the_second_group(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            real(*args)  # its batch files are written, then the commit never comes
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(source, "_write_together", dies_in_the_second_group)
    with Store.open(tmp_path / "ws") as store, pytest.raises(KeyboardInterrupt):
        ingest_logs(store, EVTX, "evtx")
    monkeypatch.setattr(source, "_write_together", real)
    with Store.open(tmp_path / "ws") as store:  # the orphan batch files are removed here
        known = {name for (name,) in store.query("SELECT file_name FROM batches")}
        on_disk = {f"{EVENTS_DIR}/{p.name}" for p in (tmp_path / "ws" / EVENTS_DIR).iterdir()}
        assert on_disk == known
        done = {Path(p).name for (p,) in store.query("SELECT path FROM sources")}
        assert 0 < len(done) < len(EVTX), "the first group was committed, the second not"
        report = ingest_logs(store, EVTX, "evtx")
        statuses = {f.path.name: f.status for f in report.files}
        assert {n for n, s in statuses.items() if s == "unchanged"} == done
        assert all(s == "new" for n, s in statuses.items() if n not in done)
        again = {c[0]: c for c in _counts(report)}
        assert [again[c[0]] for c in expected if c[0] not in done] == [
            c for c in expected if c[0] not in done
        ]
        assert _contents(store) == events
        # The killed run committed the first group's batches but never recorded them; the
        # rerun records them with its own before it returns.
        assert verify_ledger(store).is_valid


def test_the_same_small_file_twice_in_one_call_is_ingested_once(tmp_path: Path) -> None:
    lines = "".join(SQUID.format(ms=n, n=n, user="alice") for n in range(5))
    first, copy = tmp_path / "access.log", tmp_path / "access-copy.log"
    first.write_text(lines)
    shutil.copy(first, copy)
    with Store.open(tmp_path / "ws") as store:
        report = ingest_logs(store, [first, first, copy], "squid")
        assert [(f.status, f.read, f.stored) for f in report.files] == [
            ("new", 5, 5),
            ("unchanged", 0, 0),
            ("unchanged", 0, 0),
        ]
        assert store.query("SELECT count(*) FROM events")[0][0] == 5


def test_a_grown_file_and_a_new_one_in_one_group(tmp_path: Path) -> None:
    grown, other = tmp_path / "grown.log", tmp_path / "other.log"
    grown.write_text("".join(SQUID.format(ms=n, n=n, user="alice") for n in range(3)))
    other.write_text(SQUID.format(ms=999, n=9, user="-") + "bad line\n")
    with Store.open(tmp_path / "ws") as store:
        ingest_logs(store, [grown], "squid")
        with grown.open("a") as handle:
            handle.write(SQUID.format(ms=3, n=3, user="bob"))
        report = ingest_logs(store, [grown, other], "squid")
        assert [(f.status, f.read, f.stored, f.rejected, f.skipped) for f in report.files] == [
            ("resumed", 1, 1, 0, 0),
            ("new", 2, 0, 1, 1),
        ]
        assert store.query(
            "SELECT path, lines_done, rows_read, rows_stored, rows_rejected FROM sources "
            "ORDER BY source_id"
        ) == [(str(grown), 4, 4, 4, 0), (str(other), 2, 2, 0, 1)]
        assert store.query("SELECT line, reason FROM rejects") == [
            (2, "expected 10 space-separated Squid fields, found 2")
        ]
        assert store.query("SELECT user FROM events ORDER BY time") == [
            ("alice",),
            ("alice",),
            ("alice",),
            ("bob",),
        ]


def _records() -> Iterator[tuple[str, bytes]]:
    for path in EVTX:
        for raw in _record_lines(path):
            yield path.name, raw


def test_unused_evtx_records_are_skipped_as_the_full_mapping_skips_them() -> None:
    told = 0
    for name, raw in _records():
        item = json.loads(raw)
        if "error" in item:
            assert _unused_record(raw) is None
            continue
        full = map_record((item["d"] or {}).get("Event") or {}, item["n"])
        fast = _unused_record(raw)
        if fast is not None:
            told += 1
            assert fast == full, (name, item["n"])
        else:
            assert not getattr(full, "reason", "").endswith(" not used"), (name, item["n"])
    assert told > 3000, "most sample records are unused event ids"


@pytest.mark.parametrize(
    "change",
    [
        # System without Channel: the first "Channel" key is the event's own data.
        lambda raw: raw.replace(b'"Channel":"Security",', b"", 1).replace(
            b'"EventData":{', b'"EventData":{"Channel":"Nope",', 1
        ),
        # A channel with an escape, and an EventID in a shape the pattern does not know.
        lambda raw: raw.replace(b'"Channel":"Security"', b'"Channel":"Secu\\u0072ity"', 1),
        lambda raw: raw.replace(b'"EventID":4608', b'"EventID":"4608"', 1),
    ],
)
def test_unusual_evtx_json_takes_the_full_path(change: Any) -> None:
    path = LOGS / "windows-evtx" / "security_logon-logoff_2016-2017_omerbenamram-evtx.evtx"
    raw = next(_record_lines(path))
    assert _unused_record(raw) is not None  # 4608 (system start) is not used
    assert _unused_record(change(raw)) is None
