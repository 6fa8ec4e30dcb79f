"""Built-in context rules on hand-written events with a document registry (and HR records)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from molehunt.detect import list_rules
from molehunt.explain import rule_evidence
from molehunt.store import Store
from tests.detect.handwritten import TARGET, assert_hits, build

CONTEXT = {
    "documents.csv": "name,classification,compartments\n"
    "plan.doc,SECRET,Project 1\nother.doc,SECRET,Project 2\n",
    "clearances.csv": "user,level,compartments,priority\n"
    "ALICE01,SECRET,Project 1,normal\nBOB0002,SECRET,Project 1,normal\n",
}


def _day(offset: int) -> date:
    """The day `offset` days after TARGET (before it when negative)."""
    return TARGET + timedelta(days=offset)


def _at(clock: str, day: date | None) -> str:
    """`clock` on TARGET, or on `day` as a full timestamp."""
    return clock if day is None else f"{day.isoformat()}T{clock}Z"


def _mdy(day: date) -> str:
    """A context file's date."""
    return day.strftime("%m/%d/%Y")


def _mail(
    event_id: str, clock: str, to: str, attachment: str, day: date | None = None
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "time": _at(clock, day),
        "channel": "email",
        "action": "send",
        "host": "PC-1",
        "object": to,
        "sender": "ALICE01@dtaa.com",
        "attachment_names": attachment,
    }


def _copy(
    event_id: str, name: str, day: date | None = None, user: str = "ALICE01"
) -> dict[str, Any]:
    """`user` copies `name` to removable media at 12:00 on TARGET or `day`."""
    host = "PC-1" if user == "ALICE01" else "PC-2"
    return {
        "event_id": event_id,
        "time": _at("12:00:00", day),
        "user": user,
        "channel": "file",
        "action": "copy",
        "host": host,
        "object": f"R:\\{name}",
        "removable": "to",
    }


def _logon(event_id: str) -> dict[str, Any]:
    """ALICE01 logs on to PC-1 at 09:00 on TARGET."""
    return {
        "event_id": event_id,
        "time": "09:00:00",
        "channel": "logon",
        "action": "logon",
        "host": "PC-1",
    }


CASES = {
    # the SECRET plan to her own private address: both this rule and "mailed out" hit
    "classified-mailed-to-own-private-address": (
        [_mail("m1", "12:00:00", "alice.smith77@gmail.com", "C:\\docs\\plan.doc")],
        ["m1"],
    ),
    "classified-emailed-out": (
        [_mail("m1", "12:00:00", "partner@example.org", "C:\\docs\\plan.doc")],
        [],
    ),
    "classified-to-removable": (
        [
            {
                "event_id": "f1",
                "time": "12:00:00",
                "channel": "file",
                "action": "copy",
                "host": "PC-1",
                "object": "R:\\plan.doc",
                "removable": "to",
            }
        ],
        [],
    ),
    "need-to-know-violation": (
        [
            {
                "event_id": "f1",
                "time": "12:00:00",
                "channel": "file",
                "action": "open",
                "host": "PC-1",
                "object": "C:\\shared\\other.doc",
            }
        ],
        [],
    ),
    "classified-uploaded": (
        [
            {
                "event_id": "h1",
                "time": "12:00:00",
                "channel": "http",
                "action": "upload",
                "host": "PC-1",
                "object": "http://example.org/upload/plan.doc",
            }
        ],
        [],
    ),
}

# days (offsets from TARGET) of classified moves for the "unusual for person" rules
UNUSUAL_DAYS = (-60, -5, 0, 1)

# Cases with events or hits on other days than TARGET:
# rule -> (events, context files added to CONTEXT, {hit day: evidence ids})
HISTORY = {
    # one move 60 days before TARGET (outside the window, and ALICE01's first active day); 19
    # prior active days 5 days before TARGET: too few; 22 on TARGET: a hit (one other day in
    # the last 60); the day after: a third day in 60, no longer unusual
    "classified-removable-unusual-for-person": (
        [_copy(f"f{n}", "plan.doc", _day(offset)) for n, offset in enumerate(UNUSUAL_DAYS)],
        {},
        {TARGET: []},
    ),
    "classified-emailed-unusual-for-person": (
        [
            _mail(f"m{n}", "12:00:00", "partner@example.org", "C:\\docs\\plan.doc", _day(offset))
            for n, offset in enumerate(UNUSUAL_DAYS)
        ],
        {},
        {TARGET: []},
    ),
    # both give notice on TARGET; ALICE01 copied the plan 89 days before (inside the 90-day
    # lookback), BOB0002 90 days before (outside)
    "notice-day-lookback": (
        [
            _copy("f1", "plan.doc", _day(-89)),
            _copy("f2", "plan.doc", _day(-90), user="BOB0002"),
            _logon("l1"),
        ],
        {
            "hr_events.csv": "user,kind,date,detail\n"
            f"ALICE01,resignation_notice,{_mdy(TARGET)},\n"
            f"BOB0002,resignation_notice,{_mdy(TARGET)},\n"
        },
        {TARGET: []},
    ),
    # the last working day is the day before TARGET: its normal activity is not after departure
    "activity-after-departure": (
        [_logon("l1")],
        {
            "hr_events.csv": "user,kind,date,detail\n"
            f"ALICE01,resignation_notice,{_mdy(_day(-14))},\n"
            f"ALICE01,last_working_day,{_mdy(_day(-1))},\n"
        },
        {TARGET: []},
    ),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_classified_rule_hits_only_the_target_day(
    store: Store, tmp_path: Path, rule_id: str
) -> None:
    events, expected = CASES[rule_id]
    build(store, tmp_path, events, context=CONTEXT)
    hits = store.query("SELECT user, day FROM rule_hits WHERE rule_id = ?", [rule_id])
    assert hits == [("ALICE01", TARGET)]
    rule = next(rule for rule in list_rules() if rule.id == rule_id)
    evidence = rule_evidence(store, rule, "ALICE01", TARGET)
    assert sorted(event.event_id for event in evidence) == expected


@pytest.mark.parametrize("rule_id", sorted(HISTORY))
def test_context_rule_hits_exactly_these_days(store: Store, tmp_path: Path, rule_id: str) -> None:
    events, context, expected = HISTORY[rule_id]
    build(store, tmp_path, events, context={**CONTEXT, **context})
    assert_hits(store, rule_id, expected)


def test_mail_to_a_partner_is_not_mail_to_oneself(store: Store, tmp_path: Path) -> None:
    events, _ = CASES["classified-emailed-out"]
    build(store, tmp_path, events, context=CONTEXT)
    rules = {row[0] for row in store.query("SELECT rule_id FROM rule_hits")}
    assert "classified-emailed-out" in rules
    assert "classified-mailed-to-own-private-address" not in rules
