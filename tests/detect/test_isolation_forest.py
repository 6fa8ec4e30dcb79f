"""The isolation forest scores its fitted trees with numpy exactly as scikit-learn does.

What must hold for a user: model scores are scikit-learn's `IsolationForest` scores to the
last bit (no score, rank or alert moves), and a detector kept in the workspace is used by a
nightly run without importing scikit-learn (about 2 s of the process).
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from molehunt.detect.models.isolation_forest import IsolationForestDetector


def _counts(seed: int, rows: int, columns: int = 12) -> np.ndarray:
    """Feature-like rows: mostly small counts with ties and zeros, heavy tails, some NaN-free
    derived values."""
    generator = np.random.default_rng(seed)
    counts = generator.poisson(generator.uniform(0.05, 6, size=columns), size=(rows, columns))
    spikes = generator.random((rows, columns)) < 0.01
    derived = generator.normal(size=(rows, 3)) * 2.5
    return np.hstack([np.where(spikes, counts * 40, counts), derived]).astype(np.float64)


@pytest.mark.parametrize(("seed", "rows"), [(1, 2_000), (2, 300), (3, 150)])
def test_scores_equal_scikit_learns_bit_for_bit(seed: int, rows: int) -> None:
    training, probe = _counts(seed, rows), _counts(seed + 100, 1_000)
    detector = IsolationForestDetector(random_state=7).fit(training)
    kept = pickle.loads(pickle.dumps(detector, protocol=5))  # as the model cache keeps it
    assert hasattr(detector, "_fitted_trees") and not hasattr(kept, "_fitted_trees")
    forest = IsolationForest(
        n_estimators=100, max_samples=min(256, rows), random_state=7, n_jobs=1
    ).fit(training)
    for matrix in (probe, training, probe * 1.5 + 0.25, _on_thresholds(forest, seed)):
        expected = -forest.score_samples(matrix)
        assert np.array_equal(detector._raw_score(matrix), expected), "scikit-learn's trees"
        assert np.array_equal(kept._raw_score(matrix), expected), "the arrays' numpy walk"
    assert np.array_equal(kept.reference_, detector.reference_)


def _on_thresholds(forest: IsolationForest, seed: int) -> np.ndarray:
    """Rows whose values sit on the trees' split thresholds or the next double above: where
    comparing float32 rows (scikit-learn's) and float64 rows part ways."""
    generator = np.random.default_rng(seed)
    columns = forest.n_features_in_
    thresholds: list[list[float]] = [[] for _ in range(columns)]
    for tree in forest.estimators_:
        for feature, threshold in zip(tree.tree_.feature, tree.tree_.threshold, strict=True):
            if feature >= 0:
                thresholds[feature].append(threshold)
    picked = [generator.choice(values, size=500) for values in thresholds]
    rows = np.column_stack(picked)
    return np.vstack([rows, np.nextafter(rows, np.inf)])


def test_a_kept_detector_scores_without_importing_scikit_learn() -> None:
    training, probe = _counts(4, 800), _counts(5, 50)
    detector = IsolationForestDetector(random_state=1).fit(training)
    blob = pickle.dumps(detector, protocol=5)
    script = (
        "import pickle, sys\n"
        "import numpy as np\n"
        "detector = pickle.loads(sys.stdin.buffer.read())\n"
        f"probe = np.frombuffer({probe.tobytes()!r}).reshape({probe.shape})\n"
        "scores = detector.score(probe)\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
        "sys.stdout.buffer.write(scores.tobytes())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=blob, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert np.array_equal(np.frombuffer(done.stdout), detector.score(probe))
