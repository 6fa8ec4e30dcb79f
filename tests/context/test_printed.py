"""First printing of a compartment's documents: counted once per person, one day at a time.

What must hold for a user: `compartments_first_printed` counts a compartment on the first day a
person prints one of its documents and never again; a detect that computes one day at a time
(reading only that day's print events and what it keeps of earlier ones) gives the rows a run
over the whole history gives, also after a run set back, a workspace an older molehunt wrote
(nothing kept), and a registry that changed the compartments of documents printed earlier.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from molehunt.context import compute_context_daily, ingest_context
from molehunt.store import Store
from tests.context.conftest import add_events, write_files

DOCUMENTS = "name,classification,compartments\nx.doc,SECRET,Project 1\np2.doc,SECRET,Project 2\n"
CLEARANCES = "user,level,compartments,priority\nAAA0001,SECRET,Project 1,normal\n"
DAYS = [datetime.date(2010, 1, 4) + datetime.timedelta(days=n) for n in range(6)]
COLUMNS = "user, day, compartments_first_printed, classified_printed, printed_outside_need_to_know"


def _print(user: str, day: datetime.date, document: str) -> dict[str, Any]:
    return {
        "time": f"{day.isoformat()}T10:00:00",
        "user": user,
        "channel": "print",
        "action": "print",
        "object": document,
        "host": "printer-1",
    }


def _events() -> list[dict[str, Any]]:
    d = DAYS
    return [
        _print("AAA0001", d[0], "x.doc"),  # Project 1: first
        _print("AAA0001", d[1], "Microsoft Word - x.doc"),  # Project 1 again: not first
        _print("AAA0001", d[1], "p2.doc"),  # Project 2: first
        _print("BBB0002", d[2], "x.doc"),  # another person's first Project 1
        _print("AAA0001", d[3], "x.doc"),
        _print("AAA0001", d[3], "p2.doc"),
        _print("AAA0001", d[4], "notes.txt"),  # unclassified: nothing
        _print("BBB0002", d[5], "p2.doc"),
        _print("BBB0002", d[5], "x.doc"),
    ]


def _workspace(root: Path) -> Store:
    store = Store.open(root / "ws")
    add_events(store, root / "events", _events())
    context = {"documents.csv": DOCUMENTS, "clearances.csv": CLEARANCES}
    ingest_context(store, write_files(root / "ctx", context))
    return store


def _rows(store: Store) -> list[tuple[Any, ...]]:
    return store.query(f"SELECT {COLUMNS} FROM context_daily ORDER BY user, day")


def _one_day_at_a_time(store: Store, first: int = 0) -> None:
    for number in range(first, len(DAYS)):
        since = DAYS[number - 1] if number else None
        compute_context_daily(store, DAYS[number], since=since)


def test_compartment_first_printed_counts_each_compartment_once_per_person(
    tmp_path: Path,
) -> None:
    with _workspace(tmp_path) as store:
        compute_context_daily(store)
        rows = _rows(store)
    first = {(user, day.isoformat()): count for user, day, count, _, _ in rows}
    assert first == {
        ("AAA0001", "2010-01-04"): 1,
        ("AAA0001", "2010-01-05"): 1,
        ("AAA0001", "2010-01-07"): 0,
        ("AAA0001", "2010-01-08"): 0,
        ("BBB0002", "2010-01-06"): 1,
        ("BBB0002", "2010-01-09"): 1,
    }


def test_one_day_runs_equal_one_run_after_set_back_and_lost_state(tmp_path: Path) -> None:
    with _workspace(tmp_path / "whole") as store:
        compute_context_daily(store, DAYS[-1])
        whole = _rows(store)
    with _workspace(tmp_path / "days") as store:
        _one_day_at_a_time(store)
        assert _rows(store) == whole
        kept = store.query("SELECT * FROM printed_compartments ORDER BY ALL")
        assert [(user, compartment) for user, compartment, _ in kept] == [
            ("AAA0001", "Project 1"),
            ("AAA0001", "Project 2"),
            ("BBB0002", "Project 1"),
            ("BBB0002", "Project 2"),
        ]
        # Set back two days (as `bench_detect.py --repeat-last-day` does), then forward again.
        _one_day_at_a_time(store, first=len(DAYS) - 2)
        assert _rows(store) == whole
        # What an older molehunt left: context rows but nothing kept of earlier printing.
        with store.transaction() as connection:
            connection.execute("DROP TABLE printed_compartments")
            connection.execute("DELETE FROM meta WHERE key = 'printed_through'")
        _one_day_at_a_time(store, first=3)
        assert _rows(store) == whole


@pytest.mark.parametrize("day", [2, 4])
def test_registry_change_recounts_earlier_printing(tmp_path: Path, day: int) -> None:
    """After the registry puts notes.txt in Project 3 (printed on day 5), a run of the later
    days counts from the new labels, as a run over the whole history does."""
    later = DOCUMENTS + "notes.txt,SECRET,Project 3\n"
    with _workspace(tmp_path / "whole") as store:
        ingest_context(store, write_files(tmp_path / "ctx2", {"documents.csv": later}))
        compute_context_daily(store, DAYS[-1])
        expected = [row for row in _rows(store) if row[1] > DAYS[day]]
    with _workspace(tmp_path / "days") as store:
        _one_day_at_a_time(store)
        ingest_context(store, write_files(tmp_path / "ctx2", {"documents.csv": later}))
        compute_context_daily(store, DAYS[-1], since=DAYS[day])
        assert [row for row in _rows(store) if row[1] > DAYS[day]] == expected
