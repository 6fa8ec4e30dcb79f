"""What the API and the pages show, as data, under pseudonyms: queue, person, finding."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from molehunt.errors import ConfigError
from molehunt.explain import explain_user, others_mean
from molehunt.score import daily_queue
from molehunt.score.queue import resolve_day
from molehunt.serve.auth import Pseudonymizer
from molehunt.serve.cases import active_suppressions, list_cases
from molehunt.serve.errors import NotFoundError
from molehunt.serve.workbench import Workbench
from molehunt.store.database import Store

SPARK_DAYS = 30
TIMELINE_DAYS = 90
# Channel features compared with the person's own usual and their peers on the person page.
CHANNELS = (
    "logons",
    "after_hours_logons",
    "usb_connects",
    "files_to_removable",
    "file_opens",
    "emails_sent",
    "emails_external",
    "attachments_personal",
    "http_requests",
    "http_uploads",
    "job_visits",
)
MAX_DOCUMENTS = 50


class PeopleIndex:
    """Pseudonym -> user id for the people of a snapshot (rebuilt when the snapshot changes).

    Args:
        pseudonymizer: The workspace's pseudonymizer.
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer
        self._generation = -1
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()

    def user(self, store: Store, generation: int, pseudonym: str) -> str:
        """Return the user id behind a pseudonym.

        Raises:
            NotFoundError: Nobody in the workspace has that pseudonym.
        """
        with self._lock:
            if generation != self._generation:
                rows = store.query(
                    "SELECT DISTINCT user FROM scores UNION SELECT DISTINCT user_id FROM people"
                )
                self._users = {self.pseudonymizer.person(str(u)): str(u) for (u,) in rows}
                self._generation = generation
            found = self._users.get(pseudonym)
        if found is None:
            raise NotFoundError(f"no person with pseudonym {pseudonym!r}")
        return found


class AnswerCache:
    """Answers computed from one snapshot, reused while their key is unchanged.

    The key names everything an answer depends on: the snapshot generation, and for the queue
    the workbench version too (cases, verdicts, suppressions). A new snapshot is a new key.

    Args:
        size: How many answers to keep (all are dropped when full).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._answers: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Return the answer stored under `key`, computing and storing it when missing."""
        with self._lock:
            found = self._answers.get(key)
        if found is not None:
            return found
        answer = compute()
        with self._lock:
            if len(self._answers) >= self.size:
                self._answers.clear()
            self._answers[key] = answer
        return answer


def _tables(store: Store) -> set[str]:
    return {str(row[0]) for row in store.query("SELECT table_name FROM duckdb_tables()")}


def queue_data(
    store: Store, workbench: Workbench, names: Pseudonymizer, day: date | None, top: int
) -> dict[str, Any]:
    """Return the day's queue: rank, pseudonym, score, reasons, sparkline, cases, suppressions.

    A person whose rule hit is covered by a benign verdict's suppression stays in the queue
    with the suppression shown (`suppressed`): scores are never changed by a verdict.
    """
    entries = daily_queue(store, day, top)
    the_day = entries[0].day if entries else resolve_day(store, day)
    users = [entry.user for entry in entries]
    spark: dict[str, dict[date, float]] = {user: {} for user in users}
    hits: dict[str, list[str]] = {user: [] for user in users}
    if users:
        marks = ", ".join("?" for _ in users)
        for user, when, score in store.query(
            f"SELECT user, day, score FROM scores WHERE user IN ({marks}) AND day > ? AND day <= ?",
            [*users, the_day - timedelta(days=SPARK_DAYS), the_day],
        ):
            spark[user][when] = float(score)
        for user, rule_id in store.query(
            f"SELECT user, rule_id FROM rule_hits WHERE user IN ({marks}) AND day = ? "
            "ORDER BY weight DESC",
            [*users, the_day],
        ):
            hits[user].append(str(rule_id))
    suppressions = active_suppressions(workbench, the_day)
    cases: dict[str, list[int]] = {}
    for case in list_cases(workbench):
        if case.status == "open":
            cases.setdefault(case.user, []).append(case.case_id)
    days = [the_day - timedelta(days=n) for n in range(SPARK_DAYS - 1, -1, -1)]
    rows = []
    for entry in entries:
        data = entry.to_dict()
        data.pop("user")
        data["person"] = names.person(entry.user)
        data["rule_ids"] = hits[entry.user]
        data["sparkline"] = [spark[entry.user].get(d, 0.0) for d in days]
        data["cases"] = cases.get(entry.user, [])
        data["suppressed"] = [
            {"rule_id": s.rule_id, "until": s.until.isoformat(), "case": s.case_id}
            for s in suppressions.get(entry.user, [])
            if s.rule_id in hits[entry.user]
        ]
        rows.append(data)
    return {"day": the_day.isoformat(), "entries": rows}


def person_data(store: Store, names: Pseudonymizer, user: str, day: date | None) -> dict[str, Any]:
    """Return a person's page: score timeline, hour x weekday activity, channels, context."""
    the_day = resolve_day(store, day)
    first = the_day - timedelta(days=TIMELINE_DAYS - 1)
    timeline = [
        {"day": d.isoformat(), "score": float(s), "rank": int(r)}
        for d, s, r in store.query(
            "SELECT day, score, rank FROM scores WHERE user = ? AND day BETWEEN ? AND ? "
            "ORDER BY day",
            [user, first, the_day],
        )
    ]
    heat = [[0] * 24 for _ in range(7)]
    for weekday, hour, count in store.query(
        "SELECT isodow(time) - 1, hour(time), count(*) FROM events WHERE user = ? "
        "AND time >= ? AND time < ? GROUP BY ALL",
        [user, first, the_day + timedelta(days=1)],
    ):
        heat[int(weekday)][int(hour)] = int(count)
    features = store.query_dicts(
        "SELECT * FROM features WHERE user = ? AND day = ?", [user, the_day]
    )
    channels = []
    if features:
        row = features[0]
        for name in CHANNELS:
            if name in row:
                channels.append(
                    {
                        "feature": name,
                        "value": float(row[name] or 0),
                        "own_mean": row.get(f"own_mean_{name}"),
                        "peer_mean": others_mean(row, name),
                    }
                )
    return {
        "person": names.person(user),
        "day": the_day.isoformat(),
        "peer_group": features[0].get("peer_group") if features else None,
        "timeline": timeline,
        "heatmap": heat,
        "channels": channels,
        **_context(store, names, user, the_day),
    }


def _context(store: Store, names: Pseudonymizer, user: str, day: date) -> dict[str, Any]:
    tables = _tables(store)
    context: dict[str, Any] = {"clearances": [], "hr_events": [], "travel": [], "documents": []}
    if "clearances" in tables:
        context["clearances"] = [
            {"level": lv, "compartments": list(c), "priority": bool(p)}
            for lv, c, p in store.query(
                "SELECT level, compartments, priority FROM clearances WHERE user_id = ?", [user]
            )
        ]
    if "hr_events" in tables:
        context["hr_events"] = [
            {"kind": k, "day": d.isoformat()}
            for k, d in store.query(
                "SELECT kind, day FROM hr_events WHERE user_id = ? AND day <= ? ORDER BY day",
                [user, day],
            )
        ]
    if "travel" in tables:
        context["travel"] = [
            {
                "depart": d.isoformat(),
                "return": r.isoformat() if r else None,
                "countries": list(c),
                "declared": bool(dec),
            }
            for d, r, c, dec in store.query(
                "SELECT depart, return_day, countries, declared FROM travel "
                "WHERE user_id = ? AND depart <= ? ORDER BY depart",
                [user, day],
            )
        ]
    if "event_labels" in tables:
        context["documents"] = [
            {
                "time": t.isoformat(),
                "channel": ch,
                "action": a,
                "level": lv,
                "compartments": list(c),
                "document": names.text(doc),
            }
            for t, ch, a, lv, c, doc in store.query(
                "SELECT e.time, e.channel, e.action, l.level, l.compartments, l.document "
                "FROM event_labels l JOIN events e USING (source_id, source_line) "
                "WHERE e.user = ? AND l.level_rank >= 1 AND e.time < ? "
                f"ORDER BY e.time DESC LIMIT {MAX_DOCUMENTS}",
                [user, day + timedelta(days=1)],
            )
        ]
    return context


def finding_data(store: Store, names: Pseudonymizer, user: str, day: date) -> dict[str, Any]:
    """Return `molehunt explain` of a person's day as data, under pseudonyms."""
    pseudonym = names.person(user)
    try:
        data = explain_user(store, user, day).to_dict()
    except ConfigError as error:  # "no score for user 'X' on D": name the pseudonym instead
        raise NotFoundError(str(error).replace(user, pseudonym)) from None
    data.pop("user")
    data["person"] = pseudonym
    for finding in data["findings"]:
        for event in finding["evidence"]:
            event["host"] = names.host(event["host"])
            event["object"] = names.text(event["object"])
    if data.get("leaver"):
        data["leaver"].pop("user_id", None)
    scrubbed: dict[str, Any] = _scrub(data, user, names.person(user))
    return scrubbed


def _scrub(value: Any, user: str, pseudonym: str) -> Any:
    """Replace the user id wherever it appears in text (e.g. inside a sentence)."""
    if isinstance(value, str):
        return value.replace(user, pseudonym) if user in value else value
    if isinstance(value, dict):
        return {k: _scrub(v, user, pseudonym) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, user, pseudonym) for v in value]
    return value


def identity(store: Store, user: str) -> dict[str, Any]:
    """Return who a person is: user id and the newest LDAP record (name, e-mail, role, unit)."""
    rows = store.query_dicts(
        "SELECT user_id, name, email, role, department, team, supervisor FROM people "
        "WHERE user_id = ? ORDER BY month DESC LIMIT 1",
        [user],
    )
    return rows[0] if rows else {"user_id": user}
