"""`molehunt ingest ...` and `molehunt simulate`: getting data into a workspace."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context
from molehunt.ingest import IngestReport, ingest_cert, ingest_events
from molehunt.ingest.logs import FORMATS as LOG_FORMATS


@main.group()
def ingest() -> None:
    """Load activity logs and context into the workspace."""


@contextmanager
def _progress(obj: Context, paths: list[Path]) -> Iterator[Callable[[Path, int, int], None] | None]:
    if not obj.interactive:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>9,.0f} rows/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=obj.console, transient=True) as bar:
        tasks: dict[Path, tuple[Any, float]] = {}

        def update(path: Path, done: int, rows: int) -> None:
            if path not in tasks:
                size = path.stat().st_size if not path.name.endswith(".gz") else None
                task = bar.add_task(path.name, total=size, rows=0, rate=0.0)
                tasks[path] = (task, time.monotonic())
            task, started = tasks[path]
            rate = rows / max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, rows=rows, rate=rate)

        yield update


def _print_ingest(obj: Context, report: IngestReport, as_json: bool) -> None:
    rows: list[dict[str, Any]] = [
        {
            "path": str(f.path),
            "channel": f.channel,
            "layout": f.layout,
            "status": f.status,
            "read": f.read,
            "stored": f.stored,
            "rejected": f.rejected,
            **(
                {
                    "skipped": f.skipped,
                    "kept_apart": f.kept_apart,
                    "skip_reasons": dict(f.skip_reasons),
                    **({"notes": list(f.notes)} if f.notes else {}),
                }
                if f.layout in LOG_FORMATS
                else {}
            ),
        }
        for f in report.files
    ]
    with_skips = any("skipped" in row for row in rows)
    skipped = [{"path": str(p), "reason": reason} for p, reason in report.skipped]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "files": rows,
                    "skipped": skipped,
                    "totals": {
                        "read": report.read,
                        "stored": report.stored,
                        "rejected": report.rejected,
                        **({"skipped": sum(f.skipped for f in report.files)} if with_skips else {}),
                    },
                },
                indent=2,
            )
        )
        return
    table = Table(title=None, box=None, pad_edge=False)
    for name, justify in (
        ("file", "left"),
        ("channel", "left"),
        ("layout", "left"),
        ("status", "left"),
        ("read", "right"),
        ("stored", "right"),
        ("rejected", "right"),
        *((("skipped", "right"), ("kept apart", "right")) if with_skips else ()),
    ):
        table.add_column(name, justify=justify)
    for row in rows:
        table.add_row(
            _short(Path(row["path"])),
            row["channel"],
            row["layout"],
            row["status"],
            f"{row['read']:,}",
            f"{row['stored']:,}",
            f"{row['rejected']:,}",
            *(
                (f"{row.get('skipped', 0):,}", f"{row.get('kept_apart', 0):,}")
                if with_skips
                else ()
            ),
        )
    table.add_row(
        "total",
        "",
        "",
        "",
        f"{report.read:,}",
        f"{report.stored:,}",
        f"{report.rejected:,}",
        *(
            (
                f"{sum(f.skipped for f in report.files):,}",
                f"{sum(f.kept_apart for f in report.files):,}",
            )
            if with_skips
            else ()
        ),
        style="bold",
    )
    obj.console.print(table)
    for row in rows:
        reasons = row.get("skip_reasons") or {}
        if reasons:
            items = list(reasons.items())
            shown = "; ".join(f"{reason} ({count:,})" for reason, count in items[:_SHOWN_REASONS])
            if len(items) > _SHOWN_REASONS:
                shown += f"; {len(items) - _SHOWN_REASONS} more reasons (--json lists them)"
            obj.console.print(f"skipped in {_short(Path(row['path']))}: {shown}")
    for row in rows:
        for note in row.get("notes") or ():
            obj.console.print(f"{_short(Path(row['path']))}: {note}")
    for item in skipped:
        obj.console.print(f"skipped {item['path']}: {item['reason']}")
    if report.rejected:
        obj.console.print(
            "rejected rows are in the workspace's rejects table "
            "(`molehunt status` groups them by reason)"
        )
    if any(row.get("kept_apart") for row in rows):
        obj.console.print(
            "kept apart: skipped records of machine and service accounts, stored in the "
            "account_events table, never scored (`molehunt status` counts them per account)"
        )


_SHOWN_REASONS = 6


def _short(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


@ingest.command("cert")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the per-file counts as JSON.")
@pass_context
def ingest_cert_command(obj: Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Ingest CERT Insider Threat release folders or files (r4.2, r5.2, r6.2; plain or gzip)."""
    with obj.open_store() as store:
        total = IngestReport()
        for path in paths:
            with _progress(obj, [path]) as progress:
                report = ingest_cert(store, path, progress)
            total.files.extend(report.files)
            total.skipped.extend(report.skipped)
    _print_ingest(obj, total, as_json)


@ingest.command("events")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the per-file counts as JSON.")
@pass_context
def ingest_events_command(obj: Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Ingest JSON Lines event files (plain or gzip) in molehunt's event schema."""
    with obj.open_store() as store, _progress(obj, list(files)) as progress:
        report = ingest_events(store, list(files), progress)
    _print_ingest(obj, report, as_json)


@ingest.command("logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "log_format",
    type=click.Choice(list(LOG_FORMATS)),
    default="auto",
    show_default=True,
    help="The files' format; auto tells it from each file's first bytes.",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA zone of local times without an offset (Postfix syslog, CUPS).",
)
@click.option(
    "--removable-drives",
    default="",
    metavar="LETTERS",
    help="Drive letters removable media mount at, e.g. E-Z or E,F: Windows file events on "
    "them (Sysmon 11, File System 4663) count as copies to or from removable media.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the per-file counts as JSON.")
@pass_context
def ingest_logs_command(
    obj: Context,
    paths: tuple[Path, ...],
    log_format: str,
    timezone: str,
    removable_drives: str,
    as_json: bool,
) -> None:
    """Ingest native logs: Windows EVTX, Squid, Exchange, Zeek smtp, Postfix, CUPS.

    Records a format carries that molehunt does not use (other event ids, machine accounts,
    sessions without a message) are counted as skipped, with their reasons (docs/logs.md).
    Accounts, SIDs and addresses are mapped to people through the identity map
    (`molehunt ingest identities`) and LDAP snapshots ingested before.
    """
    from molehunt.ingest.logs import ingest_logs
    from molehunt.ingest.logs.windows import parse_drives

    drives = parse_drives(removable_drives) if removable_drives else frozenset[str]()
    with obj.open_store() as store, _progress(obj, list(paths)) as progress:
        report = ingest_logs(store, list(paths), log_format, progress, timezone, drives)
    _print_ingest(obj, report, as_json)


@ingest.command("identities")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_context
def ingest_identities_command(obj: Context, file: Path, as_json: bool) -> None:
    """Replace the identity map: accounts, SIDs, e-mail, hosts, IP ranges -> people.

    CSV columns: person (required), account, sid, email, host, ip, valid_from, valid_to,
    kind (person, service or machine); several values in a cell are separated by ';'.
    Ingest it before the logs it should resolve (docs/logs.md).
    """
    from molehunt.ingest.logs.identity_map import ingest_identities

    with obj.open_store() as store:
        count, people = ingest_identities(store, file)
    if as_json:
        click.echo(json.dumps({"path": str(file), "identities": count, "people": people}))
        return
    obj.console.print(f"{count:,} identities of {people:,} people from {file}")


@ingest.command("context")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the per-file counts as JSON.")
@pass_context
def ingest_context_command(obj: Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Ingest context: document registry, clearances, HR events, travel (docs/context.md)."""
    from molehunt.context import ingest_context

    with obj.open_store() as store:
        total = IngestReport()
        for path in paths:
            with _progress(obj, [path]) as progress:
                report = ingest_context(store, path, progress)
            total.files.extend(report.files)
            total.skipped.extend(report.skipped)
    _print_ingest(obj, total, as_json)


# -- simulate ----------------------------------------------------------------------------------


@main.command()
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--users", type=int, default=200, show_default=True, help="People employed.")
@click.option("--days", type=int, default=120, show_default=True, help="Days simulated.")
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2010-01-04",
    show_default=True,
    help="First day (YYYY-MM-DD).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--scenario",
    "scenario_texts",
    multiple=True,
    metavar="NAME[:COUNT]",
    help="Plant COUNT insiders of scenario NAME (repeatable).",
)
@click.option("--layout", type=click.Choice(["r6.2", "r4.2"]), default="r6.2", show_default=True)
@click.option("--gzip", "compress", is_flag=True, help="Write .csv.gz files.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["cert", "native"]),
    default="cert",
    show_default=True,
    help="cert: CERT-format activity files; native: Windows event XML, Squid, Postfix and "
    "CUPS logs plus an identity map in OUTDIR/native (docs/simulate.md).",
)
@click.option("--force", is_flag=True, help="Overwrite a non-empty OUTDIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def simulate(
    obj: Context,
    outdir: Path,
    users: int,
    days: int,
    start: datetime.datetime,
    seed: int,
    scenario_texts: tuple[str, ...],
    layout: str,
    compress: bool,
    output_format: str,
    force: bool,
    as_json: bool,
) -> None:
    """Write a synthetic institute with planted insiders as a CERT-format release."""
    from molehunt.simulate import SCENARIOS, SimulationConfig, parse_scenario
    from molehunt.simulate import simulate as run_simulation

    config = SimulationConfig(
        outdir=outdir,
        users=users,
        days=days,
        start=start.date(),
        seed=seed,
        scenarios=tuple(parse_scenario(text) for text in scenario_texts),
        layout=layout,
        gzip=compress,
        force=force,
        output_format=output_format,
    )
    if obj.interactive:
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("day {task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=obj.console,
            transient=True,
        ) as bar:
            task = bar.add_task("simulate", total=days)
            summary = run_simulation(config, lambda done, total: bar.update(task, completed=done))
    else:
        summary = run_simulation(config)
    data = {
        "outdir": str(summary.outdir),
        "users": summary.users,
        "days": summary.days,
        "events": summary.events,
        "insiders": [{"scenario": s, "user": u} for s, u in summary.insiders],
        "native": summary.native,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    total = sum(summary.events.values())
    counts = ", ".join(f"{name} {count:,}" for name, count in summary.events.items())
    obj.console.print(
        f"wrote {total:,} events ({counts}) for {summary.users:,} people over {summary.days} "
        f"days to {summary.outdir}"
    )
    if summary.native:
        files = ", ".join(f"{name} {count:,}" for name, count in summary.native.items())
        obj.console.print(f"  as native logs in {summary.outdir / 'native'}: {files}")
    for scenario, user in summary.insiders:
        obj.console.print(f"  planted {scenario:<28} {user}")
    if not summary.insiders:
        obj.console.print(f"  no insiders planted (scenarios: {', '.join(SCENARIOS)})")
