"""A leaver's case is raised again after departure: account use, or an undeclared trip abroad."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from molehunt.context import ingest_context
from molehunt.score import run_detection
from molehunt.store import Store
from tests.context.conftest import add_events, logon, write_files

START = date(2010, 1, 4)
USERS = [f"U{n:03d}XYZ" for n in range(30)]
LEAVER = USERS[0]


def _day(offset: int) -> date:
    return START + timedelta(days=offset)


def _mdy(offset: int) -> str:
    return _day(offset).strftime("%m/%d/%Y")


def _workspace(root: Path, trip_declared: str) -> Store:
    """30 people logging on for 60 days; the leaver stops after day 20 and travels on day 40."""
    store = Store.open(root / "ws")
    events = [
        logon(user, f"{_day(offset).isoformat()}T08:{n % 60:02d}:00")
        for offset in range(60)
        for n, user in enumerate(USERS)
        if user != LEAVER or offset <= 20
    ]
    add_events(store, root / "events", events)
    context = {
        "hr_events.csv": "user,kind,date,detail\n"
        f"{LEAVER},resignation_notice,{_mdy(10)},\n{LEAVER},last_working_day,{_mdy(20)},\n",
        "travel.csv": "user,depart,return,countries,declared\n"
        f"{LEAVER},{_mdy(40)},{_mdy(45)},RU,{trip_declared}\n",
    }
    ingest_context(store, write_files(root / "context", context))
    return store


@pytest.mark.parametrize(("declared", "raised"), [("no", True), ("yes", False)])
def test_undeclared_trip_after_departure_raises_the_case(
    tmp_path: Path, declared: str, raised: bool
) -> None:
    with _workspace(tmp_path, declared) as store:
        run_detection(store)
        rows = store.query(
            "SELECT s.score, list(h.rule_id) FROM scores s LEFT JOIN rule_hits h "
            "ON h.user = s.user AND h.day = s.day WHERE s.user = ? AND s.day = ? GROUP BY ALL",
            [LEAVER, _day(40)],
        )
    if raised:
        [(score, rules)] = rows
        assert "undeclared-travel-after-departure" in rules
        assert score >= 50
    else:
        assert rows == []  # no events, no undeclared trip: nothing to score that day


def test_trip_day_is_queued_and_explained(tmp_path: Path) -> None:
    from molehunt.explain import explain_user, render_explanation
    from molehunt.score import daily_queue

    with _workspace(tmp_path, "no") as store:
        run_detection(store)
        queue = daily_queue(store, _day(40), 3)
        text = render_explanation(explain_user(store, LEAVER, _day(40)))
    assert queue[0].user == LEAVER
    assert "Undeclared foreign trip by a leaver" in text
