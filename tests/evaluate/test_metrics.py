"""The pure metric functions: AUCs, daily ranks, budgets, top fractions and delays."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from molehunt.evaluate import metrics


def test_roc_auc_counts_ties_as_half() -> None:
    # Pairs (positive, negative): (3, 1) win, (3, 3) tie, (2, 1) win, (2, 3) loss -> 2.5 / 4.
    assert metrics.roc_auc([True, True, False, False], [3, 2, 1, 3]) == pytest.approx(0.625)


def test_pr_auc_is_average_precision() -> None:
    # Ranked 4 P, 3 N, 2 P, 1 N: precision 1 at recall 1/2, 2/3 at recall 1 -> 1/2 + 1/3.
    assert metrics.pr_auc([True, False, True, False], [4, 3, 2, 1]) == pytest.approx(5 / 6)


@pytest.mark.parametrize("function", [metrics.roc_auc, metrics.pr_auc])
@pytest.mark.parametrize("labels", [[True, True], [False, False], []])
def test_auc_with_one_class_is_undefined(
    function: Callable[[list[bool], list[float]], float | None], labels: list[bool]
) -> None:
    assert function(labels, [1.0] * len(labels)) is None


def test_daily_ranks_break_ties_by_user_and_count_active_users() -> None:
    days = [7, 7, 7, 8, 8]
    users = [2, 0, 1, 1, 0]
    scores = [5.0, 5.0, 9.0, 1.0, 1.0]
    ranks, active = metrics.daily_ranks(days, users, scores)
    # Day 7: user 1 (9.0) first, then users 0 and 2 tied at 5.0, user 0 first. Day 8: a tie.
    assert ranks.tolist() == [3, 2, 1, 2, 1]
    assert active.tolist() == [3, 3, 3, 2, 2]


@pytest.mark.parametrize(
    ("active", "per_thousand", "expected"),
    [
        (4, 25, 0),  # 0.1 of a person: never rounded up (flagged by share instead)
        (100, 5, 0),  # 0.5 of a person: the same
        (100, 10, 1),
        (100, 25, 3),  # 2.5 -> 3 (half up, not to even)
        (1000, 1, 1),
        (1000, 10, 10),
        (2000, 5, 10),
        (3999, 25, 100),  # 99.975 -> 100
    ],
)
def test_budget_size_rounds_half_up_and_never_up_to_a_whole_person(
    active: int, per_thousand: int, expected: int
) -> None:
    assert metrics.budget_size([active], per_thousand).tolist() == [expected]


def test_flagged_at_budget_compares_rank_with_daily_budget() -> None:
    ranks = np.array([1, 2, 3, 1, 2])
    active = np.array([400, 400, 400, 200, 200])  # budgets at 5 per 1,000: 2 and 1
    assert metrics.flagged_at_budget(ranks, active, 5).tolist() == [True, True, False, True, False]


def test_small_population_budget_flags_a_share_of_user_days_not_a_person_a_day() -> None:
    # 20 people on each of 100 days: 5 per 1,000 is 0.1 of a person a day. Rounding up would
    # flag the top person every day (100 user-days, 5% of them); the share flags 0.5% (10).
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(100), 20)
    users = np.tile(np.arange(20), 100)
    scores = rng.random(2000)
    ranks, active = metrics.daily_ranks(days, users, scores)
    flagged = metrics.flagged_at_budget(ranks, active, 5, scores)
    assert flagged.sum() == 10
    assert set(scores[flagged]) == set(np.sort(scores)[-10:])


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.001, 999.0), (0.01, 990.0), (0.0105, 990.0), (0.0115, 989.0), (1.0, 0.0)],
)
def test_top_fraction_threshold_is_kth_highest_score(fraction: float, expected: float) -> None:
    # 1,000 scores 0..999: the top 0.1% is 1 user-day (999), the top 1% is 10 (990..999),
    # 1.05% is 10.5 user-days: never rounded up (10), 1.15% is 11 (989..999).
    scores = np.arange(1000, dtype=np.float64)[::-1].copy()
    assert metrics.top_fraction_threshold(scores, fraction) == expected


def test_top_fraction_threshold_without_scores_flags_nothing() -> None:
    assert metrics.top_fraction_threshold([], 0.01) == math.inf


@pytest.mark.parametrize(
    ("flagged", "expected"),
    [
        ([True, False, True, False, False], 1),  # day 10 is before the window and ignored
        ([False, True, False, False, False], 0),
        ([True, False, False, False, False], None),  # flagged only before the window
        ([False, False, False, False, True], None),  # flagged only after the window
    ],
)
def test_detection_delay_counts_from_first_malicious_day_within_window(
    flagged: list[bool], expected: int | None
) -> None:
    days = [10, 11, 12, 13, 14]
    assert metrics.detection_delay(days, flagged, 11, 13) == expected


@pytest.mark.parametrize(
    ("delays", "expected"),
    [([0, 3, None, 2], (2.0, 3)), ([1, 4], (2.5, 4)), ([None], (None, None)), ([], (None, None))],
)
def test_summarize_delays_skips_misses(
    delays: list[int | None], expected: tuple[float | None, int | None]
) -> None:
    assert metrics.summarize_delays(delays) == expected
