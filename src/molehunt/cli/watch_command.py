"""`molehunt watch`: follow growing inputs, alert within the day, close each day."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context
from molehunt.watch import Notice, SinkSpec, SyslogListener, WatchConfig, Watcher, WatchStats
from molehunt.watch.listener import spool_path
from molehunt.watch.watcher import (
    DEFAULT_COMMIT_SECONDS,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_POLL_SECONDS,
)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--sink",
    "sinks",
    multiple=True,
    metavar="[ocsf+]KIND:TARGET",
    help=(
        "Where alerts go (repeatable): jsonl:FILE, stdout, webhook:URL, syslog:udp://HOST:PORT "
        "or syslog:tcp://HOST:PORT; prefix ocsf+ for OCSF Detection Findings. Default: stdout."
    ),
)
@click.option(
    "--syslog-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Also listen for syslog (UDP and TCP) on 127.0.0.1:PORT; messages are JSON events.",
)
@click.option(
    "--grace",
    type=click.FloatRange(0),
    default=DEFAULT_GRACE_SECONDS,
    show_default=True,
    help="Seconds after the first event of a later day before a day some input has not "
    "finished is closed anyway.",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.01),
    default=DEFAULT_POLL_SECONDS,
    show_default=True,
    help="Seconds between polls of idle inputs.",
)
@click.option(
    "--commit-every",
    type=click.FloatRange(0),
    default=DEFAULT_COMMIT_SECONDS,
    show_default=True,
    help="Seconds new lines are held (already seen by the alert rules) before they are "
    "committed as one batch; 0 commits every poll.",
)
@click.option(
    "--exit-when-idle",
    type=click.FloatRange(0),
    default=None,
    help="Stop after this many seconds without new lines (default: run until stopped).",
)
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Extra rule file or folder (repeatable); <workspace>/rules is always read.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@pass_context
def watch(
    obj: Context,
    paths: tuple[Path, ...],
    sinks: tuple[str, ...],
    syslog_port: int | None,
    grace: float,
    poll: float,
    commit_every: float,
    exit_when_idle: float | None,
    rule_paths: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Follow growing CERT CSV and JSON Lines files; alert on critical rule hits at once.

    New complete lines are ingested as `molehunt ingest` would (same rejects, same resume
    offsets). A critical rule (severity critical, or weight >= 80) that fires on today's
    events so far raises an alert at once (measured latency: docs/watch.md); each day is
    closed with the scores a batch `molehunt detect` gives, once every input has moved past
    it or --grace seconds after the first later event. Ctrl-C or SIGTERM stops cleanly: what
    was read is committed, sinks are flushed.
    """
    if not paths and syslog_port is None:
        raise click.UsageError("give at least one PATH to follow, or --syslog-port")
    specs = [SinkSpec.parse(text) for text in sinks or ("stdout",)]
    config = WatchConfig(
        grace_seconds=grace,
        poll_seconds=poll,
        commit_seconds=commit_every,
        idle_exit_seconds=exit_when_idle,
        rule_paths=rule_paths,
    )
    stop = threading.Event()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stats, files = _run(obj, list(paths), specs, syslog_port, config, stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    _print_summary(obj, stats, files, as_json)


def _run(
    obj: Context,
    paths: list[Path],
    specs: list[SinkSpec],
    syslog_port: int | None,
    config: WatchConfig,
    stop: threading.Event,
) -> tuple[WatchStats, list[dict[str, Any]]]:
    def warn(message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    def notify(notice: Notice) -> None:
        if notice.kind == "closed":
            if obj.interactive:
                obj.console.print(notice.message)
        elif notice.kind != "missing" or obj.interactive:
            warn(notice.message)

    with obj.open_store() as store:
        listener = None
        if syslog_port is not None:
            listener = SyslogListener(syslog_port, spool_path(store.root, syslog_port))
            listener.start()
            paths.append(listener.spool)
            if obj.interactive:
                obj.console.print(f"listening for syslog on 127.0.0.1:{listener.port}")
        opened = [spec.open(warn) for spec in specs]
        watcher = Watcher(store, paths, opened, config, notify)
        try:
            if obj.interactive:
                with obj.console.status("watching") as spinner:
                    watcher.run(stop, lambda: spinner.update(_status(watcher)))
            else:
                watcher.run(stop)
            if listener is not None:
                listener.stop()  # then what it received is read below
            watcher.finish()
        finally:
            if listener is not None:
                listener.stop()
            watcher.close()
        files = [
            {
                "path": str(f.path),
                "read": sum(r.read for r in f.reports),
                "stored": sum(r.stored for r in f.reports),
                "rejected": sum(r.rejected for r in f.reports),
            }
            for f in watcher.files
        ]
        return watcher.stats, files


def _status(watcher: Watcher) -> str:
    stats = watcher.stats
    closed = watcher.last_closed()
    return (
        f"watching: {stats.read:,} lines read, {stats.stored:,} stored, {stats.rejected:,} "
        f"rejected; {stats.alerts:,} alerts; closed up to {closed or '-'}, newest day "
        f"{watcher.newest or '-'}"
    )


def _print_summary(
    obj: Context, stats: WatchStats, files: list[dict[str, Any]], as_json: bool
) -> None:
    data = {
        "files": files,
        "totals": {
            "read": stats.read,
            "stored": stats.stored,
            "rejected": stats.rejected,
            "skipped": stats.skipped,
            "late": stats.late,
        },
        "alerts": stats.alerts,
        "days_closed": [day.isoformat() for day in stats.closed],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if obj.quiet:
        return
    table = Table(box=None, pad_edge=False)
    for name, justify in (("file", "left"), ("read", "right"), ("stored", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("rejected", justify="right")
    for row in files:
        table.add_row(row["path"], f"{row['read']:,}", f"{row['stored']:,}", f"{row['rejected']:,}")
    table.add_row(
        "total", f"{stats.read:,}", f"{stats.stored:,}", f"{stats.rejected:,}", style="bold"
    )
    obj.console.print(table)
    closed = f"{stats.closed[0]} .. {stats.closed[-1]}" if stats.closed else "none"
    obj.console.print(f"{stats.alerts:,} alerts; days closed: {closed}")
