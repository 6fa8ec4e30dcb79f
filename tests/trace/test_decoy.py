"""Decoy documents: a registered honeytoken touched by anyone is a rule hit that day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.errors import TraceError
from molehunt.ingest import ingest_events
from molehunt.score import run_detection
from molehunt.store import Store
from molehunt.trace.decoy import add_decoys, list_decoys


def _events(path: Path) -> None:
    lines = []
    for day in range(4, 15):
        for user in ("ABC0001", "ABC0002"):
            lines.append(
                {
                    "time": f"2010-01-{day:02d}T09:00:00",
                    "user": user,
                    "host": "PC-1",
                    "channel": "logon",
                    "action": "logon",
                }
            )
            lines.append(
                {
                    "time": f"2010-01-{day:02d}T10:00:00",
                    "user": user,
                    "host": "PC-1",
                    "channel": "file",
                    "action": "open",
                    "object": f"C:\\work\\notes-{day}.txt",
                }
            )
    lines.append(
        {
            "time": "2010-01-12T11:00:00",
            "user": "ABC0002",
            "host": "PC-1",
            "channel": "file",
            "action": "copy",
            "object": "C:\\proj\\Budget-2011.xlsx",
        }
    )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")


def test_a_registered_decoy_touched_is_a_rule_hit_for_that_person_and_day(tmp_path: Path) -> None:
    _events(tmp_path / "events.jsonl")
    with Store.open(tmp_path / "ws") as store:
        assert add_decoys(store, ["D:\\share\\budget-2011.xlsx"]) == 1
        assert add_decoys(store, ["BUDGET-2011.XLSX"]) == 0  # names compare case-insensitively
        ingest_events(store, [tmp_path / "events.jsonl"])
        run_detection(store)
        hits = store.query(
            "SELECT user, CAST(day AS VARCHAR) FROM rule_hits WHERE rule_id = 'decoy-file-touched'"
        )
        assert list_decoys(store)[0]["origin"] == "registered"
    assert hits == [("ABC0002", "2010-01-12")]


def test_an_empty_decoy_name_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "ws") as store, pytest.raises(TraceError, match="no file name"):
        add_decoys(store, ["  "])


def test_cli_decoy_add_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    workspace = ["--workspace", str(tmp_path / "ws")]
    result = runner.invoke(main, [*workspace, "decoy", "add", "plan-x.docx", "--host", "PC-9"])
    assert result.exit_code == 0 and "1 decoy registered" in result.stdout
    result = runner.invoke(main, [*workspace, "decoy", "list", "--json"])
    assert json.loads(result.stdout) == [
        {"file_name": "plan-x.docx", "host": "PC-9", "origin": "registered"}
    ]
