"""The machine and service accounts' rows (`account_events`) are evidence too: recorded per
source-line range as they are ingested, and any edit, deletion or addition behind molehunt's
back is caught by `verify`."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.ingest.logs import ingest_logs
from molehunt.ledger import read_entries, verify_ledger
from molehunt.ledger.evidence import record_account_rows
from molehunt.store import Store

DAY = 1704067200  # 2024-01-01T00:00:00Z


def _squid(user: str, stamp: int) -> str:
    url = f"http://x.example/{stamp}"
    return f"{stamp}.000 5 10.1.4.7 TCP_MISS/200 100 GET {url} {user} DIRECT/1.2.3.4 text/html"


def _lines(first_hour: int, hours: int) -> list[str]:
    return [
        _squid(user, DAY + hour * 3600)
        for hour in range(first_hour, first_hour + hours)
        for user in ("alice", "SYSTEM", "PC-0042$")
    ]


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "access.log"
    log.write_text("\n".join(_lines(0, 10)) + "\n")
    workspace = tmp_path / "ws"
    with Store.open(workspace) as store:
        [got] = ingest_logs(store, [log]).files
    assert got.kept_apart == 20
    return workspace, log


def _problems(workspace: Path) -> list[tuple[int | None, str]]:
    with Store.open(workspace) as store:
        report = verify_ledger(store)
    return [(p.entry, p.message) for p in report.problems]


def _execute(workspace: Path, sql: str) -> None:
    with Store.open(workspace) as store, store.transaction() as connection:
        connection.execute(sql)


def test_ingest_records_the_rows_and_a_grown_file_adds_a_range(ingested: tuple[Path, Path]) -> None:
    workspace, log = ingested
    with Store.open(workspace) as store:
        [entry] = [e for e in read_entries(store) if e.kind == "account_rows"]
        assert entry.fields()["rows"] == 20 and entry.subject == "1:2-30"
        assert verify_ledger(store).account_rows == 1
    with log.open("a") as handle:  # the proxy goes on logging: the file is read on from there
        handle.write("\n".join(_lines(10, 5)) + "\n")
    with Store.open(workspace) as store:
        [got] = ingest_logs(store, [log]).files
        assert got.kept_apart == 10
        subjects = [e.subject for e in read_entries(store) if e.kind == "account_rows"]
        assert subjects == ["1:2-30", "1:32-45"]
        assert record_account_rows(store) == 0, "nothing recorded twice"
    assert _problems(workspace) == []


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        ("UPDATE account_events SET object = 'http://elsewhere/' WHERE source_line = 5", "altered"),
        ("DELETE FROM account_events WHERE source_line = 3", "altered (19 rows now, 20 recorded)"),
        ("UPDATE account_events SET kind = 'machine' WHERE source_line = 2", "altered"),
    ],
)
def test_an_edited_or_deleted_row_names_its_entry(
    ingested: tuple[Path, Path], tampering: str, expected: str
) -> None:
    workspace, _ = ingested
    with Store.open(workspace) as store:
        [entry] = [e for e in read_entries(store) if e.kind == "account_rows"]
    _execute(workspace, tampering)
    [(index, message)] = _problems(workspace)
    assert index == entry.index and expected in message and "source 1, lines 2-30" in message


def test_a_row_added_behind_molehunts_back_is_not_in_the_ledger(
    ingested: tuple[Path, Path],
) -> None:
    workspace, _ = ingested
    _execute(
        workspace,
        "INSERT INTO account_events SELECT * REPLACE (source_line + 1000 AS source_line) "
        "FROM account_events WHERE source_line = 2",
    )
    [(index, message)] = _problems(workspace)
    assert index is None
    assert message.startswith(
        "1 rows of machine and service accounts of source 1 (lines 1002-1002)"
    )
