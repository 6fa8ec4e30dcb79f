"""Cases: opened on a person's finding, with append-only notes, verdicts and suppressions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from molehunt.serve.auth import Principal, Pseudonymizer
from molehunt.serve.errors import NotFoundError, ServeError
from molehunt.serve.workbench import Workbench

VERDICTS = ("confirmed", "benign", "inconclusive")


@dataclass(frozen=True)
class Suppression:
    """A benign verdict's scope: this rule, this person, until a day (shown, never silent).

    Args:
        suppression_id: Its id.
        case_id: The case whose verdict made it.
        user: The person (real id; shown as a pseudonym).
        rule_id: The rule.
        until: Last day it applies.
        author: Token name of who recorded it.
    """

    suppression_id: int
    case_id: int
    user: str
    rule_id: str
    until: date
    author: str


@dataclass
class Case:
    """A case with its notes and verdicts, oldest first.

    Args:
        case_id: Its id.
        user: The person (real id; shown as a pseudonym).
        day: The finding day it was opened from.
        title: A short title.
        created: When.
        created_by: Token name.
        notes: Dicts of note_id, text, author, created.
        verdicts: Dicts of verdict, reason, author, created.
        suppressions: The suppressions its verdicts recorded.
    """

    case_id: int
    user: str
    day: date
    title: str
    created: datetime
    created_by: str
    notes: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        """The latest verdict, or None while undecided."""
        return str(self.verdicts[-1]["verdict"]) if self.verdicts else None

    @property
    def status(self) -> str:
        """`open` until a verdict is set, then `closed`."""
        return "closed" if self.verdicts else "open"


def create_case(
    workbench: Workbench, principal: Principal, user: str, day: date, title: str, subject: str
) -> int:
    """Open a case on a person's day; returns its id. `subject` is the person's pseudonym."""
    if not title.strip():
        raise ServeError("a case needs a non-empty title")
    with workbench.write() as tx:
        case_id = int(tx.execute("SELECT coalesce(max(case_id), 0) + 1 FROM cases")[0][0])
        tx.execute(
            "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?)",
            [case_id, user, day, title.strip(), workbench.now(), principal.name],
        )
        workbench.record(
            principal, "open_case", subject, {"case": case_id, "day": day.isoformat()}, tx
        )
    return case_id


def list_cases(workbench: Workbench) -> list[Case]:
    """Return every case, newest first, with notes, verdicts and suppressions."""
    with workbench.open() as store:
        cases = [
            Case(*row)
            for row in store.query(
                "SELECT case_id, user_id, day, title, created, created_by FROM cases "
                "ORDER BY case_id DESC"
            )
        ]
        by_id = {case.case_id: case for case in cases}
        for case_id, note_id, text, author, created in store.query(
            "SELECT case_id, note_id, text, author, created FROM case_notes ORDER BY note_id"
        ):
            by_id[case_id].notes.append(
                {"note_id": note_id, "text": text, "author": author, "created": created}
            )
        for case_id, verdict, reason, author, created in store.query(
            "SELECT case_id, verdict, reason, author, created FROM verdicts ORDER BY created"
        ):
            by_id[case_id].verdicts.append(
                {"verdict": verdict, "reason": reason, "author": author, "created": created}
            )
        for row in store.query(
            "SELECT suppression_id, case_id, user_id, rule_id, until, author FROM suppressions "
            "ORDER BY suppression_id"
        ):
            by_id[row[1]].suppressions.append(Suppression(*row))
    return cases


def get_case(workbench: Workbench, case_id: int) -> Case:
    """Return one case.

    Raises:
        NotFoundError: No such case.
    """
    for case in list_cases(workbench):
        if case.case_id == case_id:
            return case
    raise NotFoundError(f"no case {case_id}")


def add_note(
    workbench: Workbench, principal: Principal, case_id: int, text: str, subject: str
) -> int:
    """Append a note to a case (notes are never edited or removed); returns its id."""
    if not text.strip():
        raise ServeError("a note needs some text")
    with workbench.write() as tx:
        if not tx.execute("SELECT 1 FROM cases WHERE case_id = ?", [case_id]):
            raise NotFoundError(f"no case {case_id}")
        note_id = int(tx.execute("SELECT coalesce(max(note_id), 0) + 1 FROM case_notes")[0][0])
        tx.execute(
            "INSERT INTO case_notes VALUES (?, ?, ?, ?, ?)",
            [case_id, note_id, text.strip(), principal.name, workbench.now()],
        )
        workbench.record(principal, "add_note", subject, {"case": case_id, "note": note_id}, tx)
    return note_id


def set_verdict(
    workbench: Workbench,
    principal: Principal,
    case_id: int,
    verdict: str,
    reason: str,
    subject: str,
    suppress: tuple[str, date] | None = None,
) -> None:
    """Record a verdict; a benign one may add a scoped suppression (rule id, until a day).

    Raises:
        ServeError: Unknown verdict, no reason, or a suppression on a non-benign verdict.
        NotFoundError: No such case.
    """
    if verdict not in VERDICTS:
        raise ServeError(f"unknown verdict {verdict!r}; expected one of: {', '.join(VERDICTS)}")
    if not reason.strip():
        raise ServeError("a verdict needs a reason")
    if suppress is not None and verdict != "benign":
        raise ServeError("only a benign verdict may suppress a rule")
    with workbench.write() as tx:
        rows = tx.execute("SELECT user_id FROM cases WHERE case_id = ?", [case_id])
        if not rows:
            raise NotFoundError(f"no case {case_id}")
        now = workbench.now()
        tx.execute(
            "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)",
            [case_id, verdict, reason.strip(), principal.name, now],
        )
        detail: dict[str, Any] = {"case": case_id, "verdict": verdict, "reason": reason.strip()}
        if suppress is not None:
            rule_id, until = suppress
            next_id = tx.execute("SELECT coalesce(max(suppression_id), 0) + 1 FROM suppressions")
            tx.execute(
                "INSERT INTO suppressions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [int(next_id[0][0]), case_id, rows[0][0], rule_id, until, principal.name, now],
            )
            detail["suppress"] = {"rule": rule_id, "until": until.isoformat()}
        workbench.record(principal, "verdict", subject, detail, tx)


def active_suppressions(workbench: Workbench, day: date) -> dict[str, list[Suppression]]:
    """Return the suppressions in force on `day`, by user id."""
    with workbench.open() as store:
        rows = store.query(
            "SELECT suppression_id, case_id, user_id, rule_id, until, author FROM suppressions "
            "WHERE until >= ? ORDER BY suppression_id",
            [day],
        )
    found: dict[str, list[Suppression]] = {}
    for row in rows:
        found.setdefault(str(row[2]), []).append(Suppression(*row))
    return found


def case_to_dict(case: Case, names: Pseudonymizer) -> dict[str, Any]:
    """Return a case as JSON-ready data, the person as a pseudonym."""
    return {
        "id": case.case_id,
        "person": names.person(case.user),
        "day": case.day.isoformat(),
        "title": case.title,
        "status": case.status,
        "verdict": case.verdict,
        "created": case.created.isoformat(),
        "created_by": case.created_by,
        "notes": [{**n, "created": n["created"].isoformat()} for n in case.notes],
        "verdicts": [{**v, "created": v["created"].isoformat()} for v in case.verdicts],
        "suppressions": [
            {"rule_id": s.rule_id, "until": s.until.isoformat(), "author": s.author}
            for s in case.suppressions
        ],
    }
