"""Ingest: parse, validate and normalise sources into the store; bad rows go to `rejects`."""

from __future__ import annotations

from molehunt.ingest.cert import IngestReport, ingest_cert
from molehunt.ingest.jsonl import ingest_events
from molehunt.ingest.source import FileReport

__all__ = ["FileReport", "IngestReport", "ingest_cert", "ingest_events"]
