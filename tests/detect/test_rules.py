"""Every built-in behavioural rule on hand-written events: which days hit, which events it shows."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from molehunt.detect import list_rules
from molehunt.explain import rule_evidence
from molehunt.store import Store
from tests.detect.handwritten import TARGET, assert_hits, build
from tests.detect.test_context_rules import CASES as CONTEXT_CASES
from tests.detect.test_context_rules import HISTORY as CONTEXT_HISTORY
from tests.detect.test_print_rules import CASES as PRINT_CASES

# built-in rules whose hand-written cases live elsewhere
COVERED_ELSEWHERE = {
    "job-search-rising": "tests/features/test_trend.py",
    "job-search-rising-then-removable-copy": "tests/features/test_trend.py",
    "job-search-rising-then-removable-use": "tests/features/test_trend.py",
    "undeclared-travel-after-departure": "tests/score/test_leaver_case.py",
    **dict.fromkeys(PRINT_CASES, "tests/detect/test_print_rules.py"),
}


def _day(offset: int) -> date:
    """The day `offset` days after TARGET (before it when negative)."""
    return TARGET + timedelta(days=offset)


def _e(
    event_id: str,
    clock: str,
    channel: str,
    action: str,
    day: date | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An event of ALICE01 (unless `user=`) on her PC-1 (unless `host=`), at `clock` on TARGET
    or on `day`."""
    return {
        "event_id": event_id,
        "time": clock if day is None else f"{day.isoformat()}T{clock}Z",
        "channel": channel,
        "action": action,
        "host": fields.pop("host", "PC-1"),
        **fields,
    }


def _mail(
    event_id: str,
    clock: str,
    to: str,
    attachments: int = 0,
    day: date | None = None,
    host: str = "PC-1",
) -> dict[str, Any]:
    """A mail ALICE01 sends from `host` to `to` with `attachments` attachments."""
    return _e(
        event_id,
        clock,
        "email",
        "send",
        day,
        host=host,
        object=to,
        sender="ALICE01@dtaa.com",
        attachment_count=attachments,
    )


def _copies(prefix: str, count: int, day: date | None = None) -> list[dict[str, Any]]:
    """`count` files ALICE01 copies to removable media, ids `<prefix>1`, `<prefix>2`, ..."""
    return [
        _e(
            f"{prefix}{i}",
            f"15:{i:02d}:00",
            "file",
            "copy",
            day,
            object=f"R:\\{i}.doc",
            removable="to",
        )
        for i in range(1, count + 1)
    ]


def _job_visits(prefix: str, count: int, day: date | None = None) -> list[dict[str, Any]]:
    """`count` requests of ALICE01 to a job site, ids `<prefix>1`, `<prefix>2`, ..."""
    return [
        _e(f"{prefix}{i}", f"13:{i:02d}:00", "http", "visit", day, object=f"http://monster.com/{i}")
        for i in range(1, count + 1)
    ]


# LDAP colleagues of ALICE01 in her peer group; only removable-copy-above-peers gives them events
COLLEAGUES = tuple(f"CLG{n:04d}" for n in range(14))
CASES = {
    # an evening with a drive in and a leak-site visit (the CERT r4.2 scenario-1 act)
    "leak-site-visit-after-hours-with-removable": [
        _e("l1", "21:00:00", "logon", "logon"),
        _e("d1", "21:05:00", "device", "connect"),
        _e("h1", "21:10:00", "http", "visit", object="http://wikileaks.org/wiki/x"),
    ],
    "leak-site-visit": [
        _e("h1", "12:00:00", "http", "visit", object="https://wikileaks.org/wiki/x"),
        _e("h2", "12:01:00", "http", "visit", object="http://cnn.com/b"),
    ],
    # a keylogger site, then a program written to a thumb drive (CERT scenario 3)
    "hacking-tool-to-removable": [
        _e("h1", "11:00:00", "http", "visit", object="http://www.refog.com/x/a.aspx"),
        _e("f1", "12:00:00", "file", "write", object="R:\\tool.exe", removable="to"),
        _e("f2", "12:01:00", "file", "write", object="R:\\notes.txt", removable="to"),
    ],
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
        _mail("m1", "12:10:00", "alice.smith77@gmail.com", 2, host="PC-2"),
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
    "first-removable-copy": [
        _e("d1", "12:00:00", "device", "connect", object="R:\\"),
        _e("f1", "12:01:00", "file", "copy", object="R:\\b.doc", removable="to"),
        _e("f2", "12:02:00", "file", "open", object="C:\\a\\c.doc"),
    ],
    "removable-copy-surge": [
        *_copies("f", 4),
        _e("f5", "16:00:00", "file", "copy", object="C:\\a\\5.doc", removable="from"),
    ],
    # a peer z-score counts the person too: with k people active in the group that day it stays
    # below sqrt(k - 1), so "> 3" needs 11 or more (here ALICE01, BOB0002 and 14 colleagues)
    "removable-copy-above-peers": [
        *_copies("f", 10),
        *(
            _e(f"c{n}", "09:00:00", "logon", "logon", host=f"PC-C{n}", user=user)
            for n, user in enumerate(COLLEAGUES)
        ),
    ],
    "first-after-hours-logon": [
        _e("l0", "09:00:00", "logon", "logon"),
        _e("l1", "21:00:00", "logon", "logon"),
    ],
    "first-leak-site-visit": [
        _e("h1", "12:00:00", "http", "visit", object="https://wikileaks.org/wiki/x"),
        _e("h2", "12:01:00", "http", "visit", object="http://cnn.com/b"),
    ],
    # CERT r4.2 / r5.2: the keylogger "download" is a visit to a .aspx page
    "first-hacking-site-visit": [
        _e("h1", "12:00:00", "http", "visit", object="http://www.dailykeylogger.com/x/a.aspx"),
        _e("h2", "12:01:00", "http", "visit", object="http://cnn.com/b"),
    ],
    "first-cloud-upload": [
        _e("h1", "12:00:00", "http", "visit", object="https://www.dropbox.com/home"),
        _e("h2", "12:01:00", "http", "upload", object="https://www.dropbox.com/u/a.doc"),
    ],
    "first-file-sharing-visit": [
        _e("h1", "12:00:00", "http", "visit", object="http://www.mediafire.com/file/x"),
    ],
    "job-search-surge": _job_visits("h", 5),
    "first-other-pc-logon": [_e("l1", "12:00:00", "logon", "logon", host="PC-2")],
    "private-mail-attachments-surge": [
        _mail("m1", "12:00:00", "pal@gmail.com", attachments=4),
        _mail("m2", "12:01:00", "x.y@dtaa.com", attachments=3),
    ],
    "first-mail-to-own-private-address": [
        _mail("m1", "12:00:00", "alice.smith77@gmail.com"),
        _mail("m2", "12:01:00", "bob.jones@gmail.com"),
    ],
}
EXPECTED = {
    "leak-site-visit-after-hours-with-removable": ["d1", "h1"],
    "leak-site-visit": ["h1"],
    "hacking-tool-to-removable": ["f1", "h1"],
    "first-after-hours-removable-use": ["d1"],
    "leak-site-upload": ["h1"],
    "keylogger-download": ["h1"],
    "decoy-file-touched": ["f1"],
    "cloud-upload-surge": ["h1", "h2", "h3", "h4"],
    "executable-to-removable": ["f1"],
    "supervisor-pc-logon": ["l1"],
    "other-pc-then-private-mail": ["m1"],
    "mass-mail": ["m1"],
    "first-removable-copy": ["d1", "f1"],
    "removable-copy-surge": ["f1", "f2", "f3", "f4"],
    "removable-copy-above-peers": sorted(f"f{i}" for i in range(1, 11)),
    "first-after-hours-logon": ["l1"],
    "first-leak-site-visit": ["h1"],
    "first-hacking-site-visit": ["h1"],
    "first-cloud-upload": ["h2"],
    "first-file-sharing-visit": ["h1"],
    "job-search-surge": ["h1", "h2", "h3", "h4", "h5"],
    "first-other-pc-logon": ["l1"],
    "private-mail-attachments-surge": ["m1"],
    "first-mail-to-own-private-address": ["m1"],
}

# Cases with events or hits on other days than TARGET: rule -> (events, {hit day: evidence ids}).
# Where a rule reads an N-day window, events N - 1 and N days apart check the window's length.
HISTORY = {
    # copies on 6 of the 21 days up to TARGET (the one 21 days before is outside the window)
    "sustained-removable-copying": (
        [
            *_copies("o", 1, _day(-21)),
            *_copies("p", 1, _day(-20)),
            *_copies("q", 1, _day(-8)),
            *_copies("r", 1, _day(-7)),
            *_copies("s", 1, _day(-4)),
            *_copies("u", 1, _day(-1)),
            *_copies("t", 4),
        ],
        {TARGET: ["p1", "q1", "r1", "s1", "t1", "t2", "t3", "t4", "u1"]},
    ),
    # a job-site surge on the first day after the warm-up, then copies 15, 44 and 45 days later
    "job-search-then-removable-copy": (
        [
            *_job_visits("j", 5, _day(-15)),
            *_copies("t", 2),
            *_copies("x", 3, _day(29)),
            *_copies("y", 3, _day(30)),
        ],
        {
            TARGET: ["j1", "j2", "j3", "j4", "j5", "t1", "t2"],
            _day(29): ["j1", "j2", "j3", "j4", "j5", "x1", "x2", "x3"],
        },
    ),
    # the first visit hits, the next day's does not
    "job-search-started": (
        [*_job_visits("a", 1, _day(-1)), *_job_visits("b", 1)],
        {_day(-1): ["a1"]},
    ),
    # a first visit on the first day after the warm-up (10 prior active days), then visits
    # 59 and 60 days after it
    "job-search-continuing": (
        [
            *_job_visits("a", 1, _day(-15)),
            *_job_visits("b", 1, _day(-6)),
            *_job_visits("t", 1),
            *_job_visits("x", 1, _day(44)),
            *_job_visits("y", 1, _day(45)),
        ],
        {
            _day(-15): ["a1"],
            _day(-6): ["a1", "b1"],
            TARGET: ["a1", "b1", "t1"],
            _day(44): ["a1", "b1", "t1", "x1"],
        },
    ),
    # copies 15, 89 and 90 days after the first job-site visit; each condition shows the events
    # of its own window: the visit (90 days) and the day's copies, not TARGET's
    "job-search-started-then-removable-copy": (
        [
            *_job_visits("a", 1, _day(-15)),
            *_copies("t", 2),
            *_copies("x", 3, _day(74)),
            *_copies("y", 3, _day(75)),
        ],
        {TARGET: ["a1", "t1", "t2"], _day(74): ["a1", "x1", "x2", "x3"]},
    ),
    # attachments to a webmail address on 4 of the 28 days up to TARGET (2 + 2 + 2 + 4; the mail
    # 28 days before is outside the window); 4 is above habit but no surge (z_own < 3)
    "private-mail-attachments-growing": (
        [
            _mail("o1", "12:00:00", "pal@gmail.com", 2, _day(-28)),
            _mail("p1", "12:00:00", "pal@gmail.com", 2, _day(-27)),
            _mail("q1", "12:00:00", "pal@gmail.com", 2, _day(-14)),
            _mail("r1", "12:00:00", "pal@gmail.com", 2, _day(-7)),
            _mail("t1", "12:00:00", "pal@gmail.com", 4),
            _mail("t2", "12:01:00", "x.y@dtaa.com", 3),
        ],
        {TARGET: ["p1", "q1", "r1", "t1"]},
    ),
    # a logon to a colleague's PC and, the same day, attachments mailed home from one's own PC:
    # no hit; mailed from the colleague's PC itself: a hit
    "other-pc-then-private-mail": (
        [
            _e("k1", "12:00:00", "logon", "logon", _day(-3), host="PC-2"),
            _mail("n1", "12:10:00", "alice.smith77@gmail.com", 2, _day(-3)),
            _e("l1", "12:00:00", "logon", "logon", host="PC-2"),
            _mail("m1", "12:10:00", "alice.smith77@gmail.com", 2, host="PC-2"),
        ],
        {TARGET: ["m1"]},
    ),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_hits_only_the_target_day_with_its_events(
    store: Store, tmp_path: Path, rule_id: str
) -> None:
    build(store, tmp_path, CASES[rule_id], colleagues=COLLEAGUES)
    hits = store.query("SELECT user, day FROM rule_hits WHERE rule_id = ?", [rule_id])
    assert hits == [("ALICE01", TARGET)]
    rule = next(rule for rule in list_rules() if rule.id == rule_id)
    evidence = rule_evidence(store, rule, "ALICE01", TARGET)
    assert sorted(event.event_id for event in evidence) == EXPECTED[rule_id]


@pytest.mark.parametrize("rule_id", sorted(HISTORY))
def test_rule_hits_exactly_these_days_with_their_events(
    store: Store, tmp_path: Path, rule_id: str
) -> None:
    events, expected = HISTORY[rule_id]
    build(store, tmp_path, events)
    assert_hits(store, rule_id, expected)


def test_normal_days_hit_no_rule(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path, [])
    assert store.query("SELECT rule_id, user, day FROM rule_hits") == []


def test_every_rule_with_a_case_is_a_builtin() -> None:
    cased = set(CASES) | set(HISTORY) | set(CONTEXT_CASES) | set(CONTEXT_HISTORY)
    assert cased | set(COVERED_ELSEWHERE) <= {rule.id for rule in list_rules()}
    assert set(CASES) == set(EXPECTED)


def test_every_builtin_rule_has_a_handwritten_case() -> None:
    """A new built-in rule needs a case here, in test_context_rules.py, or in COVERED_ELSEWHERE."""
    covered = set(CASES) | set(HISTORY) | set(CONTEXT_CASES) | set(CONTEXT_HISTORY)
    covered |= set(COVERED_ELSEWHERE)
    assert sorted({rule.id for rule in list_rules()} - covered) == []
