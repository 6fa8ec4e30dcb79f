"""Explanations: findings with evidence events, baselines, counterfactual boosters."""

from __future__ import annotations

from molehunt.explain.explainer import (
    counterfactual_scores,
    explain_user,
    others_mean,
    rule_evidence,
)
from molehunt.explain.finding import (
    Contribution,
    Deviation,
    EvidenceEvent,
    Explanation,
    Finding,
)
from molehunt.explain.render import render_explanation

__all__ = [
    "Contribution",
    "Deviation",
    "EvidenceEvent",
    "Explanation",
    "Finding",
    "counterfactual_scores",
    "explain_user",
    "others_mean",
    "render_explanation",
    "rule_evidence",
]
