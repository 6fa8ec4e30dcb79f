"""Robust z-score detector: the largest per-feature deviation from the training median."""

from __future__ import annotations

import numpy as np

from molehunt.detect.models.base import BaseDetector, Matrix


class RobustZDetector(BaseDetector):
    """Scores a row by its largest |x - median| / (1.4826 MAD + floor) over features.

    Args:
        floor: Added to the scale so constant features do not divide by zero.
        random_state: Unused (the detector is deterministic); kept for the common contract.
    """

    def __init__(self, floor: float = 1.0, random_state: int = 0) -> None:
        super().__init__(random_state)
        self.floor = floor

    def _fit(self, matrix: Matrix) -> None:
        self.median_ = np.median(matrix, axis=0)
        self.scale_ = 1.4826 * np.median(np.abs(matrix - self.median_), axis=0) + self.floor

    def _raw_score(self, matrix: Matrix) -> Matrix:
        return np.asarray(
            np.max(np.abs(matrix - self.median_) / self.scale_, axis=1), dtype=np.float64
        )
