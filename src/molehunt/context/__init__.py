"""Context: what is classified, who may see it, HR events and travel, and the signals they give.

`ingest_context` reads the context files; `label_events` gives every file, attachment and upload
event a classification level; `compute_context_daily` turns labels and context into per user-day
signals (`context_daily`) and seals leaver records, which `leaver_record` returns.
"""

from __future__ import annotations

from molehunt.context.ingest import ingest_context
from molehunt.context.labels import label_events
from molehunt.context.leaver import leaver_record, seal_leaver_records, verify_leaver_record
from molehunt.context.marking import marking_rank
from molehunt.context.scale import ClassificationScale, load_scales, scales
from molehunt.context.signals import compute_context_daily

__all__ = [
    "ClassificationScale",
    "compute_context_daily",
    "ingest_context",
    "label_events",
    "leaver_record",
    "load_scales",
    "marking_rank",
    "scales",
    "seal_leaver_records",
    "verify_leaver_record",
]
