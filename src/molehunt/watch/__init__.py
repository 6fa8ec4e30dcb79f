"""Streaming: follow growing inputs, alert on critical rule hits within the day, close days.

`watch` sits after `score` in the pipeline: it ingests with `molehunt.ingest`, runs the compiled
critical rules on the open days, and closes each day with `molehunt.score.run_detection`.
"""

from __future__ import annotations

from molehunt.watch.alerts import CRITICAL_WEIGHT, WatchAlert, is_critical
from molehunt.watch.follow import Notice
from molehunt.watch.listener import SyslogListener, message_payload
from molehunt.watch.ocsf import missing_required, to_detection_finding
from molehunt.watch.sinks import SinkSpec
from molehunt.watch.watcher import WatchConfig, Watcher, WatchStats

__all__ = [
    "CRITICAL_WEIGHT",
    "Notice",
    "SinkSpec",
    "SyslogListener",
    "WatchAlert",
    "WatchConfig",
    "WatchStats",
    "Watcher",
    "is_critical",
    "message_payload",
    "missing_required",
    "to_detection_finding",
]
