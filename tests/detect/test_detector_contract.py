"""Every registered detector: fit on past only, higher = riskier, [0, 1], deterministic."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from molehunt.detect import DetectorError, detectors


def _data(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(500, 6))


@pytest.mark.parametrize("name", sorted(detectors))
def test_outlier_scores_higher_and_in_unit_interval(name: str) -> None:
    model = detectors[name](random_state=3).fit(_data(1))
    rows = np.vstack([np.zeros(6), np.full(6, 8.0)])
    scores = model.score(rows)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert scores[1] > scores[0]


@pytest.mark.parametrize("name", sorted(detectors))
def test_deterministic_under_a_seed(name: str) -> None:
    rows = _data(2)
    first = detectors[name](random_state=5).fit(_data(1)).score(rows)
    second = detectors[name](random_state=5).fit(_data(1)).score(rows)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("name", sorted(detectors))
def test_scoring_does_not_refit(name: str) -> None:
    """Scores depend on the training rows only: scoring new rows never changes the model."""
    model = detectors[name](random_state=5).fit(_data(1))
    probe = _data(9)[:10]
    before = model.score(probe)
    model.score(np.full((50, 6), 100.0))
    assert np.array_equal(before, model.score(probe))


@pytest.mark.parametrize("name", sorted(detectors))
def test_score_before_fit_is_an_error(name: str) -> None:
    with pytest.raises(DetectorError, match="not fitted"):
        detectors[name]().score(np.zeros((1, 6)))


@pytest.mark.parametrize("name", sorted(detectors))
def test_fit_rejects_nan(name: str) -> None:
    with pytest.raises(DetectorError, match="NaN"):
        detectors[name]().fit(np.full((5, 2), np.nan))


@pytest.mark.parametrize("name", sorted(detectors))
def test_fitted_state_ends_in_underscore_and_init_stores_arguments(name: str) -> None:
    model = detectors[name](random_state=4)
    assert all(not key.endswith("_") for key in vars(model))
    model.fit(_data(1))
    assert any(key.endswith("_") for key in vars(model))
    assert model.get_params()["random_state"] == 4


def test_the_cli_starts_without_importing_scikit_learn() -> None:
    """scikit-learn is imported when a model is fitted, not when a command starts."""
    code = "import sys, molehunt.cli; print('sklearn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
