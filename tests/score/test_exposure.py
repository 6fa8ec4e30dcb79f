"""Exposure: during a departure window every drive connect and job-site visit is evidence."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from molehunt.explain import explain_user
from molehunt.ingest import ingest_events
from molehunt.score import run_detection
from molehunt.store import Store
from tests.features.workdays import workdays

SEARCH = 15  # last workdays on which ALICE01 browses job sites 12 times a day instead of once


def _history(tmp: Path, store: Store) -> list[date]:
    """Two people over 60 workdays with the same habits: two drive connects and one job-site
    visit a day. On the last SEARCH days ALICE01 searches for a job (12 visits a day); on the
    last day she connects no drive and visits no job site."""
    days = workdays(60)
    events = []
    for index, day in enumerate(days):
        for user, host in (("ALICE01", "PC-1"), ("BOB0002", "PC-2")):
            searching = user == "ALICE01" and index >= len(days) - SEARCH
            quiet = user == "ALICE01" and index == len(days) - 1
            stamp = day.isoformat()
            events.append(
                {"time": f"{stamp}T09:00:00Z", "user": user, "host": host, "channel": "logon"}
                | {"action": "logon"}
            )
            for minute in range(0 if quiet else 2):
                events.append(
                    {"time": f"{stamp}T10:{minute:02d}:00Z", "user": user, "host": host}
                    | {"channel": "device", "action": "connect"}
                )
            for minute in range(0 if quiet else 12 if searching else 1):
                events.append(
                    {"time": f"{stamp}T11:{minute:02d}:00Z", "user": user, "host": host}
                    | {"channel": "http", "action": "visit", "object": "http://monster.com/j"}
                )
    path = tmp / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    ingest_events(store, [path])
    run_detection(store)
    return days


def test_exposure_counts_in_a_departure_window_only(store: Store, tmp_path: Path) -> None:
    days = _history(tmp_path, store)
    rows = store.query("SELECT user, day, exposure_score FROM daily_evidence ORDER BY user, day")
    exposure = {(user, day): points for user, day, points in rows}
    search = days[-SEARCH:-1]
    # the same drive habit: nothing for BOB0002 ever, nor for ALICE01 before her job search
    assert all(exposure[("BOB0002", day)] == 0 for day in days)
    assert all(exposure[("ALICE01", day)] == 0 for day in days[:-SEARCH])
    # while job-site browsing is far above her usual, her connects and visits are exposure:
    # 9 x (1.5 x ln 3 + 0.5 x ln 13) = 26.4 points a day
    assert all(abs(exposure[("ALICE01", day)] - 26.37) < 0.1 for day in search[3:])
    # a day without connects or visits adds none, and earlier days' exposure is not carried
    last = days[-1]
    assert exposure[("ALICE01", last)] == 0
    total, evidence = store.query(
        "SELECT s.total, e.evidence FROM scores s JOIN daily_evidence e USING (user, day) "
        "WHERE user = 'ALICE01' AND day = ?",
        [search[-1]],
    )[0]
    assert evidence >= 26.3
    memory = store.query("SELECT total FROM scores WHERE user = 'ALICE01' AND day = ?", [last])[0][
        0
    ]
    assert memory < total - 26.3 * 0.6 + 1e-6


def test_exposure_is_explained(store: Store, tmp_path: Path) -> None:
    days = _history(tmp_path, store)
    explanation = explain_user(store, "ALICE01", days[-3])
    texts = {d.feature: d for d in explanation.deviations}
    connects = texts["usb_connects"]
    assert abs(connects.exposure_points - 9 * 1.5 * 1.0986) < 0.01
    assert "as exposure in a departure window" in connects.text
    assert explain_user(store, "BOB0002", days[-3]).deviations == []
