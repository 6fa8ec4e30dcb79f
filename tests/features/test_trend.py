"""The sustained-rise deviation `z_trend_*` and the rules built on it, on hand-written histories."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from molehunt.ingest import ingest_events
from molehunt.score import run_detection
from molehunt.store import Store
from tests.features.workdays import workdays


def _history(tmp: Path, store: Store, rising: bool) -> list[date]:
    """Two people over 80 workdays: 3 job-site visits a day (alternating 2 and 4), then for the
    last 10 days 6 a day for ALICE01 when `rising` (BOB0002 never changes); ALICE01 connects a
    drive 3 times (never before) and copies 5 files to it on the last day."""
    days = workdays(80)
    events = []
    for index, day in enumerate(days):
        for user, host in (("ALICE01", "PC-1"), ("BOB0002", "PC-2")):
            visits = 2 + 2 * (index % 2)
            if user == "ALICE01" and rising and index >= 70:
                visits = 6
            clock = f"{day.isoformat()}T09:00:00Z"
            events.append(
                {"time": clock, "user": user, "host": host, "channel": "logon", "action": "logon"}
            )
            events += [
                {
                    "time": f"{day.isoformat()}T10:{minute:02d}:00Z",
                    "user": user,
                    "host": host,
                    "channel": "http",
                    "action": "visit",
                    "object": f"http://www.monster.com/job/{minute}",
                }
                for minute in range(visits)
            ]
    last = days[-1]
    events += [
        {
            "time": f"{last.isoformat()}T15:{minute:02d}:00Z",
            "user": "ALICE01",
            "host": "PC-1",
            "channel": "file",
            "action": "copy",
            "object": f"R:\\plans{minute}.doc",
            "removable": "to",
        }
        for minute in range(5)
    ]
    events += [
        {
            "time": f"{last.isoformat()}T14:{minute:02d}:00Z",
            "user": "ALICE01",
            "host": "PC-1",
            "channel": "device",
            "action": "connect",
        }
        for minute in range(3)
    ]
    path = tmp / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    ingest_events(store, [path])
    run_detection(store)
    return days


def test_a_two_week_rise_in_job_browsing_is_a_trend(store: Store, tmp_path: Path) -> None:
    days = _history(tmp_path, store, rising=True)
    rows = dict(
        store.query(
            "SELECT day, z_trend_job_visits FROM features WHERE user = 'ALICE01' ORDER BY day"
        )
    )
    # NULL until 20 prior active days; then the unchanged habit stays near 0
    assert rows[days[19]] is None and rows[days[20]] is not None
    assert max(abs(rows[day]) for day in days[20:70]) < 1.0
    # 10 days at 6 instead of about 3: (60 - 30) / sqrt(10 * 1 + 3 + 1) = 8.0
    assert abs(rows[days[-1]] - 30 / (14**0.5)) < 1e-6
    hits = store.query(
        "SELECT user, day, rule_id FROM rule_hits WHERE rule_id LIKE 'job-search-ris%'"
    )
    rising = {day for user, day, rule in hits if rule == "job-search-rising"}
    assert {user for user, _, _ in hits} == {"ALICE01"}
    assert rising and min(rising) > days[70] and max(rising) == days[-1]
    assert ("ALICE01", days[-1], "job-search-rising-then-removable-copy") in hits
    assert ("ALICE01", days[-1], "job-search-rising-then-removable-use") in hits


def test_an_unchanged_habit_raises_no_trend_rule(store: Store, tmp_path: Path) -> None:
    _history(tmp_path, store, rising=False)
    hits = store.query("SELECT rule_id FROM rule_hits WHERE rule_id LIKE 'job-search-ris%'")
    assert hits == []
