"""A tiny hand-written organisation: four weeks of normal days, then chosen events (on TARGET
unless dated otherwise)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from molehunt.context import ingest_context
from molehunt.detect import list_rules
from molehunt.explain import rule_evidence
from molehunt.ingest import ingest_events
from molehunt.score import run_detection
from molehunt.store import Store

START = date(2010, 2, 1)
# a Tuesday after 21 normal workdays (rules reading `prior_days >= 20` can hit on it)
TARGET = START + timedelta(days=29)
PEOPLE = (("ALICE01", "Alice Ann Smith", "BOB0002"), ("BOB0002", "Bob Ben Jones", None))


def _event(day: date, clock: str, user: str, **fields: Any) -> dict[str, Any]:
    return {"time": f"{day.isoformat()}T{clock}Z", "user": user, **fields}


def normal_days() -> list[dict[str, Any]]:
    """Workdays before TARGET: each person logs on to their PC, mails a colleague, reads news."""
    events = []
    day = START
    while day < TARGET:
        if day.weekday() < 5:
            for number, (user, _, _) in enumerate(PEOPLE):
                host = f"PC-{number + 1}"
                events += [
                    _event(day, "09:00:00", user, host=host, channel="logon", action="logon"),
                    _event(
                        day,
                        "10:00:00",
                        user,
                        host=host,
                        channel="http",
                        action="visit",
                        object="http://cnn.com/a",
                    ),
                    _event(
                        day,
                        "11:00:00",
                        user,
                        host=host,
                        channel="email",
                        action="send",
                        object="x.y@dtaa.com",
                        sender=f"{user}@dtaa.com",
                    ),
                    _event(day, "17:00:00", user, host=host, channel="logon", action="logoff"),
                ]
        day += timedelta(days=1)
    return events


def build(
    store: Store,
    tmp: Path,
    target_events: list[dict[str, Any]],
    context: dict[str, str] | None = None,
    colleagues: tuple[str, ...] = (),
) -> None:
    """Ingest the normal days plus TARGET's events, LDAP rows, a decoy and the `context` files
    (name -> text, as `molehunt ingest context` reads them), then detect.

    An event's `time` is a clock on TARGET, or a full ISO timestamp (`2010-02-15T12:00:00Z`)
    for another day; `user` defaults to ALICE01. `colleagues` are further user ids in LDAP, in
    ALICE01's peer group (no normal days: give them events yourself)."""
    events = normal_days() + [
        _event(TARGET, "08:00:00", "BOB0002", host="PC-2", channel="logon", action="logon")
    ]
    events += [
        {
            **event,
            "time": event["time"]
            if "T" in event["time"]
            else f"{TARGET.isoformat()}T{event['time']}Z",
            "user": event.get("user", "ALICE01"),
        }
        for event in target_events
    ]
    path = tmp / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    ingest_events(store, [path])
    with store.transaction() as connection:
        staff = [*PEOPLE, *((user, f"Carl {user} Doe", "BOB0002") for user in colleagues)]
        for user, name, boss in staff:
            boss_name = next((n for u, n, _ in PEOPLE if u == boss), None)
            connection.execute(
                "INSERT INTO people VALUES ('2010-01', ?, ?, ?, 'Engineer', NULL, '1', 'R&D', "
                "'Lab', 'T1', ?, 0, 1)",
                [user, name, name.replace(" ", ".") + "@dtaa.com", boss_name],
            )
        connection.execute("INSERT INTO decoys VALUES ('C:\\secret\\plans.doc', 'PC-9', 0, 1)")
    if context is not None:
        folder = tmp / "context"
        folder.mkdir()
        for name, text in context.items():
            (folder / name).write_text(text, encoding="utf-8")
        ingest_context(store, folder)
    run_detection(store)


def assert_hits(store: Store, rule_id: str, expected: dict[date, list[str]]) -> None:
    """Assert the rule hits ALICE01 on exactly the days of `expected`, each with the evidence
    event ids listed (sorted)."""
    hits = store.query("SELECT user, day FROM rule_hits WHERE rule_id = ? ORDER BY day", [rule_id])
    assert hits == [("ALICE01", day) for day in sorted(expected)]
    rule = next(rule for rule in list_rules() if rule.id == rule_id)
    for day, ids in expected.items():
        evidence = rule_evidence(store, rule, "ALICE01", day)
        assert (day, sorted(event.event_id for event in evidence)) == (day, ids)
