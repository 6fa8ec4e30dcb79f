"""Reference tables a nightly run refreshes only where they change.

What must hold for a user: a nightly detect recomputes PC ownership (`host_week`) only for the
weeks it scores, and the owner of a PC in those weeks still counts every logon-day stored
before them, logons that arrived late (dated in weeks already scored) included; weeks already
scored keep the owners their days were scored with. The organisation per month (`org_month`)
follows every change of the LDAP snapshots and is not rebuilt while they stay the same.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from molehunt.features.enrich import refresh_reference_tables
from molehunt.store import Store
from tests.context.conftest import add_events

MONDAY = datetime.date(2010, 1, 4)


def _logon(user: str, host: str, day: datetime.date) -> dict[str, Any]:
    return {
        "time": f"{day.isoformat()}T09:00:00",
        "user": user,
        "channel": "logon",
        "action": "logon",
        "host": host,
    }


def _days(first: int, count: int) -> list[datetime.date]:
    return [MONDAY + datetime.timedelta(days=first + n) for n in range(count)]


# Week 1: AAA on PC-1 four days; week 2: BBB on PC-1 five days; week 3 and 4: a logon each.
ON_TIME = (
    [_logon("AAA0001", "PC-1", d) for d in _days(0, 4)]
    + [_logon("BBB0002", "PC-1", d) for d in _days(7, 5)]
    + [_logon("AAA0001", "PC-2", d) for d in _days(14, 1)]
)
# Arriving after week 3 was scored: AAA's week-2 logons on PC-1 (3 days), BBB's week-1 ones
# (5 days), and week 4's first logon.
LATE = (
    [_logon("AAA0001", "PC-1", d) for d in _days(8, 3)]
    + [_logon("BBB0002", "PC-1", d) for d in _days(0, 5)]
    + [_logon("AAA0001", "PC-2", d) for d in _days(21, 1)]
)


def _refresh(store: Store, since: datetime.date | None, until: datetime.date) -> None:
    with store.transaction() as connection:
        refresh_reference_tables(connection, since, until)


def _owners(store: Store) -> dict[tuple[datetime.date, str], str]:
    rows = store.query("SELECT week, host, owner FROM host_week")
    return {(week, host): owner for week, host, owner in rows}


def test_pc_owners_of_new_weeks_count_late_logons_and_earlier_weeks_keep_theirs(
    tmp_path: Path,
) -> None:
    week = {n: MONDAY + datetime.timedelta(days=7 * (n - 1)) for n in range(1, 6)}
    with Store.open(tmp_path / "nightly") as nightly, Store.open(tmp_path / "whole") as whole:
        add_events(nightly, tmp_path / "on-time", ON_TIME)
        _refresh(nightly, None, week[3])
        before = _owners(nightly)
        # Week 2: AAA's 4 days of week 1; week 3: BBB's 5 days of week 2 outweigh AAA's 4.
        assert before[(week[2], "PC-1")] == "AAA0001"
        assert before[(week[3], "PC-1")] == "BBB0002"

        add_events(nightly, tmp_path / "late", LATE, name="late")
        _refresh(nightly, week[3], week[4])
        after = _owners(nightly)

        add_events(whole, tmp_path / "all", ON_TIME + LATE)
        _refresh(whole, None, week[4])
        every_week = _owners(whole)

    # Weeks from the one holding the first day computed on: as a computation of every week
    # with everything stored now.
    recomputed = {key: owner for key, owner in every_week.items() if key[0] >= week[3]}
    assert {key: owner for key, owner in after.items() if key[0] >= week[3]} == recomputed
    assert recomputed[(week[3], "PC-1")] == "BBB0002"  # 10 days (5 late) against AAA's 7
    # Earlier weeks keep what their days were scored with; the late week-1 logons of BBB
    # would make him week 2's owner.
    assert after[(week[2], "PC-1")] == "AAA0001"
    assert every_week[(week[2], "PC-1")] == "BBB0002"


def _person(month: str, user: str, department: str) -> list[Any]:
    return [
        month,
        user,
        user.lower(),
        f"{user.lower()}@example.org",
        "Engineer",
        None,
        "1",
        "Lab",
        department,
        None,
        None,
        1,
        1,
    ]


def test_org_months_follow_the_ldap_snapshots_and_are_kept_while_they_do_not_change(
    tmp_path: Path,
) -> None:
    day = MONDAY + datetime.timedelta(days=40)
    with Store.open(tmp_path / "ws") as store:
        with store.transaction() as connection:
            connection.execute(
                f"INSERT INTO people VALUES ({', '.join(['?'] * 13)})",
                _person("2010-01", "AAA0001", "Optics"),
            )
        _refresh(store, None, day)
        groups = "SELECT peer_group FROM org_month WHERE month = '2010-02' AND user_id = 'AAA0001'"
        assert store.query(groups) == [("Lab/Optics",)]
        # Unchanged snapshots: the table is kept as it is (a row taken out stays out).
        with store.transaction() as connection:
            connection.execute("DELETE FROM org_month WHERE month = '2010-03'")
        _refresh(store, day, day + datetime.timedelta(days=1))
        assert store.query("SELECT count(*) FROM org_month WHERE month = '2010-03'") == [(0,)]
        # A new snapshot (or a changed row) rebuilds it.
        with store.transaction() as connection:
            connection.execute(
                f"INSERT INTO people VALUES ({', '.join(['?'] * 13)})",
                _person("2010-02", "AAA0001", "Lasers"),
            )
        _refresh(store, day, day + datetime.timedelta(days=1))
        assert store.query(groups) == [("Lab/Optics",)]
        assert store.query(groups.replace("2010-02", "2010-03")) == [("Lab/Lasers",)]
        with store.transaction() as connection:
            connection.execute("UPDATE people SET department = 'Optics' WHERE month = '2010-02'")
        _refresh(store, day, day + datetime.timedelta(days=1))
        assert store.query(groups.replace("2010-02", "2010-03")) == [("Lab/Optics",)]
