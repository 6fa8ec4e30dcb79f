"""`molehunt detect`, `queue`, `explain`, `export`, `rules`, `evaluate`: detection at work."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import click
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context

# -- detect, queue, explain, export, rules ------------------------------------------------------

_rules_option = click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Extra rule file or folder (repeatable); <workspace>/rules is always read.",
)

_date_option = click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day (YYYY-MM-DD); default: the last scored day.",
)


@main.command()
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day to compute (YYYY-MM-DD); default: the last day with events.",
)
@_rules_option
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where features, rules and scores are computed: the embedded DuckDB, or Apache Spark "
    "(pip install 'molehunt[spark]'; docs/spark.md). Both give the same results.",
)
@click.option(
    "--spark-master",
    default=None,
    metavar="URL",
    help="Spark master with --engine spark: local[N], spark://HOST:PORT, yarn, "
    "k8s://https://HOST:PORT (default local[*]).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def detect(
    obj: Context,
    until: datetime.datetime | None,
    rule_paths: tuple[Path, ...],
    engine: str,
    spark_master: str | None,
    as_json: bool,
) -> None:
    """Compute features, rule hits and risk scores for every day not yet scored."""
    from molehunt.score import run_detection

    if spark_master is not None and engine != "spark":
        raise click.UsageError("--spark-master needs --engine spark")
    run = run_detection
    if engine == "spark":
        from functools import partial

        from molehunt.spark import DEFAULT_MASTER, run_detection_spark

        run = partial(run_detection_spark, master=spark_master or DEFAULT_MASTER)
    with obj.open_store(create=False) as store:
        if obj.interactive:
            with obj.console.status("detecting") as spinner:
                summary = run(
                    store,
                    until.date() if until else None,
                    lambda stage: spinner.update(f"detecting: {stage}"),
                    rule_paths=rule_paths,
                )
        else:
            summary = run(store, until.date() if until else None, rule_paths=rule_paths)
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
@_date_option
@click.option("--top", type=int, default=10, show_default=True, help="How many people.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def queue(obj: Context, day: datetime.datetime | None, top: int, as_json: bool) -> None:
    """Rank the riskiest people of a day, with the reasons."""
    from molehunt.score import daily_queue, render_queue

    with obj.open_store(create=False) as store:
        entries = daily_queue(store, _day(day), top)
    if as_json:
        click.echo(json.dumps([entry.to_dict() for entry in entries], indent=2, default=str))
    else:
        click.echo(render_queue(entries).rstrip("\n"))


@main.command()
@click.argument("user")
@_date_option
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

    with obj.open_store(create=False) as store:
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

    with obj.open_store(create=False) as store:
        rows = export_scores(store, out)
    obj.console.print(f"wrote {rows:,} user-days to {out}")


@export.command("findings")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "output",
    type=click.Choice(["ocsf", "alert"]),
    default="ocsf",
    show_default=True,
    help="ocsf: OCSF 1.3.0 Detection Finding (class 2004); alert: molehunt's alert object.",
)
@click.option(
    "--min-score",
    type=float,
    default=50.0,
    show_default=True,
    help="Rule hits of user-days scored at least this (50: the days molehunt alerts on).",
)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@_rules_option
@pass_context
def export_findings_command(
    obj: Context,
    out: Path,
    output: str,
    min_score: float,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    rule_paths: tuple[Path, ...],
) -> None:
    """Write the findings of scored days as JSON Lines (OUT '-': standard output)."""
    from molehunt.watch.findings import export_findings

    with obj.open_store(create=False) as store:
        count = export_findings(store, out, output, min_score, _day(since), _day(until), rule_paths)
    if str(out) != "-":
        obj.console.print(f"wrote {count:,} findings to {out}")


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

    with obj.open_store(create=False) as store:
        result = run_evaluation(store, answers_dir, dataset)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render_evaluation(result).rstrip("\n"))
