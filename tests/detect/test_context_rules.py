"""Built-in classified-material rules on hand-written events with a document registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from molehunt.detect import list_rules
from molehunt.explain import rule_evidence
from molehunt.store import Store
from tests.detect.handwritten import TARGET, build

CONTEXT = {
    "documents.csv": "name,classification,compartments\n"
    "plan.doc,SECRET,Project 1\nother.doc,SECRET,Project 2\n",
    "clearances.csv": "user,level,compartments,priority\n"
    "ALICE01,SECRET,Project 1,normal\nBOB0002,SECRET,Project 1,normal\n",
}


def _mail(event_id: str, clock: str, to: str, attachment: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "time": clock,
        "channel": "email",
        "action": "send",
        "host": "PC-1",
        "object": to,
        "sender": "ALICE01@dtaa.com",
        "attachment_names": attachment,
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


def test_mail_to_a_partner_is_not_mail_to_oneself(store: Store, tmp_path: Path) -> None:
    events, _ = CASES["classified-emailed-out"]
    build(store, tmp_path, events, context=CONTEXT)
    rules = {row[0] for row in store.query("SELECT rule_id FROM rule_hits")}
    assert "classified-emailed-out" in rules
    assert "classified-mailed-to-own-private-address" not in rules
