"""Detection metrics as pure functions on numpy arrays (definitions: docs/evaluation.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import average_precision_score, roc_auc_score

# People per 1,000 active users flagged each day: the budgets evaluated, and the one used for
# the detection delay and the flagged-innocents figure (an analyst team's realistic daily queue).
BUDGETS_PER_THOUSAND = (1, 5, 10, 25)
OPERATING_BUDGET = 5
# Fractions of all scored user-days flagged under one global threshold.
TOP_FRACTIONS = (0.001, 0.003, 0.01, 0.05)
# A flag this many days before an insider's first malicious day still catches them (the run-up:
# the first after-hours logons, drive use and job-site visits before the labelled act).
RUN_UP_DAYS = 7
# The score at or above which a user-day counts as flagged in the flagged-innocents figure.
SCORE_THRESHOLD = 50.0


def _two_classes(labels: NDArray[np.bool_]) -> bool:
    """Whether both classes are present (otherwise AUCs are undefined)."""
    return bool(labels.any()) and not bool(labels.all())


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float | None:
    """Area under the ROC curve of `scores` for the boolean `labels` (ties count half).

    Args:
        labels: True for positive user-days.
        scores: Higher = riskier, one per label.

    Returns:
        The AUC in [0, 1], or None when only one class is present.

    Examples:
        >>> roc_auc([False, True, False, True], [0.1, 0.9, 0.4, 0.3])
        0.75
    """
    truth = np.asarray(labels, dtype=bool)
    if not _two_classes(truth):
        return None
    return float(roc_auc_score(truth, np.asarray(scores, dtype=np.float64)))


def pr_auc(labels: ArrayLike, scores: ArrayLike) -> float | None:
    """Area under the precision-recall curve, as average precision (no interpolation).

    Args:
        labels: True for positive user-days.
        scores: Higher = riskier, one per label.

    Returns:
        The average precision in [0, 1], or None when only one class is present.
    """
    truth = np.asarray(labels, dtype=bool)
    if not _two_classes(truth):
        return None
    return float(average_precision_score(truth, np.asarray(scores, dtype=np.float64)))


def daily_ranks(
    days: ArrayLike, users: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rank user-days within each day: score descending, ties broken by user id ascending.

    Args:
        days: Day of each user-day (any sortable integer code, e.g. an ordinal).
        users: User of each user-day, as integer codes ordered like the user ids.
        scores: Score of each user-day.

    Returns:
        ``(ranks, active)``: the 1-based rank of each user-day on its day, and the number of
        user-days (active users) on that day, both aligned with the inputs.

    Examples:
        >>> ranks, active = daily_ranks([1, 1, 2], [0, 1, 0], [5.0, 5.0, 1.0])
        >>> ranks.tolist(), active.tolist()
        ([1, 2, 1], [2, 2, 1])
    """
    day = np.asarray(days, dtype=np.int64)
    user = np.asarray(users, dtype=np.int64)
    score = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((user, -score, day))
    sorted_days = day[order]
    starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    group_start = np.repeat(starts, sizes)
    ranks = np.empty(len(order), dtype=np.int64)
    active = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - group_start + 1
    active[order] = np.repeat(sizes, sizes)
    return ranks, active


def budget_size(active: ArrayLike, per_thousand: float) -> NDArray[np.int64]:
    """People flagged on a day with `active` users: ``round(b * active / 1000)``, half up.

    Never rounded up to a whole person: a day whose exact budget is below one person gets 0
    here, and `flagged_at_budget` flags on such days by the share of all user-days instead.

    Args:
        active: Active users on each day.
        per_thousand: The budget `b`, in people per 1,000 active users.

    Returns:
        The number of people flagged on each day.

    Examples:
        >>> budget_size([100, 2000, 150], 25).tolist()
        [3, 50, 4]
        >>> budget_size([19], 5).tolist()
        [0]
    """
    exact = np.asarray(active, dtype=np.float64) * per_thousand / 1000.0
    return np.where(exact < 1.0, 0, np.floor(exact + 0.5)).astype(np.int64)


def flagged_at_budget(
    ranks: ArrayLike,
    active: ArrayLike,
    per_thousand: float,
    scores: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Whether each user-day is flagged under a daily budget of `per_thousand` per 1,000.

    On a day with enough people for at least one flag, the top `budget_size` ranks are
    flagged. On a day with fewer (a budget of 5 per 1,000 among 19 people is 0.1 of a
    person), rounding up to a whole person would flag ten times the budget; those days'
    user-days are flagged when their score reaches the threshold that flags the top
    `per_thousand / 1000` of all user-days given (`top_fraction_threshold`).

    Args:
        ranks: Daily rank of each user-day (from `daily_ranks`).
        active: Active users on that user-day's day.
        per_thousand: The budget.
        scores: The user-days' scores (needed when some day is below one person).

    Returns:
        True where flagged.
    """
    rank = np.asarray(ranks, dtype=np.int64)
    size = budget_size(active, per_thousand)
    flagged = rank <= size
    small = size == 0
    if small.any() and scores is not None:
        values = np.asarray(scores, dtype=np.float64)
        threshold = top_fraction_threshold(values, per_thousand / 1000.0)
        flagged = np.where(small, values >= threshold, flagged)
    return np.asarray(flagged, dtype=bool)


def top_fraction_threshold(scores: ArrayLike, fraction: float) -> float:
    """The global score threshold that flags the top `fraction` of user-days.

    The threshold is the k-th highest score, ``k = max(1, floor(fraction * n))`` (the budget
    of the CERT dev-set scorer, which never rounds up); every user-day
    scoring at least that much is flagged (so ties at the threshold may flag a few more).

    Args:
        scores: All scored user-days.
        fraction: Share of user-days to flag, in (0, 1].

    Returns:
        The threshold; +inf when there are no scores.

    Examples:
        >>> top_fraction_threshold([1.0, 4.0, 3.0, 2.0], 0.5)
        3.0
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return math.inf
    k = max(1, math.floor(fraction * values.size + 1e-9))
    return float(-np.partition(-values, k - 1)[k - 1])


def detection_delay(
    days: ArrayLike, flagged: ArrayLike, first_day: int, last_day: int
) -> int | None:
    """Days from `first_day` to the first flagged day in ``[first_day, last_day]``.

    Args:
        days: One insider's scored days (integer codes such as ordinals).
        flagged: Whether the insider is flagged on each of those days.
        first_day: The first malicious day.
        last_day: The last malicious day.

    Returns:
        The delay in days (0 = flagged on the first malicious day), or None when the insider
        is never flagged inside the window (a miss).

    Examples:
        >>> detection_delay([10, 11, 12, 13], [True, False, True, True], 11, 13)
        1
    """
    day = np.asarray(days, dtype=np.int64)
    hit = np.asarray(flagged, dtype=bool) & (day >= first_day) & (day <= last_day)
    if not hit.any():
        return None
    return int(day[hit].min()) - first_day


def summarize_delays(delays: Sequence[int | None]) -> tuple[float | None, int | None]:
    """Median and worst (largest) delay over the detected insiders; misses (None) are skipped.

    Args:
        delays: One delay per insider, None for a miss.

    Returns:
        ``(median, worst)``, both None when no insider was detected.

    Examples:
        >>> summarize_delays([0, 3, None, 2])
        (2.0, 3)
    """
    found = [delay for delay in delays if delay is not None]
    if not found:
        return None, None
    return float(np.median(found)), max(found)
