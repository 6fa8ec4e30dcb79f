"""The workspace store: DuckDB tables plus immutable Parquet event batches."""

from __future__ import annotations

from molehunt.store.database import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store"]
