"""Time `run_detection` on a simulated (or given) CERT folder, then one incremental day.

    python bench/bench_detect.py --users 1000 --days 500 [--dir FOLDER] [--workdir DIR]

Prints: events, full detect seconds, peak RSS (MB), incremental one-day seconds.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from molehunt.context import ingest_context
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dir", type=Path, help="an existing CERT-format folder")
    parser.add_argument("--workdir", type=Path, help="where to simulate and keep the workspace")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="molehunt-bench-"))
    folder = args.dir
    if folder is None:
        folder = work / "sim"
        started = time.perf_counter()
        simulate(SimulationConfig(outdir=folder, users=args.users, days=args.days, seed=args.seed))
        print(f"simulate: {time.perf_counter() - started:.1f} s")
    workspace = work / "ws"
    shutil.rmtree(workspace, ignore_errors=True)
    with Store.open(workspace) as store:
        started = time.perf_counter()
        ingest_cert(store, folder)
        if (folder / "context").is_dir():
            ingest_context(store, folder / "context")
        events = store.query("SELECT count(*), max(time)::DATE FROM events")[0]
        print(f"ingest: {time.perf_counter() - started:.1f} s, {events[0]:,} events")
        last = events[1]
        started = time.perf_counter()
        summary = run_detection(store, until=last - timedelta(days=1))
        print(f"detect: {time.perf_counter() - started:.1f} s, {summary.user_days:,} user-days")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MB")
        started = time.perf_counter()
        summary = run_detection(store)
        print(f"incremental detect of {summary.days} day: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
