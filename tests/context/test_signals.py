"""Per user-day context signals: what each counts, and that no day sees the future."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from molehunt.context import compute_context_daily, ingest_context, leaver_record
from molehunt.context.leaver import verify_leaver_record
from molehunt.store import Store
from tests.context.conftest import add_events, file_event, logon, write_files

CONTEXT = {
    "documents.csv": "name,classification,compartments\n"
    "x.doc,SECRET,Project 1\nt.doc,TOP SECRET,\np2.doc,CONFIDENTIAL,Project 2\n",
    "clearances.csv": "user,level,compartments,priority\n"
    "AAA0001,SECRET,Project 1,high\nBBB0002,CONFIDENTIAL,,normal\n",
    "hr_events.csv": "user,kind,date,detail\n"
    "AAA0001,grievance,01/02/2010,pay\n"
    "AAA0001,resignation_notice,01/10/2010,\n"
    "AAA0001,last_working_day,01/20/2010,\n",
    "travel.csv": "user,depart,return,countries,declared\n"
    "AAA0001,02/01/2010,02/03/2010,RS,no\nBBB0002,01/06/2010,01/08/2010,FR,no\n",
}


def _email(user: str, time: str, to: str, attachments: str) -> dict[str, Any]:
    return {
        "time": time,
        "user": user,
        "channel": "email",
        "action": "send",
        "object": to,
        "sender": f"{user.lower()}@dtaa.com",
        "attachment_names": attachments,
    }


def _events() -> list[dict[str, Any]]:
    day1, day5 = "2010-01-04T10:00:00", "2010-01-08T10:00:00"
    return [
        file_event("AAA0001", day1, "R:\\x.doc", removable="to"),
        file_event("AAA0001", day1, "C:\\t.doc"),  # above SECRET clearance
        file_event("AAA0001", day1, "C:\\p2.doc"),  # outside Project 1
        _email("AAA0001", day1, "pal@gmail.com", "C:\\x.doc"),
        _email("AAA0001", day1, "bob@dtaa.com", "C:\\x.doc"),  # internal: not counted
        {
            "time": day1,
            "user": "AAA0001",
            "channel": "http",
            "action": "upload",
            "object": "https://box.com/x.doc",
        },
        file_event("AAA0001", day5, "R:\\x.doc", removable="both"),
        logon("AAA0001", "2010-01-10T09:00:00"),
        logon("AAA0001", "2010-01-12T09:00:00"),
        logon("AAA0001", "2010-01-25T09:00:00"),  # after the last working day
        logon("AAA0001", "2010-01-26T09:00:00"),
        logon("BBB0002", "2010-01-04T09:00:00"),
        file_event("BBB0002", "2010-01-04T09:10:00", "C:\\notes.txt"),
    ]


def _workspace(root: Path, until: datetime.date | None = None) -> Store:
    """A workspace with the scenario's data, keeping only what was known by `until`."""
    store = Store.open(root / "ws")
    cut = until.isoformat() if until else "9999-12-31"
    add_events(store, root / "events", [e for e in _events() if e["time"][:10] <= cut])
    context = dict(CONTEXT)
    if until is not None:
        for name, text in context.items():
            head, *lines = text.splitlines()
            keep = [line for line in lines if name.startswith("documents") or _known(line, until)]
            context[name] = "\n".join([head, *keep]) + "\n"
    ingest_context(store, write_files(root / "ctx", context))
    return store


def _known(line: str, until: datetime.date) -> bool:
    fields = line.split(",")
    dated = [f for f in fields if f.count("/") == 2]
    if not dated:
        return True  # clearances: undated
    return datetime.datetime.strptime(dated[0], "%m/%d/%Y").date() <= until


def _daily(
    store: Store, until: datetime.date | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    rows = store.query_dicts(
        "SELECT * FROM context_daily WHERE ? IS NULL OR day <= ?", [until, until]
    )
    return {(r["user"], r["day"].isoformat()): r for r in rows}


@pytest.fixture
def daily(tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    with _workspace(tmp_path) as store:
        compute_context_daily(store)
        return _daily(store)


def test_context_daily_counts_classified_volume_per_channel(daily: dict[Any, Any]) -> None:
    row = daily[("AAA0001", "2010-01-04")]
    assert row["classified_read"] == 3
    assert row["classified_removable"] == 1
    assert row["classified_emailed"] == 1  # the internal recipient is not counted
    assert row["classified_uploaded"] == 1
    assert row["max_level_rank"] == 3
    assert row["above_clearance"] == 1
    assert row["need_to_know_violations"] == 1
    assert row["priority_user"] is True
    assert row["stressors"] == 1


def test_context_daily_unclassified_and_unknown_touches_count_nothing(
    daily: dict[Any, Any],
) -> None:
    row = daily[("BBB0002", "2010-01-04")]
    assert (row["classified_read"], row["max_level_rank"], row["above_clearance"]) == (0, None, 0)
    assert row["priority_user"] is False


def test_context_daily_departing_window_and_lookback_on_notice_day(daily: dict[Any, Any]) -> None:
    notice = daily[("AAA0001", "2010-01-10")]
    assert notice["notice_today"] and notice["departing"]
    assert notice["lookback_classified_90d"] == 1 + 1 + 1 + 1  # removable x2, emailed, uploaded
    assert daily[("AAA0001", "2010-01-08")]["departing"] is False
    assert daily[("AAA0001", "2010-01-12")]["departing"] is True
    assert daily[("AAA0001", "2010-01-12")]["lookback_classified_90d"] == 0
    assert daily[("AAA0001", "2010-01-20")]["departing"] is True  # the last day itself
    assert daily[("AAA0001", "2010-01-25")]["departing"] is False


def test_context_daily_after_departure_use_and_undeclared_travel(daily: dict[Any, Any]) -> None:
    assert daily[("AAA0001", "2010-01-20")]["after_departure"] == 0
    assert daily[("AAA0001", "2010-01-25")]["after_departure"] == 1
    assert daily[("AAA0001", "2010-01-25")]["undeclared_travel"] is False
    assert daily[("AAA0001", "2010-02-01")]["undeclared_travel"] is True
    # an undeclared trip of someone not leaving is not this signal
    assert daily[("BBB0002", "2010-01-06")]["undeclared_travel"] is False


@pytest.mark.parametrize("cut", ["2010-01-04", "2010-01-09", "2010-01-19", "2010-01-25"])
def test_context_daily_is_causal_later_data_never_changes_earlier_days(
    tmp_path: Path, cut: str
) -> None:
    until = datetime.date.fromisoformat(cut)
    with _workspace(tmp_path / "full") as store:
        compute_context_daily(store)
        full = _daily(store, until)
        compute_context_daily(store, until)  # same data, computed as of `until`
        as_of = _daily(store)
    with _workspace(tmp_path / "past", until) as store:
        compute_context_daily(store)
        past = _daily(store)
    assert full == as_of == past
    assert full  # the comparison is not vacuous


def test_leaver_record_sealed_with_verifiable_hash(tmp_path: Path) -> None:
    with _workspace(tmp_path) as store:
        compute_context_daily(store)
        record = leaver_record(store, "AAA0001")
        assert record is not None and record["verified"] and verify_leaver_record(record)
        summary = record["summary"]
        assert summary["last_working_day"] == "2010-01-20"
        names = {d["name"]: d for d in summary["documents"]}
        assert set(names) == {"x.doc", "t.doc", "p2.doc"}
        assert names["x.doc"]["level"] == "SECRET"
        assert names["x.doc"]["channels"] == ["emailed", "removable", "uploaded"]
        assert names["x.doc"]["days"] == ["2010-01-04", "2010-01-08"]
        compute_context_daily(store)  # sealed: a rerun leaves the record as it was
        assert leaver_record(store, "AAA0001") == record
        assert leaver_record(store, "BBB0002") is None
        tampered = {**record, "summary": {**summary, "documents": []}}
        assert not verify_leaver_record(tampered)


def test_leaver_record_not_sealed_before_last_day(tmp_path: Path) -> None:
    with _workspace(tmp_path) as store:
        compute_context_daily(store, datetime.date(2010, 1, 15))
        assert leaver_record(store, "AAA0001") is None


def test_context_daily_purview_last_day_is_known_from_the_notice(tmp_path: Path) -> None:
    with Store.open(tmp_path / "ws") as store:
        events = [logon("AAA0001", f"2010-03-{day:02d}T09:00:00") for day in (2, 10, 16)]
        add_events(store, tmp_path / "events", events)
        purview = "EmailAddress,ResignationDate,LastWorkingDate\nAAA0001,03/01/2010,03/15/2010\n"
        ingest_context(store, write_files(tmp_path / "ctx", {"purview.csv": purview}))
        compute_context_daily(store)
        daily = _daily(store)
    assert daily[("AAA0001", "2010-03-01")]["notice_today"] is True
    assert daily[("AAA0001", "2010-03-10")]["departing"] is True
    assert daily[("AAA0001", "2010-03-16")]["departing"] is False
    assert daily[("AAA0001", "2010-03-16")]["after_departure"] == 1


@pytest.mark.parametrize("cut", ["2010-01-06", "2010-01-18", "2010-01-22"])
def test_context_daily_incremental_run_equals_full_run(tmp_path: Path, cut: str) -> None:
    since = datetime.date.fromisoformat(cut)
    with _workspace(tmp_path) as store:
        compute_context_daily(store)
        full = _daily(store)
        labels = store.query("SELECT * FROM event_labels ORDER BY source_id, source_line")
        compute_context_daily(store, since)
        added = compute_context_daily(store, since=since)
        assert added == sum(1 for user, day in full if day > cut)
        assert _daily(store) == full
        assert store.query("SELECT * FROM event_labels ORDER BY source_id, source_line") == labels
