"""Evaluate a workspace's `scores` against a CERT-format answer key (docs/evaluation.md)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from molehunt.evaluate import metrics
from molehunt.evaluate.answers import EvaluationError, Incident, load_answers, normalize_dataset
from molehunt.evaluate.metrics import (
    BUDGETS_PER_THOUSAND,
    OPERATING_BUDGET,
    RUN_UP_DAYS,
    TOP_FRACTIONS,
)
from molehunt.store import Store

OVERALL = "all"
# Users are keyed as user * _DAY_SPAN + day ordinal; ordinals stay far below 2**32.
_DAY_SPAN = 1 << 32


def fraction_label(fraction: float) -> str:
    """Return a top fraction as a label: 0.001 -> ``"0.1%"``.

    Args:
        fraction: A share of user-days.

    Returns:
        The percentage, without trailing zeros.
    """
    return f"{fraction * 100:g}%"


@dataclass(frozen=True)
class InsiderResult:
    """How one incident's insider was detected.

    Args:
        dataset: The incident's dataset.
        scenario: The incident's scenario.
        user: The insider.
        first_day: First malicious day (None when the incident has none).
        last_day: Last malicious day.
        malicious_days: Number of malicious days.
        scored_days: Days in ``[first_day, last_day]`` on which the insider has a score.
        best_rank: Best daily rank inside that window (None when no day is scored).
        detected_at_budget: Budget per 1,000 -> detected.
        detected_at_top_fraction: Fraction of user-days -> detected (on a malicious day).
        delay_days: Detection delay at the operating budget; None for a miss.
        notes: What was repaired while reading the incident.
        run_up_at_budget: Budget -> flagged on some day from `RUN_UP_DAYS` days before the
            first malicious day to the last (the run-up counts as a catch).
        run_up_at_top_fraction: Fraction -> the same for the top share of user-days.
    """

    dataset: str
    scenario: str
    user: str
    first_day: datetime.date | None
    last_day: datetime.date | None
    malicious_days: int
    scored_days: int
    best_rank: int | None
    detected_at_budget: dict[int, bool]
    detected_at_top_fraction: dict[float, bool]
    delay_days: int | None
    notes: tuple[str, ...] = ()
    run_up_at_budget: dict[int, bool] = field(default_factory=dict)
    run_up_at_top_fraction: dict[float, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (dates as ISO strings, fractions as labels)."""
        return {
            "dataset": self.dataset,
            "scenario": self.scenario,
            "user": self.user,
            "first_day": _iso(self.first_day),
            "last_day": _iso(self.last_day),
            "malicious_days": self.malicious_days,
            "scored_days": self.scored_days,
            "best_rank": self.best_rank,
            "detected_at_budget": {str(b): v for b, v in self.detected_at_budget.items()},
            "detected_at_top_fraction": {
                fraction_label(f): v for f, v in self.detected_at_top_fraction.items()
            },
            "delay_days": self.delay_days,
            "run_up_at_budget": {str(b): v for b, v in self.run_up_at_budget.items()},
            "run_up_at_top_fraction": {
                fraction_label(f): v for f, v in self.run_up_at_top_fraction.items()
            },
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ScenarioResult:
    """Detection figures of one scenario (or of all incidents, scenario ``"all"``).

    Args:
        scenario: Scenario name.
        insiders: Number of incidents.
        positive_user_days: Positive user-days among the scores.
        roc_auc: ROC-AUC of this scenario's positives against all negatives.
        pr_auc: Average precision of the same.
        detected_at_budget: Budget per 1,000 -> insiders detected.
        detected_at_top_fraction: Fraction of user-days -> insiders detected.
        median_delay: Median detection delay (days) of the insiders detected at the operating
            budget.
        worst_delay: Largest such delay.
        run_up_at_budget: Budget -> insiders caught counting the run-up.
        run_up_at_top_fraction: Fraction -> insiders caught counting the run-up.
    """

    scenario: str
    insiders: int
    positive_user_days: int
    roc_auc: float | None
    pr_auc: float | None
    detected_at_budget: dict[int, int]
    detected_at_top_fraction: dict[float, int]
    median_delay: float | None
    worst_delay: int | None
    run_up_at_budget: dict[int, int] = field(default_factory=dict)
    run_up_at_top_fraction: dict[float, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "scenario": self.scenario,
            "insiders": self.insiders,
            "positive_user_days": self.positive_user_days,
            "roc_auc": self.roc_auc,
            "pr_auc": self.pr_auc,
            "detected_at_budget": {str(b): n for b, n in self.detected_at_budget.items()},
            "detected_at_top_fraction": {
                fraction_label(f): n for f, n in self.detected_at_top_fraction.items()
            },
            "median_delay": self.median_delay,
            "worst_delay": self.worst_delay,
            "run_up_days": RUN_UP_DAYS,
            "run_up_at_budget": {str(b): n for b, n in self.run_up_at_budget.items()},
            "run_up_at_top_fraction": {
                fraction_label(f): n for f, n in self.run_up_at_top_fraction.items()
            },
        }


@dataclass(frozen=True)
class Evaluation:
    """The result of `evaluate`.

    Args:
        answers_dir: The answer key folder.
        dataset: The dataset asked for (None: incidents chosen by the workspace's users).
        datasets: Datasets of the incidents evaluated.
        user_days: Scored user-days.
        users: Distinct scored users.
        days: Distinct scored days.
        overall: Figures over all incidents (its AUCs are the user-day ROC-AUC and PR-AUC).
        scenarios: Figures per scenario, by name.
        insiders: One result per incident, in answer-key order.
        innocents_at_threshold: Mean flagged innocent people per 1,000 active users per day
            at score >= `metrics.SCORE_THRESHOLD` (None without scores).
        innocents_at_budget: The same at the operating budget.
        unscored: Insiders with no scored day between their first and last malicious day
            (counted as missed).
        notes: Repairs and assumptions, one line each.
    """

    answers_dir: str
    dataset: str | None
    datasets: tuple[str, ...]
    user_days: int
    users: int
    days: int
    overall: ScenarioResult
    scenarios: tuple[ScenarioResult, ...]
    insiders: tuple[InsiderResult, ...]
    innocents_at_threshold: float | None
    innocents_at_budget: float | None
    unscored: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def missed(self) -> tuple[InsiderResult, ...]:
        """Insiders not detected at the operating budget."""
        return tuple(i for i in self.insiders if not i.detected_at_budget[OPERATING_BUDGET])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of every figure."""
        return {
            "answers_dir": self.answers_dir,
            "dataset": self.dataset,
            "datasets": list(self.datasets),
            "user_days": self.user_days,
            "users": self.users,
            "days": self.days,
            "operating_budget": OPERATING_BUDGET,
            "score_threshold": metrics.SCORE_THRESHOLD,
            "roc_auc": self.overall.roc_auc,
            "pr_auc": self.overall.pr_auc,
            "innocents_per_1000_per_day": {
                "score_threshold": self.innocents_at_threshold,
                "operating_budget": self.innocents_at_budget,
            },
            "overall": self.overall.to_dict(),
            "scenarios": [s.to_dict() for s in self.scenarios],
            "insiders": [i.to_dict() for i in self.insiders],
            "missed": [i.user for i in self.missed],
            "unscored": list(self.unscored),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Scores:
    """The `scores` table as aligned arrays, with daily ranks."""

    user_ids: list[str]
    user: NDArray[np.int64]
    day: NDArray[np.int64]
    score: NDArray[np.float64]
    rank: NDArray[np.int64]
    active: NDArray[np.int64]


def evaluate(store: Store, answers_dir: Path | str, dataset: str | None = None) -> Evaluation:
    """Evaluate the workspace's `scores` against an answer key.

    Args:
        store: The workspace; its `scores` table has one row per active user-day.
        answers_dir: A CERT-format answers folder (`insiders.csv` + observables files).
        dataset: Evaluate the incidents of this dataset (``"5.2"``/``"r5.2"``), all of them,
            even those whose user is not in the workspace. None keeps the incidents whose user
            appears in the workspace (events, people or scores).

    Returns:
        Every figure, per scenario and overall.

    Raises:
        EvaluationError: `scores` is missing or empty, the answer key is unreadable, or no
            incident is left to evaluate.
    """
    scores, notes = _load_scores(store)
    incidents = load_answers(answers_dir, dataset)
    if dataset is None:
        present = _workspace_users(store)
        incidents = [i for i in incidents if i.user in present]
        found = sorted({i.dataset for i in incidents})
        if len(found) > 1:
            notes.append(
                f"incidents of several datasets ({', '.join(found)}) involve this workspace's "
                "users; pass --dataset to evaluate one"
            )
    if not incidents:
        which = f"of dataset {normalize_dataset(dataset)}" if dataset else "involving its users"
        raise EvaluationError(f"no incident {which} in the answer key {answers_dir}")
    return _evaluate(scores, incidents, str(answers_dir), dataset, notes)


def _load_scores(store: Store) -> tuple[_Scores, list[str]]:
    """Read `scores` (user, day, score) and rank every day."""
    exists = store.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'scores'"
    )[0][0]
    if not exists:
        raise EvaluationError("no scores: run `molehunt detect` first")
    # Users come back as codes in user-id order and days as proleptic ordinals (date.toordinal),
    # which keeps a few million user-days cheap to fetch and compare.
    valid = "user IS NOT NULL AND day IS NOT NULL AND score IS NOT NULL AND NOT isnan(score)"
    rows = store.query(
        "SELECT dense_rank() OVER (ORDER BY user) - 1, "
        f"CAST(day AS DATE) - DATE '0001-01-01' + 1, score FROM scores WHERE {valid}"
    )
    if not rows:
        raise EvaluationError("no scores: run `molehunt detect` first (the scores table is empty)")
    user_ids = [
        str(u)
        for (u,) in store.query(f"SELECT DISTINCT user FROM scores WHERE {valid} ORDER BY user")
    ]
    notes = []
    total = int(store.query("SELECT count(*) FROM scores")[0][0])
    if total > len(rows):
        notes.append(f"ignored {total - len(rows):,} score rows with a missing user, day or score")
    table = np.array(rows, dtype=np.float64)
    user = table[:, 0].astype(np.int64)
    day = table[:, 1].astype(np.int64)
    score = np.ascontiguousarray(table[:, 2])
    rank, active = metrics.daily_ranks(day, user, score)
    return _Scores(user_ids, user, day, score, rank, active), notes


def _workspace_users(store: Store) -> set[str]:
    """Every user id the workspace knows: scored, in events or in the LDAP snapshots."""
    rows = store.query(
        "SELECT user FROM scores UNION SELECT user FROM events UNION SELECT user_id FROM people"
    )
    return {str(user) for (user,) in rows if user is not None}


def _evaluate(
    scores: _Scores,
    incidents: Sequence[Incident],
    answers_dir: str,
    dataset: str | None,
    notes: list[str],
) -> Evaluation:
    """Compute every figure from the scores and the incidents."""
    code = {user: number for number, user in enumerate(scores.user_ids)}
    # One int64 key per user-day, so positives are found with one vectorised membership test.
    key = scores.user * _DAY_SPAN + scores.day
    positive: dict[str, NDArray[np.bool_]] = {}
    for name in dict.fromkeys(i.scenario for i in incidents):
        keys = [
            code[i.user] * _DAY_SPAN + day.toordinal()
            for i in incidents
            if i.scenario == name and i.user in code
            for day in i.malicious_days
        ]
        positive[name] = np.isin(key, np.array(keys, dtype=np.int64))
    labels = np.zeros(len(key), dtype=bool)
    for mask in positive.values():
        labels |= mask
    flags = {
        b: metrics.flagged_at_budget(scores.rank, scores.active, b, scores.score)
        for b in BUDGETS_PER_THOUSAND
    }
    small = _days_below_one_person(scores)
    if small:
        notes.append(
            f"{small[OPERATING_BUDGET]:,} of {len(np.unique(scores.day)):,} days have too few "
            f"active people for one flag at {OPERATING_BUDGET} per 1,000; on such days a budget "
            "flags the same share of all user-days of the period (never a whole person a day)"
        )
    thresholds = {f: metrics.top_fraction_threshold(scores.score, f) for f in TOP_FRACTIONS}
    order = np.argsort(scores.user, kind="stable")
    bounds = np.searchsorted(scores.user[order], np.arange(len(scores.user_ids) + 1))
    insiders = []
    for incident in incidents:
        number = code.get(incident.user)
        rows = order[bounds[number] : bounds[number + 1]] if number is not None else order[:0]
        insiders.append(_insider(incident, rows, scores, flags, thresholds))
    results = tuple(
        _scenario(name, [r for r in insiders if r.scenario == name], scores.score, mask, labels)
        for name, mask in sorted(positive.items())
    )
    innocent = ~np.isin(scores.user, [code[i.user] for i in incidents if i.user in code])
    for incident in incidents:
        notes.extend(f"{incident.user} ({incident.details}): {note}" for note in incident.notes)
    return Evaluation(
        answers_dir=answers_dir,
        dataset=normalize_dataset(dataset) if dataset is not None else None,
        datasets=tuple(sorted({i.dataset for i in incidents})),
        user_days=len(key),
        users=len(scores.user_ids),
        days=len(np.unique(scores.day)),
        overall=_scenario(OVERALL, insiders, scores.score, labels, labels),
        scenarios=results,
        insiders=tuple(insiders),
        innocents_at_threshold=_innocents_per_thousand(
            scores, innocent & (scores.score >= metrics.SCORE_THRESHOLD)
        ),
        innocents_at_budget=_innocents_per_thousand(scores, innocent & flags[OPERATING_BUDGET]),
        unscored=tuple(dict.fromkeys(r.user for r in insiders if r.scored_days == 0)),
        notes=tuple(notes),
    )


def _days_below_one_person(scores: _Scores) -> dict[int, int]:
    """Budget -> days whose exact budget is below one person (empty when there are none)."""
    days, first = np.unique(scores.day, return_index=True)
    active = scores.active[first]
    counts = {b: int((metrics.budget_size(active, b) == 0).sum()) for b in BUDGETS_PER_THOUSAND}
    return counts if any(counts.values()) else {}


def _insider(
    incident: Incident,
    rows: NDArray[np.intp],
    scores: _Scores,
    flags: dict[int, NDArray[np.bool_]],
    thresholds: dict[float, float],
) -> InsiderResult:
    """Detection figures of one incident; `rows` are the insider's user-days."""
    first, last = incident.first_day, incident.last_day
    if first is None or last is None:
        rows = rows[:0]
        start = end = 0
    else:
        start, end = first.toordinal(), last.toordinal()
    day = scores.day[rows]
    window = (day >= start) & (day <= end)
    malicious = np.isin(day, [d.toordinal() for d in incident.malicious_days])
    run_up = (day >= start - RUN_UP_DAYS) & (day <= end)
    ranks = scores.rank[rows][window]
    return InsiderResult(
        dataset=incident.dataset,
        scenario=incident.scenario,
        user=incident.user,
        first_day=first,
        last_day=last,
        malicious_days=len(incident.malicious_days),
        scored_days=int(window.sum()),
        best_rank=int(ranks.min()) if ranks.size else None,
        detected_at_budget={b: bool((flags[b][rows] & window).any()) for b in flags},
        detected_at_top_fraction={
            f: bool((scores.score[rows][malicious] >= t).any()) for f, t in thresholds.items()
        },
        delay_days=metrics.detection_delay(day, flags[OPERATING_BUDGET][rows], start, end)
        if rows.size
        else None,
        notes=incident.notes,
        run_up_at_budget={b: bool((flags[b][rows] & run_up).any()) for b in flags},
        run_up_at_top_fraction={
            f: bool((scores.score[rows][run_up] >= t).any()) for f, t in thresholds.items()
        },
    )


def _scenario(
    name: str,
    insiders: Sequence[InsiderResult],
    score: NDArray[np.float64],
    positive: NDArray[np.bool_],
    labels: NDArray[np.bool_],
) -> ScenarioResult:
    """Summarise a group of insiders; AUCs of `positive` against every negative user-day."""
    chosen = positive | ~labels
    median, worst = metrics.summarize_delays([i.delay_days for i in insiders])
    return ScenarioResult(
        scenario=name,
        insiders=len(insiders),
        positive_user_days=int(positive.sum()),
        roc_auc=metrics.roc_auc(positive[chosen], score[chosen]),
        pr_auc=metrics.pr_auc(positive[chosen], score[chosen]),
        detected_at_budget={
            b: sum(i.detected_at_budget[b] for i in insiders) for b in BUDGETS_PER_THOUSAND
        },
        detected_at_top_fraction={
            f: sum(i.detected_at_top_fraction[f] for i in insiders) for f in TOP_FRACTIONS
        },
        median_delay=median,
        worst_delay=worst,
        run_up_at_budget={
            b: sum(i.run_up_at_budget[b] for i in insiders) for b in BUDGETS_PER_THOUSAND
        },
        run_up_at_top_fraction={
            f: sum(i.run_up_at_top_fraction[f] for i in insiders) for f in TOP_FRACTIONS
        },
    )


def _innocents_per_thousand(scores: _Scores, flagged: NDArray[np.bool_]) -> float | None:
    """Mean over scored days of flagged innocents per 1,000 active users that day."""
    days, index = np.unique(scores.day, return_inverse=True)
    if days.size == 0:
        return None
    active = np.bincount(index.reshape(-1), minlength=days.size)
    hits = np.bincount(index.reshape(-1), weights=flagged.astype(np.float64), minlength=days.size)
    return float(np.mean(hits / active * 1000.0))


def _iso(day: datetime.date | None) -> str | None:
    """Return a date as ISO text, or None."""
    return day.isoformat() if day is not None else None
