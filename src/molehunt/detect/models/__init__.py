"""Unsupervised detectors, registered by name (`detectors["isolation_forest"]`)."""

from __future__ import annotations

from molehunt.detect.models.base import BaseDetector
from molehunt.detect.models.isolation_forest import IsolationForestDetector
from molehunt.detect.models.robust_z import RobustZDetector

detectors: dict[str, type[BaseDetector]] = {
    "isolation_forest": IsolationForestDetector,
    "robust_z": RobustZDetector,
}

__all__ = ["BaseDetector", "IsolationForestDetector", "RobustZDetector", "detectors"]
