"""`molehunt demo`: the whole story on a simulated institute, from nothing to explained alerts."""

from __future__ import annotations

import time
from pathlib import Path

import click

from molehunt.cli.base import Context, main, pass_context


@main.command()
@click.option("--users", type=int, default=300, show_default=True, help="People employed.")
@click.option("--days", type=int, default=150, show_default=True, help="Days simulated.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the simulated release goes [default: WORKSPACE/demo-data].",
)
@click.option("--top", type=int, default=5, show_default=True, help="Queue length shown.")
@click.option(
    "--explain",
    "explained",
    type=int,
    default=2,
    show_default=True,
    help="How many of the queue to explain.",
)
@pass_context
def demo(
    obj: Context, users: int, days: int, seed: int, data: Path | None, top: int, explained: int
) -> None:
    """Simulate an institute with one insider per scenario, ingest, detect, show the alerts."""
    from molehunt.context import ingest_context
    from molehunt.explain import explain_user, render_explanation
    from molehunt.ingest import ingest_cert
    from molehunt.score import alert_history, daily_queue, render_queue, run_detection
    from molehunt.score.risk import OPERATING_THRESHOLD
    from molehunt.simulate import SCENARIOS, SimulationConfig, simulate

    folder = data or obj.workspace / "demo-data"
    started = time.perf_counter()
    say = click.echo
    config = SimulationConfig(
        outdir=folder,
        users=users,
        days=days,
        seed=seed,
        scenarios=tuple((name, 1) for name in SCENARIOS),
        force=True,
    )
    summary = simulate(config)
    say(
        f"1. simulated {users} people x {days} days with {len(summary.insiders)} planted "
        f"insiders: {sum(summary.events.values()):,} events in {folder}"
    )
    with obj.open_store() as store:
        report = ingest_cert(store, folder)
        context = ingest_context(store, folder / "context")
        say(
            f"2. ingested {report.stored:,} rows ({report.rejected} rejected) and "
            f"{context.stored:,} context records into {store.root}"
        )
        detection = run_detection(store)
        say(
            f"3. scored {detection.user_days:,} new user-days with {detection.rules} rules "
            f"and an anomaly model"
        )
        say("4. today's queue:")
        click.echo(render_queue(daily_queue(store, None, top)).rstrip("\n"))
        alerts = alert_history(store)
        planted = {user: scenario for scenario, user in summary.insiders}
        say(f"5. alerts over the period (score >= {OPERATING_THRESHOLD:g}): {len(alerts)} people")
        for alert in alerts:
            truth = f"planted: {planted[alert.user]}" if alert.user in planted else "not planted"
            say(
                f"  {alert.first_day}  {alert.user:<9} peak {alert.peak_score:5.1f} on "
                f"{alert.peak_day}, {alert.days:>3} day(s)  ({truth})"
            )
        strongest = sorted(alerts, key=lambda a: -a.peak_score)[:explained]
        for alert in strongest:
            say(f"\n6. why {alert.user} was raised on {alert.first_day}:")
            explanation = explain_user(store, alert.user, alert.first_day)
            click.echo(render_explanation(explanation).rstrip("\n"))
    missed = sorted(set(planted) - {alert.user for alert in alerts})
    say(
        f"\nplanted insiders: {len(planted)}; raised: {len(planted) - len(missed)}"
        + (f"; not raised: {', '.join(missed)}" if missed else "")
    )
    say(
        f"done in {time.perf_counter() - started:.0f} s; try `molehunt evaluate --answers "
        f"{folder / 'answers'}`"
    )
