"""Isolation forest (scikit-learn) over user-day feature vectors."""

from __future__ import annotations

import numpy as np

from molehunt.detect.models.base import BaseDetector, Matrix


class IsolationForestDetector(BaseDetector):
    """Isolation forest: rows that few random splits isolate score high.

    Args:
        n_estimators: Trees.
        max_samples: Rows per tree.
        random_state: Seed.
    """

    def __init__(
        self, n_estimators: int = 100, max_samples: int = 256, random_state: int = 0
    ) -> None:
        super().__init__(random_state)
        self.n_estimators = n_estimators
        self.max_samples = max_samples

    def _fit(self, matrix: Matrix) -> None:
        # Imported here: scikit-learn takes about a second to import, and every command
        # (`ingest`, `watch`, `status`) would pay it at start without fitting anything.
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, matrix.shape[0]),
            random_state=self.random_state,
            n_jobs=1,
        ).fit(matrix)

    def _raw_score(self, matrix: Matrix) -> Matrix:
        return np.asarray(-self.forest_.score_samples(matrix), dtype=np.float64)
