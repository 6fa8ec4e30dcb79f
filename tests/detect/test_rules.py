"""Every built-in behavioural rule on hand-written events: which days hit, which events it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from molehunt.detect import list_rules
from molehunt.explain import rule_evidence
from molehunt.store import Store
from tests.detect.handwritten import TARGET, build


def _e(event_id: str, clock: str, channel: str, action: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "time": clock,
        "channel": channel,
        "action": action,
        "host": fields.pop("host", "PC-1"),
        **fields,
    }


CASES = {
    "first-after-hours-removable-use": [
        _e("d1", "22:00:00", "device", "connect", object="R:\\"),
        _e("f1", "22:01:00", "file", "copy", object="C:\\a\\b.doc", removable="to"),
    ],
    "leak-site-upload": [
        _e("h1", "12:00:00", "http", "upload", object="https://wikileaks.org/u/x")
    ],
    "keylogger-download": [
        _e("h1", "12:00:00", "http", "download", object="http://www.refog.com/keylogger.exe")
    ],
    "decoy-file-touched": [_e("f1", "12:00:00", "file", "open", object="C:\\secret\\plans.doc")],
    "cloud-upload-surge": [
        _e(f"h{i}", f"12:0{i}:00", "http", "upload", object=f"https://www.dropbox.com/h/{i}.doc")
        for i in range(1, 5)
    ],
    "executable-to-removable": [
        _e("f1", "12:00:00", "file", "write", object="R:\\tool.exe", removable="to")
    ],
    "supervisor-pc-logon": [_e("l1", "20:30:00", "logon", "logon", host="PC-2")],
    "other-pc-then-private-mail": [
        _e("l1", "12:00:00", "logon", "logon", host="PC-2"),
        _e(
            "m1",
            "12:10:00",
            "email",
            "send",
            object="alice.smith77@gmail.com",
            sender="ALICE01@dtaa.com",
            attachment_count=2,
        ),
    ],
    "mass-mail": [
        _e(
            "m1",
            "12:00:00",
            "email",
            "send",
            object=";".join(f"p{i}@dtaa.com" for i in range(25)),
            sender="ALICE01@dtaa.com",
        )
    ],
}
EXPECTED = {
    "first-after-hours-removable-use": ["d1"],
    "leak-site-upload": ["h1"],
    "keylogger-download": ["h1"],
    "decoy-file-touched": ["f1"],
    "cloud-upload-surge": ["h1", "h2", "h3", "h4"],
    "executable-to-removable": ["f1"],
    "supervisor-pc-logon": ["l1"],
    "other-pc-then-private-mail": ["l1", "m1"],
    "mass-mail": ["m1"],
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_hits_only_the_target_day_with_its_events(
    store: Store, tmp_path: Path, rule_id: str
) -> None:
    build(store, tmp_path, CASES[rule_id])
    hits = store.query("SELECT user, day FROM rule_hits WHERE rule_id = ?", [rule_id])
    assert hits == [("ALICE01", TARGET)]
    rule = next(rule for rule in list_rules() if rule.id == rule_id)
    evidence = rule_evidence(store, rule, "ALICE01", TARGET)
    assert sorted(event.event_id for event in evidence) == EXPECTED[rule_id]


def test_normal_days_hit_no_rule(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path, [])
    assert store.query("SELECT rule_id, user, day FROM rule_hits") == []


def test_every_rule_with_a_case_is_a_builtin() -> None:
    assert set(CASES) <= {rule.id for rule in list_rules()}
