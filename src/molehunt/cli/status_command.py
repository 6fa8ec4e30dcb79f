"""`molehunt status`: what a workspace holds."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context
from molehunt.store.status import workspace_status

_SHOWN_UNMAPPED = 20


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Show what the workspace holds: sources, events per channel, dates, users, rejects."""
    with obj.open_store(create=False) as store:
        summary = workspace_status(store)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    console = obj.console
    console.print(f"workspace {summary['workspace']}")
    console.print(
        f"{summary['events']:,} events from {summary['users']:,} users, "
        f"{summary['first'] or '-'} .. {summary['last'] or '-'}"
    )
    table = Table(box=None, pad_edge=False)
    for name in ("channel", "events", "users", "first", "last"):
        table.add_column(name, justify="right" if name in ("events", "users") else "left")
    for row in summary["channels"]:
        table.add_row(
            row["channel"], f"{row['events']:,}", f"{row['users']:,}", row["first"], row["last"]
        )
    console.print(table)
    people = summary["people"]
    console.print(
        f"people: {people['users']:,} users in {people['snapshots']} LDAP snapshots "
        f"({people['first_month'] or '-'} .. {people['last_month'] or '-'}); "
        f"psychometrics {summary['psychometrics']:,}; decoys {summary['decoys']:,}"
    )
    context = summary["context"]
    console.print(
        f"context: {context['documents']:,} documents, {context['clearances']:,} clearances, "
        f"{context['hr_events']:,} HR events, {context['travel']:,} trips"
    )
    identities = summary["identities"]
    unmapped = identities["unmapped"]
    if unmapped or identities["mapped"]:
        console.print(
            f"identity map: {identities['mapped']:,} identities; unmapped identities in native "
            f"logs: {len(unmapped):,} ({sum(row['events'] for row in unmapped):,} events)"
        )
        _print_most(console, [f"{row['events']:>10,}  {row['identity']}" for row in unmapped])
    accounts = summary["accounts"]
    if accounts:
        console.print(
            f"machine and service accounts (kept apart, not scored): {len(accounts):,} "
            f"({sum(row['events'] for row in accounts):,} events)"
        )
        _print_most(
            console, [f"{row['events']:>10,}  {row['user']} ({row['kind']})" for row in accounts]
        )
    console.print(f"sources: {len(summary['sources'])}; rejects: {summary['rejects']['total']:,}")
    for row in summary["rejects"]["by_reason"]:
        console.print(f"  {row['rows']:>10,}  {row['reason']}")


def _print_most(console: Console, lines: list[str]) -> None:
    """Print the first `_SHOWN_UNMAPPED` lines (most events first), then how many more."""
    for line in lines[:_SHOWN_UNMAPPED]:
        console.print(f"  {line}")
    if len(lines) > _SHOWN_UNMAPPED:
        console.print(f"  ... {len(lines) - _SHOWN_UNMAPPED:,} more (--json lists all)")
