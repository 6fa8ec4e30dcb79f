"""Benchmark `ingest_context` on a document registry of 1 million rows (target: <= 60 s).

Writes `documents.csv` with N rows (path, name, classification in the us and cn schemes,
compartments, owner), times a fresh ingest in a child process and reports rows/s and the
child's peak RSS. Usage:

    python bench/bench_context.py [--rows 1000000] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEVELS = ("UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET//SCI", "秘密", "机密★10年", "绝密")
CHILD = """
import sys, time
from molehunt.context import ingest_context
from molehunt.store import Store
with Store.open(sys.argv[1]) as store:
    start = time.perf_counter()
    report = ingest_context(store, sys.argv[2])
    print(time.perf_counter() - start, report.stored, report.rejected)
"""


def build(folder: Path, rows: int, seed: int = 7) -> int:
    """Write a documents.csv of `rows` rows; return its size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    path = folder / "documents.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("path,name,classification,compartments,owner\n")
        for number in range(rows):
            name = f"D{number:08d}.doc"
            level = LEVELS[rng.randrange(len(LEVELS))]
            projects = f"Project {rng.randrange(9)}" if rng.random() < 0.3 else ""
            owner = f"U{rng.randrange(5000):06d}"
            handle.write(f"C:\\share\\{number % 997}\\{name},{name},{level},{projects},{owner}\n")
    return path.stat().st_size


def main() -> None:
    """Build the registry, ingest it in a child process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="molehunt-bench-context-"))
    try:
        size = build(out / "context", args.rows)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(out / "workspace"), str(out / "context")],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        seconds, stored, rejected = result.stdout.split()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"rows            {args.rows:,} ({size / 1e6:.1f} MB CSV)")
        print(f"stored/rejected {int(stored):,} / {int(rejected):,}")
        print(f"ingest time     {float(seconds):.1f} s ({args.rows / float(seconds):,.0f} rows/s)")
        print(f"child wall time {wall:.1f} s (with interpreter start and workspace creation)")
        print(f"peak RSS        {peak:.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
