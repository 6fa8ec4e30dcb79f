"""`molehunt mark` and `molehunt trace`: marked copies per recipient, and whose copy leaked."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context


@main.command()
@click.argument("doc", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--to", "recipients", multiple=True, required=True, help="Recipient (repeatable).")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Output folder."
)
@click.option("--json", "as_json", is_flag=True, help="Print the issued copies as JSON.")
@pass_context
def mark(obj: Context, doc: Path, recipients: tuple[str, ...], out: Path, as_json: bool) -> None:
    """Write one imperceptibly different copy of DOC per recipient (.txt or .md; en or zh)."""
    from molehunt.trace import mark_document

    with obj.open_store() as store:
        copies = mark_document(store, doc, list(recipients), out)
    if as_json:
        click.echo(json.dumps(copies, indent=2, default=str, ensure_ascii=False))
        return
    level = copies[0]["level"] or "no registry classification"
    obj.console.print(
        f"{len(copies)} marked copies of {doc.name} in {out} ({copies[0]['sites']} marked places; "
        f"{level}); recorded in the ledger"
    )
    table = Table(box=None, pad_edge=False)
    for name in ("recipient", "mark id", "file"):
        table.add_column(name)
    for row in copies:
        table.add_row(row["recipient"], row["mark_id"], row["file_name"])
    obj.console.print(table)


@main.command()
@click.argument("leaked", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--top", type=int, default=5, show_default=True, help="Candidates to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def trace(obj: Context, leaked: Path, top: int, as_json: bool) -> None:
    """Say which marked document LEAKED comes from and whose copy it was (or whose copies)."""
    from molehunt.trace import CONFIDENCE_THRESHOLD, read_leak, trace_text

    with obj.open_store(create=False) as store:
        report = trace_text(store, read_leak(leaked), top)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    console = obj.console
    if not report.documents:
        console.print("no marked document matches this text")
        return
    for document in report.documents:
        console.print(
            f"document {document['name']} ({document['doc_id']}, "
            f"{document['level'] or 'unclassified'}): "
            f"{document['containment']:.0%} of the text's shingles"
        )
    for leaver in report.leavers:
        console.print(
            f"sealed leaver record: {leaver['user']} (last day {leaver['last_day']}) took "
            f"{leaver['document']} ({leaver['level'] or '-'}) on {', '.join(leaver['days'])} "
            f"via {', '.join(leaver['channels'])}"
        )
    console.print(f"{report.sites} marked places observed")
    if report.attributed:
        names = ", ".join(c.recipient for c in report.attributed)
        what = "merged from the copies of" if report.is_merge else "the copy of"
        console.print(f"leaked: {what} {names}")
    else:
        console.print(f"no copy reaches confidence {CONFIDENCE_THRESHOLD} (too short a fragment?)")
    table = Table(box=None, pad_edge=False)
    for name in ("recipient", "mark id", "agree", "log10 p", "confidence"):
        table.add_column(name, justify="left" if name in ("recipient", "mark id") else "right")
    for candidate in report.candidates:
        table.add_row(
            candidate.recipient,
            candidate.mark_id,
            f"{candidate.matches}/{candidate.observed}",
            f"{candidate.log10_p:.1f}",
            f"{candidate.confidence:.6f}",
        )
    console.print(table)


@main.group()
def decoy() -> None:
    """Decoy (honeytoken) documents: any file event on one is a critical rule hit."""


@decoy.command("add")
@click.argument("names", nargs=-1, required=True)
@click.option("--host", default=None, help="The machine the decoys sit on.")
@pass_context
def decoy_add(obj: Context, names: tuple[str, ...], host: str | None) -> None:
    """Register decoy documents by file name (or path); detection flags every touch."""
    from molehunt.trace.decoy import add_decoys

    with obj.open_store() as store:
        added = add_decoys(store, list(names), host)
    obj.console.print(
        f"{added} decoy{'s' if added != 1 else ''} registered; file events on them hit "
        "decoy-file-touched from the next detected day on"
    )


@decoy.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def decoy_list(obj: Context, as_json: bool) -> None:
    """List decoys: registered here and from CERT decoy_file.csv."""
    from molehunt.trace.decoy import list_decoys

    with obj.open_store(create=False) as store:
        decoys = list_decoys(store)
    if as_json:
        click.echo(json.dumps(decoys, indent=2, ensure_ascii=False))
        return
    table = Table(box=None, pad_edge=False)
    for name in ("file name", "host", "origin"):
        table.add_column(name)
    for row in decoys:
        table.add_row(row["file_name"], row["host"] or "", row["origin"])
    obj.console.print(table)
