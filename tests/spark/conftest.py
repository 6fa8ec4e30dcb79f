"""One local Spark session for every Spark test (two cores, two shuffle partitions).

Outside CI a machine without PySpark or Java skips these tests; under CI=true they fail
instead, since `.ci/run` installs both (the `test` extra and a headless JRE).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from molehunt.spark.session import open_session


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A `local[2]` SparkSession, stopped at the end of the test session."""
    missing = [
        what
        for what, present in (
            ("pyspark", importlib.util.find_spec("pyspark") is not None),
            ("sqlglot", importlib.util.find_spec("sqlglot") is not None),
            ("java", shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))),
        )
        if not present
    ]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} missing under CI=true: .ci/run installs them")
        pytest.skip(f"{', '.join(missing)} not installed")
    session = open_session("local[2]", shuffle_partitions=2)
    yield session
    session.stop()
