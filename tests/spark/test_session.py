"""A missing PySpark or Java, or an unreachable master, is one clear line (no Spark needed)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import ConfigError
from molehunt.spark.session import check_java, check_master, open_session


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_check_master_unreachable_names_the_address() -> None:
    port = _closed_port()
    with pytest.raises(ConfigError, match=rf"Spark master spark://127.0.0.1:{port} unreachable"):
        check_master(f"spark://127.0.0.1:{port}")


def test_check_master_listening_address_passes() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_master(f"spark://127.0.0.1:{server.getsockname()[1]}")
    check_master("local[2]")


@pytest.mark.parametrize("master", ["mesos://h:5050", "spark://nohost", "spark://h:port"])
def test_check_master_malformed_url_is_refused(master: str) -> None:
    with pytest.raises(ConfigError, match="--spark-master"):
        check_master(master)


def test_check_java_without_java_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a Java 17\\+ runtime"):
        check_java({"PATH": str(tmp_path)})
    (tmp_path / "bin").mkdir()
    java = tmp_path / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    check_java({"PATH": "", "JAVA_HOME": str(tmp_path)})


def test_open_session_without_pyspark_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match=r"pip install 'molehunt\[spark\]'"):
        open_session("local[1]")


def test_cli_detect_spark_unreachable_master_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    runner = CliRunner()
    workspace = str(tmp_path / "ws")
    events = tmp_path / "events.jsonl"
    event = {"time": "2010-01-04T08:00:00Z", "user": "AAA0001", "channel": "logon"}
    events.write_text(json.dumps(event | {"action": "logon"}) + "\n", encoding="utf-8")
    ingested = runner.invoke(main, ["--workspace", workspace, "ingest", "events", str(events)])
    assert ingested.exit_code == 0, ingested.output
    result = runner.invoke(
        main,
        [
            "--workspace",
            workspace,
            "detect",
            "--engine",
            "spark",
            "--spark-master",
            f"spark://127.0.0.1:{port}",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "unreachable" in result.output and "Traceback" not in result.output


def test_cli_spark_master_without_spark_engine_is_bad_usage(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--workspace", str(tmp_path), "detect", "--spark-master", "local[2]"]
    )
    assert result.exit_code == 2
    assert "--spark-master needs --engine spark" in result.output


def test_base_import_loads_neither_pyspark_nor_sqlglot() -> None:
    """The CLI and `molehunt.spark` import without the `spark` extra's packages."""
    code = (
        "import sys, molehunt.cli, molehunt.score, molehunt.spark; "
        "print(sorted(m for m in ('pyspark', 'sqlglot', 'py4j') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
