"""`molehunt ledger`: verify, prove, consistency, export, record, log as a user runs them."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from molehunt.cli import main
from molehunt.ledger.checkpoint import LedgerKey, parse_checkpoints, parse_verifier
from molehunt.ledger.merkle import leaf_hash, root_from_inclusion, verify_consistency
from molehunt.score import run_detection
from molehunt.store import Store


def run(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--workspace", str(workspace), *args])
    return result.exit_code, result.stdout, result.stderr


def test_verifier_keys_round_trip_whatever_their_base64() -> None:
    for number in range(20):
        private = Ed25519PrivateKey.generate()
        key = LedgerKey(f"molehunt/test-{number}", private, private.public_key())
        assert parse_verifier(key.verifier).verifier == key.verifier


def test_verify_of_a_clean_workspace_exits_0_and_counts(workspace: Path) -> None:
    with Store.open(workspace) as store:
        days = store.query("SELECT count(DISTINCT day) FROM scores")[0][0]
    code, out, err = run(workspace, "ledger", "verify")
    assert code == 0, err
    assert "ledger verified" in out and f"{days} score days" in out
    code, out, _ = run(workspace, "ledger", "verify", "--json")
    assert code == 0 and json.loads(out)["valid"] is True


def test_verify_after_an_edit_exits_1_with_one_line_naming_the_entry(workspace: Path) -> None:
    with Store.open(workspace) as store, store.transaction() as connection:
        connection.execute("UPDATE scores SET score = score + 1 WHERE day = '2010-01-05'")
    code, out, err = run(workspace, "ledger", "verify")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "score_day 2010-01-05" in err and "altered" in err
    code, out, _ = run(workspace, "ledger", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["valid"] is False and report["first_bad_entry"] is not None


def test_inclusion_proof_checks_out_with_only_the_exported_material(workspace: Path) -> None:
    """A third party re-derives the root from the entry's bytes and checks the signature."""
    code, out, err = run(workspace, "ledger", "prove", "3", "--json")
    assert code == 0, err
    proof = json.loads(out)
    leaf = leaf_hash(proof["entry"]["canonical"].encode())
    path = [bytes.fromhex(node) for node in proof["audit_path"]]
    root = root_from_inclusion(3, proof["tree_size"], leaf, path)
    (checkpoint,) = parse_checkpoints(proof["checkpoint"], "proof")
    assert checkpoint.root == root
    assert checkpoint.is_signed_by(parse_verifier(proof["verifier"]))


def test_consistency_between_two_checkpoints_verifies(workspace: Path) -> None:
    sizes = [c.size for c in parse_checkpoints((workspace / "ledger/checkpoints").read_text(), "")]
    code, out, err = run(workspace, "ledger", "consistency", str(sizes[0]), "--json")
    assert code == 0, err
    proof = json.loads(out)
    assert verify_consistency(
        proof["old_size"],
        proof["new_size"],
        bytes.fromhex(proof["old_root"]),
        bytes.fromhex(proof["new_root"]),
        [bytes.fromhex(node) for node in proof["proof"]],
    )
    code, _, err = run(workspace, "ledger", "consistency", "99999")
    assert code == 1 and "no checkpoint of size 99999" in err


def test_export_then_verify_against_it(workspace: Path, tmp_path: Path) -> None:
    exported = tmp_path / "checkpoints.txt"
    code, out, _ = run(workspace, "ledger", "export", str(exported))
    assert code == 0 and "checkpoints to" in out
    code, out, err = run(workspace, "ledger", "verify", "--against", str(exported))
    assert code == 0, err


def test_replaced_key_is_reported_against_the_export(workspace: Path, tmp_path: Path) -> None:
    exported = tmp_path / "checkpoints.txt"
    run(workspace, "ledger", "export", str(exported))
    other = Ed25519PrivateKey.generate()
    name = parse_verifier((workspace / "ledger/verifier.key").read_text()).name
    raw = other.public_key().public_bytes_raw()
    forged = LedgerKey(name, other, other.public_key())
    assert base64.b64decode(forged.verifier.split("+", 2)[2])[1:] == raw
    exported.write_text(
        exported.read_text().replace(
            parse_verifier((workspace / "ledger/verifier.key").read_text()).verifier,
            forged.verifier,
        )
    )
    code, _, err = run(workspace, "ledger", "verify", "--against", str(exported))
    assert code == 1 and "key" in err


def test_a_recomputing_detect_run_is_recorded_not_flagged(workspace: Path) -> None:
    """Changed detection settings rescore every day: new entries, and verify still passes."""
    with Store.open(workspace) as store:
        before = store.query("SELECT count(*) FROM ledger_entries")[0][0]
        summary = run_detection(store, seed=7)
        after = store.query("SELECT count(*) FROM ledger_entries")[0][0]
    assert summary.recomputed and after >= before
    code, _, err = run(workspace, "ledger", "verify")
    assert code == 0, err


def test_an_incremental_detect_run_records_only_its_new_days(tmp_path: Path) -> None:
    from molehunt.ingest import ingest_events

    events = tmp_path / "events.jsonl"
    lines = [
        json.dumps(
            {
                "time": f"2010-01-{day:02d}T09:00:00",
                "user": "ABC0001",
                "channel": "logon",
                "action": "logon",
                "host": "PC-1",
            }
        )
        for day in range(4, 12)
    ]
    events.write_text("\n".join(lines) + "\n")
    with Store.open(tmp_path / "ws") as store:
        ingest_events(store, [events])
        run_detection(store, date(2010, 1, 6))
        days = store.query("SELECT subject FROM ledger_entries WHERE kind = 'score_day'")
        run_detection(store)
        later = store.query("SELECT subject FROM ledger_entries WHERE kind = 'score_day'")
    assert sorted(d for (d,) in days) == ["2010-01-04", "2010-01-05", "2010-01-06"]
    assert len(later) == 8 and len(set(later)) == 8


def test_record_adds_nothing_twice_and_log_lists_entries(workspace: Path) -> None:
    code, out, _ = run(workspace, "ledger", "record", "--json")
    assert code == 0 and json.loads(out) == {
        "batches": 0,
        "score_days": 0,
        "marked_copies": 0,
        "analyst_actions": 0,
        "account_rows": 0,
    }
    code, out, _ = run(workspace, "ledger", "log", "--kind", "batch", "--json")
    assert code == 0 and all(e["kind"] == "batch" for e in json.loads(out))
    code, out, _ = run(workspace, "ledger", "log")
    assert code == 0 and "score_day" in out


def test_ledger_commands_on_a_workspace_without_ledger_fail_cleanly(tmp_path: Path) -> None:
    Store.open(tmp_path / "ws").close()
    for args in (("verify",), ("prove", "0"), ("export", str(tmp_path / "x"))):
        code, _, err = run(tmp_path / "ws", "ledger", *args)
        assert code == 1 and "no ledger yet" in err and len(err.strip().splitlines()) == 1


def test_a_recompute_to_an_earlier_day_records_the_dropped_days(workspace: Path) -> None:
    with Store.open(workspace) as store:
        run_detection(store, date(2010, 1, 10), seed=3)  # new settings: recompute, fewer days
        emptied = store.query(
            "SELECT count(*) FROM ledger_entries WHERE kind = 'score_day' "
            "AND data LIKE '%\"rows\":0,%'"
        )[0][0]
    assert emptied > 0
    code, _, err = run(workspace, "ledger", "verify")
    assert code == 0, err


def test_verify_never_changes_the_workspace_it_checks(workspace: Path) -> None:
    """A writable open would sweep the orphaned Parquet file away: verify keeps the evidence."""
    with Store.open(workspace) as store:
        (batch_file,) = store.query("SELECT file_name FROM batches WHERE batch_id = 1")[0]
        with store.transaction() as connection:
            connection.execute("DELETE FROM batches WHERE batch_id = 1")
    code, _, err = run(workspace, "ledger", "verify")
    assert code == 1 and "batch 1" in err
    assert (workspace / batch_file).exists()
