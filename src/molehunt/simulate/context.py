"""Static release files: LDAP snapshots, psychometrics, decoys, context/ records and answers/."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import numpy as np

from molehunt.simulate.insider import HrEvent, Scenario, Trip, random_countries
from molehunt.simulate.institute import LEVELS, Institute, random_token
from molehunt.simulate.writer import MaliciousRow

CHANNEL_NAMES = ("logon", "device", "file", "email", "http", "print")


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """A small CSV with ``\\n`` line ends and minimal quoting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def fmt_day(start: datetime.date, offset: int) -> str:
    """``MM/DD/YYYY`` of a day offset."""
    return (start + datetime.timedelta(days=offset)).strftime("%m/%d/%Y")


def write_ldap(outdir: Path, inst: Institute, start: datetime.date, days: int, layout: str) -> None:
    """One snapshot per month; a month omits people who left during it (as CERT does)."""
    month = start.replace(day=1)
    end = start + datetime.timedelta(days=days - 1)
    header: tuple[str, ...] = (
        "employee_name",
        "user_id",
        "email",
        "role",
        "projects",
        "business_unit",
        "functional_unit",
        "department",
        "team",
        "supervisor",
    )
    if layout == "r4.2":
        header = tuple(h for h in header if h != "projects")
    while month <= end:
        following = (month + datetime.timedelta(days=32)).replace(day=1)
        last = (following - start).days - 1
        rows: list[tuple[object, ...]] = []
        for k in range(inst.size):
            if inst.hire_day[k] > last or inst.leave_day[k] <= last:
                continue
            sup = int(inst.supervisor[k])
            row = [
                inst.names[k],
                inst.user_ids[k],
                inst.emails[k],
                inst.roles[k],
                ";".join(inst.project_names[p] for p in inst.projects[k]),
                inst.business_units[k],
                inst.functional_units[k],
                inst.departments[k],
                inst.teams[k],
                inst.names[sup] if sup >= 0 else "",
            ]
            if layout == "r4.2":
                del row[4]
            rows.append(tuple(row))
        write_csv(outdir / "LDAP" / f"{month:%Y-%m}.csv", header, rows)
        month = following


def write_people(outdir: Path, inst: Institute, rng: np.random.Generator) -> None:
    """psychometric.csv, and decoy_file.csv (decoy documents planted on some PCs)."""
    write_csv(
        outdir / "psychometric.csv",
        ("employee_name", "user_id", "O", "C", "E", "A", "N"),
        [
            (inst.names[k], inst.user_ids[k], *inst.psychometric[k].tolist())
            for k in range(inst.size)
        ],
    )
    decoys = []
    for pc in rng.choice(len(inst.pcs), len(inst.pcs) // 3, replace=False).tolist():
        for _ in range(int(rng.integers(1, 4))):
            decoys.append((f"C:\\{random_token(rng, 7)}\\{random_token(rng, 8)}.doc", inst.pcs[pc]))
    write_csv(outdir / "decoy_file.csv", ("decoy_filename", "pc"), sorted(decoys))


def innocent_hr(inst: Institute, rng: np.random.Generator, days: int) -> list[HrEvent]:
    """HR events of innocent people: resignations and terminations of leavers, plus grievances,
    performance plans, disciplinary actions and financial-stress reports of some who stay."""
    events: list[HrEvent] = []
    for k in range(inst.size):
        leave = int(inst.leave_day[k])
        if inst.leave_kind[k] in ("resignation", "termination"):
            if inst.leave_kind[k] == "resignation":
                events.append((k, "resignation_notice", leave - 1 - int(rng.integers(5, 22)), ""))
            else:
                events.append((k, "termination", leave - 1, "position eliminated"))
            events.append((k, "last_working_day", leave - 1, ""))
        for kind, p, detail in (
            ("grievance", 0.04, "complaint about workload"),
            ("financial_stress", 0.03, "self-reported debt"),
            ("performance_plan", 0.03, "performance improvement plan"),
            ("disciplinary_action", 0.01, "policy violation warning"),
        ):
            if rng.random() < p * max(1.0, days / 365):
                events.append((k, kind, int(rng.integers(-60, days)), detail))
    return events


def innocent_trips(inst: Institute, rng: np.random.Generator, days: int) -> list[Trip]:
    """Declared business and holiday travel (a few trips are undeclared, a few after leaving)."""
    trips: list[Trip] = []
    for k in range(inst.size):
        for _ in range(int(rng.poisson(0.25 * max(1.0, days / 120)))):
            depart = int(rng.integers(0, days + 60))
            declared = "no" if rng.random() < 0.05 else "yes"
            trips.append(
                (k, depart, depart + int(rng.integers(2, 15)), random_countries(rng), declared)
            )
    return trips


def write_context(
    outdir: Path,
    inst: Institute,
    start: datetime.date,
    days: int,
    insiders: list[Scenario],
    rng: np.random.Generator,
) -> None:
    """context/: hr_events.csv, documents.csv, clearances.csv, travel.csv."""
    ctx = outdir / "context"
    hr = innocent_hr(inst, rng, days) + [e for s in insiders for e in s.hr]
    hr.sort(key=lambda e: (e[2], e[0], e[1]))
    write_csv(
        ctx / "hr_events.csv",
        ("user", "kind", "date", "detail"),
        [(inst.user_ids[u], kind, fmt_day(start, d), detail) for u, kind, d, detail in hr],
    )
    docs = inst.documents
    write_csv(
        ctx / "documents.csv",
        ("path", "name", "classification", "compartments", "owner"),
        [
            (
                docs.paths[i],
                docs.names[i],
                LEVELS[int(docs.level[i])],
                inst.project_names[int(docs.project[i])] if docs.project[i] >= 0 else "",
                inst.user_ids[int(docs.owner[i])],
            )
            for i in range(len(docs.paths))
        ],
    )
    admin = inst.is_admin()
    write_csv(
        ctx / "clearances.csv",
        ("user", "level", "compartments", "priority"),
        [
            (
                inst.user_ids[k],
                LEVELS[int(inst.clearance[k])],
                ";".join(inst.project_names[p] for p in inst.projects[k]),
                "high" if admin[k] or inst.clearance[k] == 3 else "normal",
            )
            for k in range(inst.size)
        ],
    )
    trips = innocent_trips(inst, rng, days) + [t for s in insiders for t in s.trips]
    trips.sort(key=lambda t: (t[1], t[0]))
    write_csv(
        ctx / "travel.csv",
        ("user", "depart", "return", "countries", "declared"),
        [(inst.user_ids[u], fmt_day(start, a), fmt_day(start, b), c, d) for u, a, b, c, d in trips],
    )


def write_answers(
    outdir: Path, inst: Institute, insiders: list[Scenario], rows: list[MaliciousRow]
) -> None:
    """answers/insiders.csv plus one observables file per insider, rows prefixed by source."""
    answers = outdir / "answers"
    answers.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    summary = []
    for s in insiders:
        mine = [r for r in rows if r[0] == s.number]
        details = f"sim-{s.name}-{s.number + 1}-{inst.user_ids[s.user]}.csv"
        with open(answers / details, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerows([(CHANNEL_NAMES[r[3]], *r[4]) for r in mine])
        first = mine[0][4][1] if mine else ""
        last = mine[-1][4][1] if mine else ""
        summary.append(("sim", s.name, details, inst.user_ids[s.user], first, last))
    write_csv(
        answers / "insiders.csv",
        ("dataset", "scenario", "details", "user", "start", "end"),
        list(summary),
    )
    (answers / "README.md").write_text(ANSWERS_README, encoding="utf-8")


ANSWERS_README = """# Answer key of a simulated release

`insiders.csv` lists every planted insider: `dataset` (always `sim`), `scenario` (the simulator's
scenario name, e.g. `departing-classified-theft`, `cert-1`), `details` (the observables file in this
folder), `user`, and `start`/`end` (`MM/DD/YYYY HH:MM:SS` of the first and last malicious event).

Each observables file has one row per malicious event, in chronological order, without a header.
The first column is the source (`logon`, `device`, `file`, `email`, `http`, `print`); the other
columns are
exactly the fields of that event's row in the activity file of the same name (same `id`), so rows
can be matched by `(source, id)`. Rows are variable-length, as in the official CERT answer keys.
Events the insider performed under another account (the supervisor's logon and mass email of
`cert-3`) are included and carry that account's user id.
"""
