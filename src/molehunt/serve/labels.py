"""Confirmed cases as labels: a CERT-format answer key that `molehunt evaluate` reads."""

from __future__ import annotations

import csv
from pathlib import Path

from molehunt.serve.cases import Case, list_cases
from molehunt.serve.workbench import Workbench

LABEL_DATASET = "workbench"
INSIDERS_COLUMNS = ("dataset", "scenario", "details", "user", "start", "end")


def confirmed_cases(workbench: Workbench) -> list[Case]:
    """Return the cases whose latest verdict is `confirmed`, oldest first."""
    return sorted(
        (case for case in list_cases(workbench) if case.verdict == "confirmed"),
        key=lambda case: case.case_id,
    )


def write_answer_key(workbench: Workbench, folder: Path) -> int:
    """Write `folder/insiders.csv`: one incident per confirmed case, on its finding day.

    Each row is dataset `workbench`, scenario `case-<id>`, the real user id, and the case's
    finding day as start and end; there is no observables file, so `molehunt evaluate
    --answers folder` counts that whole day as malicious.

    Args:
        workbench: The cases.
        folder: Where to write (created when missing).

    Returns:
        The number of incidents written.
    """
    cases = confirmed_cases(workbench)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "insiders.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INSIDERS_COLUMNS)
        for case in cases:
            day = case.day.strftime("%m/%d/%Y")
            writer.writerow(
                [
                    LABEL_DATASET,
                    f"case-{case.case_id}",
                    f"case-{case.case_id}.csv",
                    case.user,
                    f"{day} 00:00:00",
                    f"{day} 23:59:59",
                ]
            )
    return len(cases)
