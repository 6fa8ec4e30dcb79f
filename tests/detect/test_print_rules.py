"""The print rules (detect/rules/print.yaml) on hand-written print events with a registry."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from molehunt.detect import list_rules
from molehunt.explain import explain_user
from molehunt.store import Store
from tests.detect.handwritten import TARGET, assert_hits, build

# ALICE01 is cleared SECRET for Project 1 only; plan.doc is hers, other.doc is not.
CONTEXT = {
    "documents.csv": "name,classification,compartments\n"
    "plan.doc,SECRET,Project 1\nother.doc,SECRET,Project 2\n",
    "clearances.csv": "user,level,compartments,priority\n"
    "ALICE01,SECRET,Project 1,normal\nBOB0002,SECRET,Project 1,normal\n",
}
PRINT_RULES = {rule.id for rule in list_rules() if "print" in rule.tags}


def _day(offset: int) -> date:
    return TARGET + timedelta(days=offset)


def _print(
    event_id: str, document: str, pages: int, day: date | None = None, clock: str = "12:00:00"
) -> dict[str, Any]:
    """ALICE01 prints `document` (docs/events.md: host = printer, attachment_count = pages)."""
    return {
        "event_id": event_id,
        "time": clock if day is None else f"{day.isoformat()}T{clock}Z",
        "channel": "print",
        "action": "print",
        "host": "PRN-LAB-1",
        "object": document,
        "attachment_count": pages,
        "content": "PC-1",
    }


def _logon(event_id: str, day: date) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "time": f"{day.isoformat()}T09:00:00Z",
        "channel": "logon",
        "action": "logon",
        "host": "PC-1",
    }


def _notice(day: date) -> dict[str, str]:
    return {
        "hr_events.csv": "user,kind,date,detail\n"
        f"ALICE01,resignation_notice,{day.strftime('%m/%d/%Y')},\n"
    }


# rule -> (events, context files added to CONTEXT, {hit day: evidence ids})
CASES: dict[str, tuple[list[dict[str, Any]], dict[str, str], dict[date, list[str]]]] = {
    # Project 2 is not hers; the application prefix is dropped before the registry lookup
    "classified-printed-outside-need-to-know": (
        [_print("p1", "Microsoft Word - other.doc", 3), _print("p2", "plan.doc", 2)],
        {},
        {TARGET: ["p1", "p2"]},
    ),
    # the evening job is the evidence; the noon one is not after hours
    "classified-print-after-hours-unusual": (
        [_print("p1", "plan.doc", 3, clock="21:00:00"), _print("p2", "plan.doc", 2)],
        {},
        {TARGET: ["p1"]},
    ),
    # she never printed before: 60 pages with two classified jobs are far above her usual
    "classified-print-surge": (
        [_print("p1", "plan.doc", 30), _print("p2", "plan.doc", 30)],
        {},
        {TARGET: ["p1", "p2"]},
    ),
    # 80 pages ten days before the notice on TARGET; the next active day does not hit again
    "print-surge-before-notice": (
        [_print("p1", "notes.txt", 80, _day(-10)), _logon("l1", TARGET), _logon("l2", _day(1))],
        _notice(TARGET),
        {TARGET: ["p1"]},
    ),
    "print-surge-while-departing": (
        [_print("p1", "notes.txt", 40)],
        _notice(_day(-3)),
        {TARGET: ["p1"]},
    ),
    # ten more active days make 31; the first Project 1 print hits, the second does not
    "first-compartment-printed": (
        [_logon(f"l{n}", _day(n)) for n in range(10)]
        + [_print("p1", "plan.doc", 2, _day(10)), _print("p2", "plan.doc", 2, _day(11))],
        {},
        {_day(10): ["p1"]},
    ),
    "pages-printed-surge": (
        [_print("p1", "notes.txt", 60)],
        {},
        {TARGET: ["p1"]},
    ),
}


def test_every_print_rule_has_a_case() -> None:
    assert set(CASES) == PRINT_RULES


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_print_rule_hits_exactly_these_days_with_the_printed_documents(
    store: Store, tmp_path: Path, rule_id: str
) -> None:
    events, context, expected = CASES[rule_id]
    build(store, tmp_path, events, {**CONTEXT, **context})
    assert_hits(store, rule_id, expected)


def test_no_print_rule_hits_without_print_events(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path, [_logon("l1", TARGET)], {**CONTEXT, **_notice(TARGET)})
    hits = store.query("SELECT DISTINCT rule_id FROM rule_hits")
    assert not {row[0] for row in hits} & PRINT_RULES


def test_explanation_names_printed_classified_documents(store: Store, tmp_path: Path) -> None:
    events = [_print("p1", "Microsoft Word - other.doc", 3), _print("p2", "plan.doc", 2)]
    build(store, tmp_path, events, CONTEXT)
    explanation = explain_user(store, "ALICE01", TARGET)
    assert "printed 1 SECRET document of Project 2 (not cleared for Project 2)" in (
        explanation.classified_text
    )
    finding = next(
        f for f in explanation.findings if f.rule_id == "classified-printed-outside-need-to-know"
    )
    assert [event.object for event in finding.evidence] == [
        "Microsoft Word - other.doc",
        "plan.doc",
    ]
    violations = store.query(
        "SELECT need_to_know_violations, printed_outside_need_to_know, classified_printed "
        "FROM context_daily WHERE user = 'ALICE01' AND day = ?",
        [TARGET],
    )
    assert violations == [(1, 1, 2)]
