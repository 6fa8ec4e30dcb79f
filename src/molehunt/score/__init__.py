"""Risk scores per user-day, the daily queue and the score export."""

from __future__ import annotations

from molehunt.score.pipeline import DetectionSummary, run_detection
from molehunt.score.queue import (
    Alert,
    QueueEntry,
    alert_history,
    daily_queue,
    export_scores,
    render_queue,
)
from molehunt.score.risk import DEFAULT_SCORING, ScoringConfig

__all__ = [
    "DEFAULT_SCORING",
    "Alert",
    "DetectionSummary",
    "QueueEntry",
    "ScoringConfig",
    "alert_history",
    "daily_queue",
    "export_scores",
    "render_queue",
    "run_detection",
]
