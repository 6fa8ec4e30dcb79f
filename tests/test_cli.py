"""The command line: exit codes, one-line errors, --json output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from tests.conftest import R42_SAMPLE, needs_samples


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version_and_help() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "molehunt" in out
    code, out, _ = run("--help")
    assert code == 0 and "ingest" in out and "status" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ingest", "cert", "{tmp}/missing"), "missing: no such file or folder"),
        (("ingest", "events", "{tmp}/missing.jsonl"), "missing.jsonl: no such file"),
        (("status",), "no molehunt workspace at"),
    ],
)
def test_user_error_is_one_line_exit_1(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = run("--workspace", str(tmp_path / "ws"), *argv)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_bad_usage_exit_2() -> None:
    code, _, err = run("ingest", "cert")
    assert code == 2 and "Missing argument" in err
    code, _, err = run("frobnicate")
    assert code == 2


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--debug", "--workspace", str(tmp_path / "ws"), "status"])
    assert result.exit_code == 1
    assert result.exception is not None


def test_ingest_events_then_status_json(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"time":"2010-01-02T07:00:00Z","user":"AAA0001","channel":"logon","action":"logon"}\n'
        '{"time":"2010-01-02T09:00:00+02:00","user":"AAA0001","channel":"http",'
        '"action":"upload","object":"http://x.org/","size_bytes":5}\n'
        "not json\n"
    )
    workspace = str(tmp_path / "ws")
    code, out, _ = run("-w", workspace, "ingest", "events", str(events), "--json")
    assert code == 0
    assert json.loads(out)["totals"] == {"read": 3, "stored": 2, "rejected": 1}
    code, out, _ = run("-w", workspace, "status", "--json")
    status = json.loads(out)
    assert status["events"] == 2
    assert status["first"] == "2010-01-02T07:00:00"
    assert status["last"] == "2010-01-02T07:00:00"  # 09:00+02:00 is 07:00 UTC
    assert status["rejects"]["total"] == 1


@needs_samples()
def test_ingest_cert_prints_reconciled_table(tmp_path: Path) -> None:
    code, out, _ = run("-w", str(tmp_path / "ws"), "ingest", "cert", str(R42_SAMPLE))
    assert code == 0
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:] == ["98,753", "98,751", "2"]
    code, out, _ = run("-w", str(tmp_path / "ws"), "status")
    assert code == 0 and "81,008 events from 1,000 users" in out


@needs_samples()
def test_evaluate_without_scores_says_run_detect(tmp_path: Path) -> None:
    from tests.conftest import ANSWERS

    workspace = str(tmp_path / "ws")
    code, out, _ = run("-w", workspace, "ingest", "cert", str(R42_SAMPLE / "LDAP"), "--json")
    assert code == 0 and json.loads(out)["totals"]["stored"] == 16_743
    code, _, err = run("-w", workspace, "evaluate", "--answers", str(ANSWERS), "--dataset", "5.2")
    assert code == 1
    assert "no scores: run `molehunt detect` first" in err


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    code, out, err = run(
        "-w", str(tmp_path / "ws"), "demo", "--users", "60", "--days", "60", "--top", "3"
    )
    assert code == 0, err
    assert "8 planted insiders" in out
    assert "4. today's queue:" in out
    assert "risk" in out and "planted insiders" in out
