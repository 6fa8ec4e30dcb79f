"""Start a Spark session for `molehunt detect --engine spark`, or say in one line why not."""

from __future__ import annotations

import os
import shutil
import socket
import warnings
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from molehunt.errors import ConfigError

DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "pip install 'molehunt[spark]'"
CONNECT_TIMEOUT = 5.0
# Settings that make Spark compute what DuckDB computes: UTC wall times (DuckDB's workspace
# runs in UTC), size(NULL) = NULL and division by zero = NULL (DuckDB's semantics, not ANSI
# errors), no console progress bars (molehunt prints its own).
SESSION_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}


def check_master(master: str) -> None:
    """Fail with one line when a cluster master's address does not accept connections.

    `local[...]` needs no check; `spark://h1:p1,h2:p2` and `k8s://https://host:port` are
    tried with a TCP connect (Spark itself would retry for minutes before failing).

    Args:
        master: The master URL.

    Raises:
        ConfigError: The URL is malformed or no listed address accepts a connection.
    """
    if master.startswith("local") or master == "yarn":
        return
    if master.startswith("spark://"):
        addresses = master.removeprefix("spark://").split(",")
    elif master.startswith("k8s://"):
        addresses = [urlsplit(master.removeprefix("k8s://")).netloc]
    else:
        raise ConfigError(
            f"--spark-master {master!r}: expected local[N], spark://HOST:PORT, yarn or "
            "k8s://https://HOST:PORT"
        )
    failures = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--spark-master {master!r}: expected HOST:PORT, got {address!r}")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
                return
        except OSError as error:
            failures.append(f"{address}: {error.strerror or error}")
    raise ConfigError(f"Spark master {master} unreachable ({'; '.join(failures)})")


def check_java(environ: dict[str, str] | None = None) -> None:
    """Fail with one line when no Java runtime can be found for Spark.

    Args:
        environ: The environment (default: the process's).

    Raises:
        ConfigError: Neither JAVA_HOME/bin/java nor `java` on PATH exists.
    """
    env = os.environ if environ is None else environ
    home = env.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return
    if shutil.which("java", path=env.get("PATH")):
        return
    raise ConfigError(
        "--engine spark needs a Java 17+ runtime: no java on PATH and JAVA_HOME unset "
        "(e.g. apt-get install openjdk-17-jre-headless)"
    )


def open_session(master: str = DEFAULT_MASTER, shuffle_partitions: int | None = None) -> Any:
    """Return a Spark session on `master`, checked for PySpark, Java and the master first.

    Args:
        master: Spark master URL (`local[*]`, `spark://host:7077`, ...).
        shuffle_partitions: `spark.sql.shuffle.partitions` (None: Spark's default, 200; a
            small number suits `local` runs).

    Returns:
        The `pyspark.sql.SparkSession`.

    Raises:
        ConfigError: PySpark is not installed, Java is missing, or the master is unreachable
            or refuses the application.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise ConfigError(
            f"--engine spark needs PySpark, which is not installed: {INSTALL_HINT}"
        ) from error
    with warnings.catch_warnings(), suppress(ImportError):
        # PySpark's helper module warns on import about the pandas version; molehunt passes
        # no pandas objects. Imported here once, it does not warn again later.
        warnings.filterwarnings("ignore", "PySpark does not yet", FutureWarning)
        import pyspark.testing.utils  # noqa: F401
    check_java()
    check_master(master)
    builder = SparkSession.builder.master(master).appName("molehunt detect")
    for key, value in SESSION_SETTINGS.items():
        builder = builder.config(key, value)
    if shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    try:
        session = builder.getOrCreate()
    except Exception as error:  # the JVM's failures arrive as several exception types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot start Spark on {master}: {first}") from error
    session.sparkContext.setLogLevel("ERROR")
    for key, value in SESSION_SETTINGS.items():
        if key.startswith("spark.sql."):
            session.conf.set(key, value)
    return session
