"""Continuous deviations `dev_*` and the sustained-deviation evidence, on hand-written histories."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from molehunt.explain import explain_user
from molehunt.ingest import ingest_events
from molehunt.score import run_detection
from molehunt.store import Store
from tests.features.workdays import workdays

RAISED = 10  # last workdays on which ALICE01 connects a drive 8 times instead of about 2


def _history(tmp: Path, store: Store) -> list[date]:
    """Two people over 70 workdays connecting a thumb drive 1 or 3 times a day (alternating);
    ALICE01 connects it 8 times a day on the last RAISED days, BOB0002 never changes."""
    days = workdays(70)
    events = []
    for index, day in enumerate(days):
        for user, host in (("ALICE01", "PC-1"), ("BOB0002", "PC-2")):
            connects = 1 + 2 * (index % 2)
            if user == "ALICE01" and index >= len(days) - RAISED:
                connects = 8
            events.append(
                {
                    "time": f"{day.isoformat()}T09:00:00Z",
                    "user": user,
                    "host": host,
                    "channel": "logon",
                    "action": "logon",
                }
            )
            events += [
                {
                    "time": f"{day.isoformat()}T10:{minute:02d}:00Z",
                    "user": user,
                    "host": host,
                    "channel": "device",
                    "action": "connect",
                }
                for minute in range(connects)
            ]
    path = tmp / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    ingest_events(store, [path])
    run_detection(store)
    return days


def test_usual_days_give_no_deviation_and_a_quadrupled_rate_does(
    store: Store, tmp_path: Path
) -> None:
    days = _history(tmp_path, store)
    rows = store.query(
        "SELECT user, day, dev_usb_connects FROM features WHERE day >= ? ORDER BY user, day",
        [days[20]],
    )
    raised = set(days[-RAISED:])
    bob = [dev for user, _, dev in rows if user == "BOB0002"]
    alice_usual = [dev for user, day, dev in rows if user == "ALICE01" and day not in raised]
    alice_raised = [dev for user, day, dev in rows if user == "ALICE01" and day in raised]
    # 3 against a usual of 2 is within ordinary variation (< 1 unit); 8 against 2 is not
    assert max(bob) < 1.0 and max(alice_usual) < 1.0
    assert min(alice_raised) > 1.0
    # the first such day is clearly above usual (beyond the slack of 2 units): points that day
    first_day = store.query(
        "SELECT deviation_score FROM daily_evidence WHERE user = 'ALICE01' AND day = ?",
        [days[-RAISED]],
    )[0][0]
    assert first_day > 0


def test_weeks_above_usual_add_up_and_are_explained(store: Store, tmp_path: Path) -> None:
    days = _history(tmp_path, store)
    evidence = dict(
        store.query(
            "SELECT day, sustained_score FROM daily_evidence WHERE user = 'ALICE01' AND day >= ?",
            [days[-RAISED]],
        )
    )
    run = [evidence[day] for day in days[-RAISED:]]
    # the windowed CUSUM grows while the days stay above usual (it falls back as the usual
    # itself rises with them, so only the first days are checked strictly)
    assert run[0] < run[2] < run[4] and max(run) > 10
    bob = store.query(
        "SELECT max(deviation_score + sustained_score) FROM daily_evidence WHERE user = 'BOB0002'"
        " AND day >= ?",
        [days[20]],
    )[0][0]
    assert bob == 0
    explanation = explain_user(store, "ALICE01", days[-RAISED + 4])
    first = explanation.deviations[0]
    assert first.feature == "usb_connects" and first.value == 8
    # by the fifth day the usual has started to absorb the new rate (one unit and a half
    # above it, under the day's own slack of 2), but the run keeps adding
    assert first.days_above >= 5 and first.sustained_points > 0
    assert "removable-media connects: 8; own usual" in first.text
    assert "of the last 10 active days above usual" in first.text
