"""`molehunt ledger verify|prove|consistency|export|record|log`: the evidence ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context
from molehunt.errors import LedgerError, MolehuntError
from molehunt.store import Store


def _read_only(obj: Context) -> Store:
    """Open the workspace without write access: checking evidence never changes it."""
    return Store.open(
        obj.workspace,
        create=False,
        read_only=True,
        memory_limit=obj.memory_limit,
        allow_missing_batches=True,
    )


@main.group()
def ledger() -> None:
    """Prove that stored events, scores, marked copies and analyst actions were not altered."""


@ledger.command("verify")
@click.option(
    "--against",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Checkpoints exported earlier (`ledger export`) and held elsewhere.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def ledger_verify(obj: Context, against: Path | None, as_json: bool) -> None:
    """Check every entry, checkpoint, batch file, score day and marked copy; exit 1 on tampering."""
    from molehunt.ledger import verify_ledger

    try:
        store = _read_only(obj)
    except MolehuntError:
        raise
    except Exception as error:  # the boundary: a workspace damaged below the ledger
        from molehunt.ledger.evidence import unreadable_batch_files

        damaged = unreadable_batch_files(obj.workspace.absolute())
        first = f"{damaged[0]} is damaged" if damaged else str(error).splitlines()[0]
        raise LedgerError(
            f"ledger verification failed: the workspace cannot be opened: {first}"
        ) from error
    with store:
        report = verify_ledger(store, against)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif report.is_valid:
        obj.console.print(
            f"ledger verified: {report.entries:,} entries, {report.checkpoints:,} checkpoints; "
            f"{report.batches:,} batches, {report.score_days:,} score days, "
            f"{report.marked_copies:,} marked copies, {report.account_rows:,} ranges of machine "
            f"and service accounts' rows and {report.analyst_actions:,} analyst actions unchanged"
        )
    if not report.is_valid:
        problem = report.problems[0]
        more = len(report.problems) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        if not as_json:
            for each in report.problems:
                click.echo(f"entry {'-' if each.entry is None else each.entry}: {each.message}")
        click.echo(f"Error: ledger verification failed: {problem.message}{suffix}", err=True)
        sys.exit(1)


@ledger.command("prove")
@click.argument("entry", type=int)
@click.option("--size", type=int, default=None, help="Checkpoint size (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the proof as JSON.")
@pass_context
def ledger_prove(obj: Context, entry: int, size: int | None, as_json: bool) -> None:
    """Prove that ENTRY is in the log under a signed checkpoint (RFC 6962 audit path)."""
    from molehunt.ledger import prove_inclusion

    with _read_only(obj) as store:
        proof = prove_inclusion(store, entry, size)
    _print_proof(obj, proof, as_json)
    if as_json:
        return
    data = proof["entry"]
    obj.console.print(f"entry {data['index']}: {data['canonical']}")
    obj.console.print(f"leaf hash {proof['leaf_hash']}")
    obj.console.print(f"tree size {proof['tree_size']}, root {proof['root']}")
    for number, node in enumerate(proof["audit_path"]):
        obj.console.print(f"  path[{number}] {node}")
    obj.console.print(f"verifier {proof['verifier']}")
    obj.console.print("proof verifies" if proof["valid"] else "proof does NOT verify")


@ledger.command("consistency")
@click.argument("old_size", type=int)
@click.argument("new_size", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the proof as JSON.")
@pass_context
def ledger_consistency(obj: Context, old_size: int, new_size: int | None, as_json: bool) -> None:
    """Prove that the checkpoint of OLD_SIZE is a prefix of NEW_SIZE's (default: latest)."""
    from molehunt.ledger import prove_consistency

    with _read_only(obj) as store:
        proof = prove_consistency(store, old_size, new_size)
    _print_proof(obj, proof, as_json)
    if as_json:
        return
    obj.console.print(f"old: size {proof['old_size']}, root {proof['old_root']}")
    obj.console.print(f"new: size {proof['new_size']}, root {proof['new_root']}")
    for number, node in enumerate(proof["proof"]):
        obj.console.print(f"  proof[{number}] {node}")
    obj.console.print("proof verifies" if proof["valid"] else "proof does NOT verify")


def _print_proof(obj: Context, proof: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(proof, indent=2, ensure_ascii=False))
    if not proof["valid"]:
        click.echo("Error: the proof does not verify: run `molehunt ledger verify`", err=True)
        sys.exit(1)


@ledger.command("export")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@pass_context
def ledger_export(obj: Context, out: Path) -> None:
    """Write the verifier key and every signed checkpoint to OUT, for a third party to hold."""
    from molehunt.ledger import export_checkpoints

    with _read_only(obj) as store:
        text = export_checkpoints(store)
    out.write_text(text, encoding="utf-8")
    count = text.count("\n\u2014 ")
    obj.console.print(f"wrote {count:,} checkpoints to {out}")


@ledger.command("record")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_context
def ledger_record(obj: Context, as_json: bool) -> None:
    """Record batches, score days, marked copies, analyst actions and the rows of machine and
    service accounts not yet in the ledger."""
    from molehunt.ledger import (
        record_account_rows,
        record_analyst_actions,
        record_batches,
        record_marked_copies,
        record_score_days,
    )

    with obj.open_store(create=False) as store:
        counts = {
            "batches": record_batches(store),
            "score_days": record_score_days(store, None, None, only_new=True),
            "marked_copies": record_marked_copies(store),
            "analyst_actions": record_analyst_actions(store),
            "account_rows": record_account_rows(store),
        }
    if as_json:
        click.echo(json.dumps(counts, indent=2))
    else:
        obj.console.print(
            ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items())
            + " recorded"
        )


@ledger.command("log")
@click.option(
    "--kind",
    default=None,
    help="Only entries of this kind (batch, score_day, marked_copy, analyst_action, account_rows).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def ledger_log(obj: Context, kind: str | None, as_json: bool) -> None:
    """List the ledger's entries."""
    from molehunt.ledger import read_entries

    with _read_only(obj) as store:
        entries = [e for e in read_entries(store) if kind is None or e.kind == kind]
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False))
        return
    table = Table(box=None, pad_edge=False)
    for name in ("entry", "kind", "subject", "sha256", "rows"):
        table.add_column(name, justify="right" if name in ("entry", "rows") else "left")
    for entry in entries:
        fields = entry.fields()
        rows = fields.get("rows")
        table.add_row(
            str(entry.index),
            entry.kind,
            entry.subject,
            str(fields.get("sha256", ""))[:16],
            "" if rows is None else f"{rows:,}",
        )
    obj.console.print(table)
