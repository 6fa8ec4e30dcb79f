"""Randomized tamper suite: every edit, deletion, reordering, truncation or replacement of recorded
evidence is detected, and the first bad entry is named.

Each case copies a recorded workspace, changes it the way someone with file access could (SQL on
the DuckDB file, bytes of a Parquet file, lines of the checkpoints file), and runs
`verify_ledger`. Seeds pick which batch, day, row or entry is hit.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.ledger import read_entries, verify_ledger
from molehunt.ledger.checkpoint import load_key, sign_checkpoint
from molehunt.ledger.log import Entry, checkpoints_path, entry_message, export_checkpoints
from molehunt.ledger.merkle import leaf_hash, tree_root
from molehunt.store import Store

SEEDS = range(4)


def _entries(workspace: Path, kind: str | None = None) -> list[Entry]:
    with Store.open(workspace) as store:
        return [e for e in read_entries(store) if kind is None or e.kind == kind]


def _latest(workspace: Path, kind: str, subject: str) -> int:
    return max(e.index for e in _entries(workspace, kind) if e.subject == subject)


def _execute(workspace: Path, sql: str, parameters: list[object] | None = None) -> None:
    with Store.open(workspace) as store, store.transaction() as connection:
        connection.execute(sql, parameters)


def _first_problem(workspace: Path) -> tuple[int | None, str]:
    with Store.open(workspace) as store:
        report = verify_ledger(store)
    assert not report.is_valid, "tampering went undetected"
    return report.problems[0].entry, report.problems[0].message


def test_untouched_workspace_verifies(workspace: Path) -> None:
    with Store.open(workspace) as store:
        report = verify_ledger(store)
    assert report.is_valid, report.problems
    assert report.batches > 0 and report.score_days >= 10 and report.checkpoints >= 3


# -- evidence: scores and batches edited in the DuckDB file ------------------------------------


def _score_row(workspace: Path, seed: int) -> tuple[str, str]:
    with Store.open(workspace) as store:
        rows = store.query("SELECT user, CAST(day AS VARCHAR) FROM scores ORDER BY ALL")
    user, day = random.Random(seed).choice(rows)
    return str(user), str(day)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE scores SET score = score + 0.5 WHERE user = ? AND day = ?",
        "UPDATE scores SET open_case = NOT coalesce(open_case, false) WHERE user = ? AND day = ?",
        "DELETE FROM scores WHERE user = ? AND day = ?",
        "UPDATE scores SET user = 'ZZZ0000' WHERE user = ? AND day = ?",
    ],
    ids=["score", "flag", "delete-row", "user"],
)
def test_score_row_edited_in_duckdb_names_the_day(workspace: Path, seed: int, edit: str) -> None:
    user, day = _score_row(workspace, seed)
    expected = _latest(workspace, "score_day", day)
    _execute(workspace, edit, [user, day])
    entry, message = _first_problem(workspace)
    assert entry == expected and day in message and "altered" in message


@pytest.mark.parametrize("seed", SEEDS)
def test_a_whole_day_of_scores_deleted_is_named(workspace: Path, seed: int) -> None:
    _, day = _score_row(workspace, seed)
    expected = _latest(workspace, "score_day", day)
    _execute(workspace, "DELETE FROM scores WHERE day = ?", [day])
    entry, message = _first_problem(workspace)
    assert entry == expected and "0 rows now" in message


def test_scores_added_for_a_day_never_scored_are_flagged(workspace: Path) -> None:
    _execute(
        workspace, "INSERT INTO scores (user, day, score) VALUES ('ZZZ0000', '2011-01-01', 99)"
    )
    entry, message = _first_problem(workspace)
    assert entry is None and "2011-01-01" in message and "not in the ledger" in message


def _batch(workspace: Path, seed: int) -> Entry:
    return random.Random(seed).choice(_entries(workspace, "batch"))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE batches SET rows_stored = rows_stored - 1 WHERE batch_id = ?",
        "UPDATE batches SET last_line = last_line + 7 WHERE batch_id = ?",
        "DELETE FROM batches WHERE batch_id = ?",
    ],
    ids=["rows", "lines", "delete"],
)
def test_batch_row_edited_or_deleted_names_the_batch(workspace: Path, seed: int, edit: str) -> None:
    batch = _batch(workspace, seed)
    _execute(workspace, edit, [int(batch.subject)])
    entry, message = _first_problem(workspace)
    assert entry == batch.index and f"batch {batch.subject}" in message


@pytest.mark.parametrize("seed", SEEDS)
def test_a_byte_changed_in_a_parquet_batch_is_detected_and_named(
    workspace: Path, seed: int
) -> None:
    rng = random.Random(seed)
    batch = _batch(workspace, seed)
    path = workspace / batch.fields()["file"]
    data = bytearray(path.read_bytes())
    position = rng.randrange(len(data))
    data[position] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "ledger", "verify"])
    assert result.exit_code == 1
    # A flipped bit in the Parquet footer stops the workspace from opening at all; anywhere
    # else the ledger names the batch. Either way the file is named.
    assert path.name in result.stderr or f"batch {batch.subject}" in result.stderr


def test_a_forged_batch_added_behind_molehunts_back_is_flagged(workspace: Path) -> None:
    batch = _entries(workspace, "batch")[0]
    _execute(
        workspace,
        "INSERT INTO batches SELECT 999, source_id, file_name, first_line, last_line, "
        "rows_stored, created FROM batches WHERE batch_id = ?",
        [int(batch.subject)],
    )
    entry, message = _first_problem(workspace)
    assert entry is None and "batch 999" in message


# -- the log itself ------------------------------------------------------------------------------


def _index(workspace: Path, seed: int) -> int:
    return random.Random(seed).randrange(len(_entries(workspace)))


@pytest.mark.parametrize("seed", SEEDS)
def test_entry_data_edited_is_named(workspace: Path, seed: int) -> None:
    index = _index(workspace, seed)
    _execute(
        workspace,
        "UPDATE ledger_entries SET data = replace(data, '\"rows\":', '\"rows\":1') "
        "WHERE entry_index = ?",
        [index],
    )
    assert _first_problem(workspace)[0] == index


@pytest.mark.parametrize("seed", SEEDS)
def test_entry_rehashed_without_the_key_is_named(workspace: Path, seed: int) -> None:
    index = _index(workspace, seed)
    entry = _entries(workspace)[index]
    forged = entry.data.replace('"sha256":"', '"sha256":"0')
    _execute(
        workspace,
        "UPDATE ledger_entries SET data = ?, leaf_hash = ? WHERE entry_index = ?",
        [forged, leaf_hash(forged.encode()).hex(), index],
    )
    entry_index, message = _first_problem(workspace)
    assert entry_index == index and "not signed" in message


@pytest.mark.parametrize("seed", SEEDS)
def test_entry_deleted_is_named(workspace: Path, seed: int) -> None:
    index = _index(workspace, seed)
    _execute(workspace, "DELETE FROM ledger_entries WHERE entry_index = ?", [index])
    assert _first_problem(workspace)[0] == index


@pytest.mark.parametrize("seed", SEEDS)
def test_entries_reordered_name_the_first_moved(workspace: Path, seed: int) -> None:
    first, second = sorted(random.Random(seed).sample(range(len(_entries(workspace))), 2))
    _execute(
        workspace,
        "UPDATE ledger_entries SET entry_index = CASE entry_index WHEN ? THEN ? ELSE ? END "
        "WHERE entry_index IN (?, ?)",
        [first, second, first, first, second],
    )
    assert _first_problem(workspace)[0] == first


@pytest.mark.parametrize("seed", SEEDS)
def test_log_truncated_names_the_first_missing_entry(workspace: Path, seed: int) -> None:
    index = _index(workspace, seed)
    _execute(workspace, "DELETE FROM ledger_entries WHERE entry_index >= ?", [index])
    entry, message = _first_problem(workspace)
    assert entry == index and "truncated" in message


_CHECKPOINT_EDITS: dict[str, Callable[[list[str], int], None]] = {
    "size": lambda lines, at: lines.__setitem__(at + 1, str(int(lines[at + 1]) - 1)),
    "root": lambda lines, at: lines.__setitem__(at + 2, base64.b64encode(bytes(32)).decode()),
    "signature": lambda lines, at: lines.__setitem__(at + 4, lines[at + 4][:-6] + "AAAAA="),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("edit", sorted(_CHECKPOINT_EDITS))
def test_checkpoint_replaced_is_detected(workspace: Path, seed: int, edit: str) -> None:
    path = checkpoints_path(workspace)
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("molehunt/")]
    at = random.Random(seed).choice(starts)
    _CHECKPOINT_EDITS[edit](lines, at)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    number = starts.index(at) + 1
    _, message = _first_problem(workspace)
    assert f"checkpoint {number} " in message and "not signed" in message


# -- what an exported checkpoint adds: a rewrite by someone holding the workspace key -----------


def _rewrite_with_the_key(workspace: Path, index: int) -> None:
    """Edit one entry and re-sign everything after it, as someone holding the key could."""
    key = load_key(workspace, create=False)
    assert key is not None
    entries = _entries(workspace)
    forged = entries[index].data.replace('"sha256":"', '"sha256":"f')
    leaf = leaf_hash(forged.encode()).hex()
    signature = base64.b64encode(key.sign(entry_message(index, leaf))).decode()
    _execute(
        workspace,
        "UPDATE ledger_entries SET data = ?, leaf_hash = ?, signature = ? WHERE entry_index = ?",
        [forged, leaf, signature, index],
    )
    leaves = [bytes.fromhex(e.leaf_hash) for e in _entries(workspace)]
    checkpoint = sign_checkpoint(key, len(leaves), tree_root(leaves))
    checkpoints_path(workspace).write_text(checkpoint.to_text() + "\n", encoding="utf-8")


@pytest.mark.parametrize("seed", SEEDS)
def test_history_rewritten_with_the_key_is_caught_by_an_exported_checkpoint(
    workspace: Path, seed: int, tmp_path: Path
) -> None:
    exported = tmp_path / "held-by-the-auditor.txt"
    with Store.open(workspace) as store:
        exported.write_text(export_checkpoints(store), encoding="utf-8")
    index = _index(workspace, seed)
    _rewrite_with_the_key(workspace, index)
    with Store.open(workspace) as store:
        report = verify_ledger(store, exported)
    assert not report.is_valid
    assert any(p.check == "export" for p in report.problems)
