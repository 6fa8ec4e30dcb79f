"""The `molehunt` command line: the only place that prints or exits."""

from __future__ import annotations

import datetime
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from molehunt import __version__
from molehunt.errors import MolehuntError
from molehunt.ingest import IngestReport, ingest_cert, ingest_events
from molehunt.store import Store
from molehunt.store.status import workspace_status

DEFAULT_WORKSPACE = ".molehunt"


class Context:
    """Options shared by every command, resolved once here and passed down."""

    def __init__(self, workspace: Path, quiet: bool, debug: bool) -> None:
        self.workspace = workspace
        self.quiet = quiet
        self.debug = debug
        self.console = Console(highlight=False)
        if not self.console.is_terminal:  # files and pipes get whole lines, not wrapped ones
            self.console = Console(highlight=False, width=200)

    @property
    def interactive(self) -> bool:
        """Show progress bars only on a terminal and when not --quiet."""
        return not self.quiet and self.console.is_terminal

    def open_store(self, *, create: bool = True) -> Store:
        """Open the workspace."""
        return Store.open(self.workspace, create=create)


pass_context = click.make_pass_decorator(Context)


class MolehuntGroup(click.Group):
    """A group that turns MolehuntError into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MolehuntError as error:
            if ctx.find_object(Context) is not None and ctx.find_object(Context).debug:  # type: ignore[union-attr]
                raise
            raise click.ClickException(str(error)) from None


@click.group(cls=MolehuntGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="MOLEHUNT_WORKSPACE",
    default=DEFAULT_WORKSPACE,
    show_default=True,
    help="Workspace folder (env MOLEHUNT_WORKSPACE).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="molehunt")
@click.pass_context
def main(ctx: click.Context, workspace: Path, quiet: bool, debug: bool) -> None:
    """molehunt: catch the insider while the copying happens."""
    ctx.obj = Context(workspace, quiet, debug)


# -- ingest ------------------------------------------------------------------------------------


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
        }
        for f in report.files
    ]
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
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            _short(Path(row["path"])),
            row["channel"],
            row["layout"],
            row["status"],
            f"{row['read']:,}",
            f"{row['stored']:,}",
            f"{row['rejected']:,}",
        )
    table.add_row(
        "total",
        "",
        "",
        "",
        f"{report.read:,}",
        f"{report.stored:,}",
        f"{report.rejected:,}",
        style="bold",
    )
    obj.console.print(table)
    for item in skipped:
        obj.console.print(f"skipped {item['path']}: {item['reason']}")
    if report.rejected:
        obj.console.print(
            "rejected rows are in the workspace's rejects table "
            "(`molehunt status` groups them by reason)"
        )


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
    for scenario, user in summary.insiders:
        obj.console.print(f"  planted {scenario:<28} {user}")
    if not summary.insiders:
        obj.console.print(f"  no insiders planted (scenarios: {', '.join(SCENARIOS)})")


# -- detect, queue, explain, export, rules ------------------------------------------------------

_rules_option = click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Extra rule file or folder (repeatable); <workspace>/rules is always read.",
)


@main.command()
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day to compute (YYYY-MM-DD); default: the last day with events.",
)
@_rules_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def detect(
    obj: Context, until: datetime.datetime | None, rule_paths: tuple[Path, ...], as_json: bool
) -> None:
    """Compute features, rule hits and risk scores for every day not yet scored."""
    from molehunt.score import run_detection

    with obj.open_store(create=False) as store:
        if obj.interactive:
            with obj.console.status("detecting") as spinner:
                summary = run_detection(
                    store,
                    until.date() if until else None,
                    lambda stage: spinner.update(f"detecting: {stage}"),
                    rule_paths=rule_paths,
                )
        else:
            summary = run_detection(store, until.date() if until else None, rule_paths=rule_paths)
    data = summary.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if not summary.days:
        obj.console.print(f"nothing new to score (scored up to {data['last_day'] or '-'})")
        return
    obj.console.print(
        f"scored {summary.user_days:,} user-days over {summary.days} days "
        f"({data['first_day']} .. {data['last_day']}): {summary.rule_hits:,} rule hits from "
        f"{summary.rules} rules, context {'joined' if summary.context else 'absent'}, "
        f"{summary.seconds:.1f} s"
    )


def _day(value: datetime.datetime | None) -> datetime.date | None:
    return value.date() if value else None


@main.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day (YYYY-MM-DD); default: the last scored day.",
)
@click.option("--top", type=int, default=10, show_default=True, help="How many people.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def queue(obj: Context, day: datetime.datetime | None, top: int, as_json: bool) -> None:
    """Rank the riskiest people of a day, with the reasons."""
    from molehunt.score import daily_queue, render_queue

    with Store.open(obj.workspace, create=False) as store:
        entries = daily_queue(store, _day(day), top)
    if as_json:
        click.echo(json.dumps([entry.to_dict() for entry in entries], indent=2, default=str))
    else:
        click.echo(render_queue(entries).rstrip("\n"))


@main.command()
@click.argument("user")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day (YYYY-MM-DD); default: the last scored day.",
)
@_rules_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def explain(
    obj: Context,
    user: str,
    day: datetime.datetime | None,
    rule_paths: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Explain a person's score: contributions vs own past and peers, rules, evidence."""
    from molehunt.explain import explain_user, render_explanation

    with Store.open(obj.workspace, create=False) as store:
        explanation = explain_user(store, user, _day(day), rule_paths)
    if as_json:
        click.echo(json.dumps(explanation.to_dict(), indent=2, default=str))
    else:
        click.echo(render_explanation(explanation).rstrip("\n"))


@main.group()
def export() -> None:
    """Write workspace data to files."""


@export.command("scores")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@pass_context
def export_scores_command(obj: Context, out: Path) -> None:
    """Write user,day,score for every active user-day (the score as known that day)."""
    from molehunt.score import export_scores

    with Store.open(obj.workspace, create=False) as store:
        rows = export_scores(store, out)
    obj.console.print(f"wrote {rows:,} user-days to {out}")


@main.group()
def rules() -> None:
    """List and check detection rules (built-in pack plus your YAML files)."""


@rules.command("list")
@_rules_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def rules_list(obj: Context, rule_paths: tuple[Path, ...], as_json: bool) -> None:
    """Show every rule in force: id, weight, severity, title, where it is defined."""
    from molehunt.detect import list_rules
    from molehunt.detect.loader import workspace_rule_paths

    found = list_rules([*workspace_rule_paths(obj.workspace.absolute()), *rule_paths])
    if as_json:
        click.echo(json.dumps([rule.to_dict() for rule in found], indent=2, default=str))
        return
    table = Table(box=None, pad_edge=False)
    for name in ("id", "weight", "severity", "enabled", "title", "defined in"):
        table.add_column(name, justify="right" if name == "weight" else "left")
    for rule in found:
        table.add_row(
            rule.id,
            f"{rule.weight:g}",
            rule.severity,
            "yes" if rule.enabled else "no",
            rule.title,
            str(rule.source or ""),
        )
    obj.console.print(table)


@rules.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def rules_lint(obj: Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check rule files (default: the built-in pack and <workspace>/rules); exit 1 on errors."""
    from molehunt.detect import builtin_rule_files, lint_rules
    from molehunt.detect.loader import workspace_rule_paths

    targets = list(paths) or [
        *builtin_rule_files(),
        *workspace_rule_paths(obj.workspace.absolute()),
    ]
    issues = lint_rules(targets)
    if as_json:
        click.echo(json.dumps([issue.to_dict() for issue in issues], indent=2))
    else:
        for issue in issues:
            obj.console.print(str(issue), markup=False)
        obj.console.print(f"{len(targets)} file(s) checked, {len(issues)} issue(s)")
    if any(issue.level == "error" for issue in issues):
        raise SystemExit(1)


# -- evaluate ----------------------------------------------------------------------------------


@main.command()
@click.option(
    "--answers",
    "answers_dir",
    required=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Folder of a CERT-format answer key (insiders.csv and observables files).",
)
@click.option(
    "--dataset",
    default=None,
    help="One dataset of the key (e.g. 5.2); default: incidents whose users are in the workspace.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
@pass_context
def evaluate(obj: Context, answers_dir: Path, dataset: str | None, as_json: bool) -> None:
    """Measure detection against a CERT-format answer key (AUCs, budgets, delays)."""
    from molehunt.evaluate import evaluate as run_evaluation
    from molehunt.evaluate import render_evaluation

    with Store.open(obj.workspace, create=False) as store:
        result = run_evaluation(store, answers_dir, dataset)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render_evaluation(result).rstrip("\n"))


# -- status ------------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def status(obj: Context, as_json: bool) -> None:
    """Show what the workspace holds: sources, events per channel, dates, users, rejects."""
    with Store.open(obj.workspace, create=False) as store:
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
    console.print(f"sources: {len(summary['sources'])}; rejects: {summary['rejects']['total']:,}")
    for row in summary["rejects"]["by_reason"]:
        console.print(f"  {row['rows']:>10,}  {row['reason']}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
