"""Per user-day features computed in SQL from the `events` view (docs/features.md)."""

from __future__ import annotations

from molehunt.features.catalog import (
    CONTEXT_COLUMNS,
    FeatureDefinition,
    base_feature,
    feature_names,
    load_domains,
    load_features,
)
from molehunt.features.daily import compute_features, has_context

__all__ = [
    "CONTEXT_COLUMNS",
    "FeatureDefinition",
    "base_feature",
    "compute_features",
    "feature_names",
    "has_context",
    "load_domains",
    "load_features",
]
