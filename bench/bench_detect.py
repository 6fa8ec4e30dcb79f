"""Time `run_detection` on a simulated (or given) CERT folder, then one incremental day.

    python bench/bench_detect.py --users 1000 --days 500 [--dir FOLDER] [--workdir DIR]
        [--repeat-last-day N] [--reuse [--full]] [--memory-limit SIZE] [--period-days N]

Prints: events, full detect seconds, peak RSS (MB), incremental one-day seconds; with
`--repeat-last-day N`, N more one-day runs of the last day, by stage; with `--reuse` and an
existing WORKDIR/ws, only those one-day runs (after bringing the workspace up to date);
with `--reuse --full`, a full detect of the ingested workspace (up to the day before the last;
peak RSS of detect alone), then the one-day runs. A full detect computes one period (30 days)
at a time and also prints, per period, its seconds, the process's RSS as it ended and the
peak RSS so far, which show whether memory grows with the history computed before it.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from molehunt.context import ingest_context
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.score.pipeline import DEFAULT_PERIOD_DAYS
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store
from molehunt.store.database import DEFAULT_MEMORY_LIMIT


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dir", type=Path, help="an existing CERT-format folder")
    parser.add_argument("--workdir", type=Path, help="where to simulate and keep the workspace")
    parser.add_argument(
        "--repeat-last-day", type=int, default=0, help="time the one-day run N more times"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep an existing workspace in WORKDIR (no ingest)"
    )
    parser.add_argument(
        "--full", action="store_true", help="with --reuse: recompute every day (full detect)"
    )
    parser.add_argument(
        "--memory-limit", default=DEFAULT_MEMORY_LIMIT, help="DuckDB's memory cap (e.g. 3GB)"
    )
    parser.add_argument(
        "--period-days",
        type=int,
        default=DEFAULT_PERIOD_DAYS,
        help="days a full detect computes per period (100000: the whole history in one pass)",
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="molehunt-bench-"))
    workspace = work / "ws"
    if args.reuse and (workspace / "molehunt.duckdb").exists():
        with Store.open(workspace, memory_limit=args.memory_limit) as store:
            if args.full:
                full_detect(store, args.period_days)
            started = time.perf_counter()
            summary = run_detection(store)
            print(f"detect (reused workspace): {time.perf_counter() - started:.1f} s")
            for _ in range(max(args.repeat_last_day, 1)):
                repeat_last_day(store)
        return
    folder = args.dir
    if folder is None:
        folder = work / "sim"
        started = time.perf_counter()
        simulate(SimulationConfig(outdir=folder, users=args.users, days=args.days, seed=args.seed))
        print(f"simulate: {time.perf_counter() - started:.1f} s")
    shutil.rmtree(workspace, ignore_errors=True)
    with Store.open(workspace, memory_limit=args.memory_limit) as store:
        started, cpu = time.perf_counter(), time.process_time()
        ingest_cert(store, folder)
        if (folder / "context").is_dir():
            ingest_context(store, folder / "context")
        events = store.query("SELECT count(*), max(time)::DATE FROM events")[0]
        print(f"ingest: {_since(started, cpu)}, {events[0]:,} events")
        last = events[1]
        meter = PeriodMeter()
        started, cpu = time.perf_counter(), time.process_time()
        summary = run_detection(
            store, until=last - timedelta(days=1), progress=meter, period_days=args.period_days
        )
        print(f"detect: {_since(started, cpu)}, {summary.user_days:,} user-days")
        meter.print_periods()
        print(f"peak RSS: {_peak_mb():.0f} MB")
        started, cpu = time.perf_counter(), time.process_time()
        summary = run_detection(store)
        print(f"incremental detect of {summary.days} day: {_since(started, cpu, 2)}")
        for _ in range(args.repeat_last_day):
            repeat_last_day(store)


def full_detect(store: Store, period_days: int = DEFAULT_PERIOD_DAYS) -> None:
    """Recompute every day up to the day before the last (the state is reset first) and print
    its time and the process's peak RSS (detect alone: nothing was ingested before)."""
    with store.transaction() as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS detection_state (key VARCHAR, value VARCHAR)"
        )
        connection.execute("DELETE FROM detection_state")
    last = store.query("SELECT max(time)::DATE FROM events")[0][0]
    meter = PeriodMeter()
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_detection(
        store, until=last - timedelta(days=1), progress=meter, period_days=period_days
    )
    print(f"full detect: {_since(started, cpu)}, {summary.user_days:,} user-days")
    meter.print_periods()
    print(f"peak RSS: {_peak_mb():.0f} MB")


def _since(started: float, cpu: float, digits: int = 1) -> str:
    """Wall seconds since `started` and the process's CPU seconds (all threads) since `cpu`:
    on a shared machine the CPU time is the measure other load does not inflate."""
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    return f"{wall:.{digits}f} s ({used:.{digits}f} CPU-s)"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """The process's resident set now (Linux), MB."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else float("nan")


class PeriodMeter:
    """`run_detection` progress callback: prints each period ("stage k/n") as it ends, with its
    seconds, CPU seconds, the RSS as it ended and the peak RSS so far (live, so a long run
    shows its memory while it runs)."""

    def __init__(self) -> None:
        self.period: str | None = None
        self.begun = (0.0, 0.0)  # clock and CPU at the current period's start

    def __call__(self, stage: str) -> None:
        """Record a stage's start; a new period ends the one before."""
        period = stage.rpartition(" ")[2] if "/" in stage else "1/1"
        if period != self.period:
            self.print_periods()
            self.period, self.begun = period, (time.perf_counter(), time.process_time())

    def print_periods(self) -> None:
        """Print the period under way as ended now (call it once more after the run)."""
        if self.period is None:
            return
        wall, cpu = time.perf_counter() - self.begun[0], time.process_time() - self.begun[1]
        print(
            f"  period {self.period}: {wall:.1f} s ({cpu:.1f} CPU-s), "
            f"RSS at its end {_rss_mb():.0f} MB, peak so far {_peak_mb():.0f} MB",
            flush=True,
        )
        self.period = None


def repeat_last_day(store: Store) -> None:
    """Compute the last day again as a one-day run (the last computed day set back by one) and
    print its time by stage."""
    last = store.query("SELECT value FROM detection_state WHERE key = 'last_day'")[0][0]
    previous = date.fromisoformat(last) - timedelta(days=1)
    with store.transaction() as connection:
        connection.execute(
            "UPDATE detection_state SET value = ? WHERE key = 'last_day'", [previous.isoformat()]
        )
    started, cpu = time.perf_counter(), time.process_time()
    # "setup": the rules, the workspace's state and the reference tables, before the context.
    marks: list[tuple[str, float]] = [("setup", started)]
    run_detection(store, progress=lambda stage: marks.append((stage, time.perf_counter())))
    ended, used = time.perf_counter(), time.process_time() - cpu
    stages = [
        f"{name} {(later - at):.2f}"
        for (name, at), later in zip(marks, [m[1] for m in marks[1:]] + [ended], strict=True)
    ]
    print(f"one-day detect again: {ended - started:.2f} s, {used:.2f} CPU-s ({', '.join(stages)})")


if __name__ == "__main__":
    main()
