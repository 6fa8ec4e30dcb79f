"""Analyst actions of the workbench (its audit log) are in the ledger; editing one is caught."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from molehunt.cli import main
from molehunt.serve.workbench import Workbench
from molehunt.store import Store
from molehunt.store.database import WORKBENCH_FILE, WORKBENCH_SCHEMA


def _ledger(workspace: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "ledger", *args])
    return result.exit_code, result.output


def _act(workspace: Path) -> None:
    """An analyst looks at a person and an investigator reveals who it is."""
    bench = Workbench(workspace, now=lambda: datetime(2010, 1, 20, 9, 0, tzinfo=UTC))
    try:
        _, analyst = bench.create_token("ann", "analyst")
        _, investigator = bench.create_token("ivan", "investigator")
        bench.record(bench.principal(analyst), "view_person", "P-1234")
        bench.record(bench.principal(investigator), "reveal", "P-1234", {"reason": "case 1"})
    finally:
        bench.close()


def _audit(workspace: Path, sql: str) -> None:
    with Store.open(workspace, database=WORKBENCH_FILE, schema=WORKBENCH_SCHEMA) as workbench:
        with workbench.transaction() as connection:
            connection.execute(sql)


def test_analyst_actions_are_recorded_once_and_verify(workspace: Path) -> None:
    _act(workspace)
    code, output = _ledger(workspace, "verify")
    assert code == 1 and "is not in the ledger (run `molehunt ledger record`)" in output
    code, output = _ledger(workspace, "record", "--json")
    assert code == 0 and '"analyst_actions": ' in output
    assert _ledger(workspace, "record", "--json")[1].count('"analyst_actions": 0') == 1
    code, output = _ledger(workspace, "verify")
    assert code == 0 and "analyst actions unchanged" in output


def test_an_edited_or_deleted_audit_row_is_named(workspace: Path) -> None:
    _act(workspace)
    _ledger(workspace, "record")
    _audit(workspace, "UPDATE audit_log SET subject = 'P-9999' WHERE action = 'reveal'")
    code, output = _ledger(workspace, "verify")
    assert code == 1 and "the audit row was edited" in output
    _audit(workspace, "DELETE FROM audit_log WHERE action = 'reveal'")
    code, output = _ledger(workspace, "verify")
    assert code == 1 and "the audit row was deleted" in output
