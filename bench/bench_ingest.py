"""Benchmark `molehunt ingest cert` on >= 1 GB of CERT-format CSV.

Builds a release by replicating the real r4.2 sample (dates shifted by whole weeks, fresh ids),
then times a fresh `molehunt ingest cert` in a child process and reports MB/s, rows/s and the
child's peak RSS. Usage:

    python bench/bench_ingest.py [--size-mb 1100] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cert" / "r4.2-sample"
CHANNELS = ("logon", "device", "file", "email", "http")


def sample_lines(channel: str) -> tuple[bytes, list[bytes]]:
    """Header and whole data lines of one sample file (the cut-off last line dropped)."""
    data = gzip.open(SAMPLE / f"{channel}.csv.gz", "rb").read()
    header, _, body = data.partition(b"\n")
    lines = body.split(b"\n")
    return header + b"\n", [line for line in lines[:-1] if line]


def shifted(lines: list[bytes], copy: int) -> bytes:
    """The lines with dates moved `copy` weeks later and ids made unique per copy."""
    dates: dict[bytes, bytes] = {}
    out = []
    for line in lines:
        row_id, date, rest = line.split(b",", 2)
        day = date[:10]
        if day not in dates:
            parsed = datetime.datetime.strptime(day.decode(), "%m/%d/%Y")
            dates[day] = (parsed + datetime.timedelta(weeks=copy)).strftime("%m/%d/%Y").encode()
        new_id = b"{" + f"{copy:04X}".encode() + row_id[5:]
        out.append(new_id + b"," + dates[day] + date[10:] + b"," + rest)
    return b"\n".join(out) + b"\n"


def build(folder: Path, size_mb: int) -> int:
    """Write a release of about `size_mb` MB of CSV; return its exact size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = {channel: sample_lines(channel) for channel in CHANNELS}
    one_copy = sum(len(b"\n".join(lines)) for _, lines in samples.values())
    copies = max(1, -(-size_mb * 1_000_000 // one_copy))
    total = 0
    for channel, (header, lines) in samples.items():
        with (folder / f"{channel}.csv").open("wb") as handle:
            handle.write(header)
            for copy in range(copies):
                handle.write(shifted(lines, copy))
        total += (folder / f"{channel}.csv").stat().st_size
    shutil.copytree(SAMPLE / "LDAP", folder / "LDAP")
    return total


def run_ingest(release: Path, workspace: Path) -> tuple[float, int]:
    """Run `molehunt ingest cert` in a child; return (seconds, peak RSS in bytes)."""
    command = [
        sys.executable,
        "-m",
        "molehunt",
        "--quiet",
        "--workspace",
        str(workspace),
        "ingest",
        "cert",
        str(release),
        "--json",
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"ingest failed with status {status}")
    return seconds, usage.ru_maxrss * 1024


def main() -> None:
    """Build the data, run the benchmark, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1100)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="molehunt-bench-"))
    release, workspace = root / "release", root / "workspace"
    shutil.rmtree(workspace, ignore_errors=True)
    if not (release / "http.csv").exists():
        size = build(release, args.size_mb)
    else:
        size = sum((release / f"{c}.csv").stat().st_size for c in CHANNELS)
    rows = sum(sum(1 for _ in (release / f"{c}.csv").open("rb")) - 1 for c in CHANNELS)
    seconds, rss = run_ingest(release, workspace)
    print(f"input      {size / 1e6:,.0f} MB CSV, {rows:,} rows ({', '.join(CHANNELS)})")
    print(f"wall       {seconds:.1f} s")
    print(f"throughput {size / 1e6 / seconds:,.0f} MB/s, {rows / seconds:,.0f} rows/s")
    print(f"peak RSS   {rss / 1e6:,.0f} MB")
    stored = sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file())
    print(f"workspace  {stored / 1e6:,.0f} MB")
    if not args.keep and args.out is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
