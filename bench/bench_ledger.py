"""Time `molehunt ledger verify` on a simulated (or given) workspace at CERT r4.2 scale.

    python bench/bench_ledger.py --users 1000 --days 500 [--workdir DIR] [--reuse]

Simulates (r4.2 layout), ingests and detects (both record into the ledger as they go), then
times: hashing every day's scores once (what each detect run adds), and a full verify (every
entry's signature, every checkpoint's root, every Parquet batch re-hashed, every score day
re-hashed). With `--reuse` and an existing WORKDIR/ws, only the verify is timed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from molehunt.ingest import ingest_cert
from molehunt.ledger import verify_ledger
from molehunt.ledger.evidence import score_columns, score_digests
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, help="where to simulate and keep the workspace")
    parser.add_argument("--reuse", action="store_true", help="reuse WORKDIR/ws as it is")
    parser.add_argument("--repeat", type=int, default=3, help="verify this many times")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="molehunt-bench-ledger-"))
    workspace = work / "ws"
    if not (args.reuse and (workspace / "molehunt.duckdb").exists()):
        folder = work / "sim"
        if not folder.exists():
            started = time.perf_counter()
            config = SimulationConfig(
                outdir=folder, users=args.users, days=args.days, seed=args.seed, layout="r4.2"
            )
            simulate(config)
            print(f"simulate: {time.perf_counter() - started:.1f} s")
        shutil.rmtree(workspace, ignore_errors=True)
        with Store.open(workspace) as store:
            started = time.perf_counter()
            ingest_cert(store, folder)
            print(f"ingest (batches recorded as committed): {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            run_detection(store)
            print(f"detect (score days recorded at the end): {time.perf_counter() - started:.1f} s")
    with Store.open(workspace) as store:
        events = store.query("SELECT count(*) FROM events")[0][0]
        parquet = sum(p.stat().st_size for p in (workspace / "events").glob("*.parquet"))
        started = time.perf_counter()
        digests = score_digests(store, score_columns(store))
        print(
            f"hash every day's scores: {len(digests)} days, "
            f"{sum(rows for rows, _ in digests.values()):,} rows, "
            f"{time.perf_counter() - started:.2f} s"
        )
        for attempt in range(args.repeat):
            started = time.perf_counter()
            report = verify_ledger(store)
            seconds = time.perf_counter() - started
            print(
                f"verify #{attempt + 1}: {seconds:.2f} s, valid={report.is_valid}, "
                f"entries={report.entries:,} checkpoints={report.checkpoints:,} "
                f"batches={report.batches:,} ({parquet / 1e6:,.0f} MB Parquet, {events:,} events) "
                f"score_days={report.score_days:,}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB; workspace {workspace}")


if __name__ == "__main__":
    main()
