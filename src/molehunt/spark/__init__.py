"""Detection on Apache Spark (`molehunt detect --engine spark`): an optional engine.

Importing this package needs no PySpark; `run_detection_spark` starts Spark when called and
says in one line what is missing (`pip install 'molehunt[spark]'`, a Java runtime, a reachable
master). See docs/spark.md.
"""

from __future__ import annotations

from molehunt.spark.engine import run_detection_spark
from molehunt.spark.session import DEFAULT_MASTER

__all__ = ["DEFAULT_MASTER", "run_detection_spark"]
