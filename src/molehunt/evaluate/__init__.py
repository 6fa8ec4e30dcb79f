"""Evaluate detection against CERT-format answer keys (`molehunt evaluate`, docs/evaluation.md)."""

from __future__ import annotations

from molehunt.evaluate.answers import EvaluationError, Incident, Observable, load_answers
from molehunt.evaluate.metrics import BUDGETS_PER_THOUSAND, OPERATING_BUDGET, TOP_FRACTIONS
from molehunt.evaluate.render import render_evaluation
from molehunt.evaluate.report import Evaluation, InsiderResult, ScenarioResult, evaluate

__all__ = [
    "BUDGETS_PER_THOUSAND",
    "OPERATING_BUDGET",
    "TOP_FRACTIONS",
    "Evaluation",
    "EvaluationError",
    "Incident",
    "InsiderResult",
    "Observable",
    "ScenarioResult",
    "evaluate",
    "load_answers",
    "render_evaluation",
]
