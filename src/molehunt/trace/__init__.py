"""Leak tracing: marked copies per recipient (`mark`), and which copy a leaked text came from."""

from __future__ import annotations

from molehunt.trace.mark import mark_document
from molehunt.trace.tracer import CONFIDENCE_THRESHOLD, TraceReport, read_leak, trace_text

__all__ = ["CONFIDENCE_THRESHOLD", "TraceReport", "mark_document", "read_leak", "trace_text"]
