"""The detector contract: fit on past days only, score in [0, 1], higher = riskier."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import NDArray

from molehunt.detect.errors import DetectorError

Matrix = NDArray[np.float64]


class BaseDetector(ABC):
    """An unsupervised anomaly detector over user-day feature vectors.

    Subclasses store constructor arguments only; fitted state ends in `_` (`reference_`,
    the sorted training scores used to turn raw scores into percentiles).

    Args:
        random_state: Seed for any randomness (deterministic under a seed).
    """

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    @abstractmethod
    def _fit(self, matrix: Matrix) -> None:
        """Learn from training rows (days strictly before those later scored)."""

    @abstractmethod
    def _raw_score(self, matrix: Matrix) -> Matrix:
        """Return raw anomaly scores, higher = more anomalous."""

    def fit(self, matrix: Matrix) -> BaseDetector:
        """Fit on rows of past user-days.

        Args:
            matrix: Shape (rows, features), finite values.

        Returns:
            self.

        Raises:
            DetectorError: Fewer than 2 rows, or non-finite values.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] < 2:
            raise DetectorError(f"fit needs a 2-D matrix of >= 2 rows, got shape {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise DetectorError("fit matrix holds NaN or infinite values")
        self._fit(matrix)
        self.n_features_ = matrix.shape[1]
        self.reference_ = np.sort(self._raw_score(matrix))
        return self

    def score(self, matrix: Matrix) -> Matrix:
        """Score rows: the fraction of training rows scoring lower (0..1, higher = riskier).

        Args:
            matrix: Shape (rows, features) with the fitted number of features.

        Returns:
            One score in [0, 1] per row.

        Raises:
            DetectorError: Not fitted, or the wrong number of features.
        """
        if not hasattr(self, "reference_"):
            raise DetectorError(f"{type(self).__name__} is not fitted; call fit first")
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features_:
            raise DetectorError(
                f"expected {self.n_features_} features per row, got shape {matrix.shape}"
            )
        raw = self._raw_score(np.nan_to_num(matrix))
        ranks = np.searchsorted(self.reference_, raw, side="right")
        return np.asarray(ranks / len(self.reference_), dtype=np.float64)

    def get_params(self) -> dict[str, Any]:
        """Return the constructor arguments.

        Returns:
            Name -> value.
        """
        return {name: value for name, value in vars(self).items() if not name.endswith("_")}
