"""Render an `Evaluation` as plain-text tables for the terminal."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from molehunt.evaluate import metrics
from molehunt.evaluate.metrics import (
    BUDGETS_PER_THOUSAND,
    OPERATING_BUDGET,
    RUN_UP_DAYS,
    TOP_FRACTIONS,
)
from molehunt.evaluate.report import Evaluation, InsiderResult, ScenarioResult, fraction_label

# Longer lists are cut here; `--json` has them all.
MAX_LISTED = 20


def render_evaluation(evaluation: Evaluation) -> str:
    """Render every figure of an evaluation as plain text (tables, then lists and notes).

    Args:
        evaluation: The result of `evaluate`.

    Returns:
        The text, ending with a newline.
    """
    e = evaluation
    datasets = ", ".join(e.datasets)
    lines = [
        f"{e.overall.insiders} insider(s) of dataset {datasets} (answers: {e.answers_dir})",
        f"{e.user_days:,} scored user-days ({e.users:,} users, {e.days:,} days), "
        f"{e.overall.positive_user_days:,} positive",
        f"user-day ROC-AUC {_number(e.overall.roc_auc)}   PR-AUC {_number(e.overall.pr_auc)}",
        "",
        "Insiders detected: within a daily budget of N people per 1,000 active users, and when",
        f"flagging the top share of all user-days; delay in days at {OPERATING_BUDGET} per 1,000.",
        "",
        *_table(
            [
                "scenario",
                "insiders",
                "ROC-AUC",
                "PR-AUC",
                *(f"{b}/1000" for b in BUDGETS_PER_THOUSAND),
                *(f"top {fraction_label(f)}" for f in TOP_FRACTIONS),
                "median delay",
                "worst delay",
            ],
            [_scenario_row(s) for s in (*e.scenarios, e.overall)],
        ),
        "",
        f"Counting the run-up (flagged from {RUN_UP_DAYS} days before the first malicious day "
        "to the last):",
        "",
        *_table(
            [
                "scenario",
                "insiders",
                *(f"{b}/1000" for b in BUDGETS_PER_THOUSAND),
                *(f"top {fraction_label(f)}" for f in TOP_FRACTIONS),
            ],
            [_run_up_row(s) for s in (*e.scenarios, e.overall)],
        ),
        "",
        "Flagged innocent people per 1,000 active users per day: "
        f"{_number(e.innocents_at_threshold, 2)} at score >= {metrics.SCORE_THRESHOLD:g}, "
        f"{_number(e.innocents_at_budget, 2)} at {OPERATING_BUDGET} per 1,000.",
    ]
    missed = e.missed
    if missed:
        lines += ["", f"Missed at {OPERATING_BUDGET} per 1,000 ({len(missed)}):"]
        lines += _capped([_missed_line(i) for i in missed])
    if e.unscored:
        lines += ["", f"Not scored during their malicious days ({len(e.unscored)}):"]
        wrapped = textwrap.wrap(", ".join(e.unscored), width=96)
        lines += _capped([f"  {line}" for line in wrapped])
    if e.notes:
        lines += ["", f"Notes ({len(e.notes)}):"]
        lines += _capped([f"  {note}" for note in e.notes])
    return "\n".join(lines) + "\n"


def _scenario_row(result: ScenarioResult) -> list[str]:
    """One table row: counts as `detected/insiders`."""
    total = result.insiders
    return [
        result.scenario,
        str(total),
        _number(result.roc_auc),
        _number(result.pr_auc),
        *(f"{result.detected_at_budget[b]}/{total}" for b in BUDGETS_PER_THOUSAND),
        *(f"{result.detected_at_top_fraction[f]}/{total}" for f in TOP_FRACTIONS),
        _number(result.median_delay, 1),
        "-" if result.worst_delay is None else str(result.worst_delay),
    ]


def _run_up_row(result: ScenarioResult) -> list[str]:
    """One run-up table row: counts as `caught/insiders`."""
    total = result.insiders
    return [
        result.scenario,
        str(total),
        *(f"{result.run_up_at_budget[b]}/{total}" for b in BUDGETS_PER_THOUSAND),
        *(f"{result.run_up_at_top_fraction[f]}/{total}" for f in TOP_FRACTIONS),
    ]


def _missed_line(insider: InsiderResult) -> str:
    """Describe a missed insider: scenario, malicious window and best daily rank."""
    window = f"{insider.first_day} .. {insider.last_day}" if insider.first_day else "no days"
    rank = f"best rank {insider.best_rank}" if insider.best_rank is not None else "never scored"
    return f"  {insider.user} ({insider.scenario}, {window}, {rank})"


def _capped(lines: list[str]) -> list[str]:
    """Cut a list at MAX_LISTED lines, saying how many were left out."""
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"  ... and {len(lines) - MAX_LISTED} more (see --json)"]


def _number(value: float | None, digits: int = 3) -> str:
    """Format a figure, `-` when undefined."""
    return "-" if value is None else f"{value:.{digits}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Align columns: the first to the left, the others to the right."""
    widths = [max(len(str(row[n])) for row in (headers, *rows)) for n in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]
