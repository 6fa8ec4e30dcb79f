"""Benchmark the simulator: wall time, events per second and peak RSS for one run."""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from molehunt.simulate import SimulationConfig, simulate


def main(argv: list[str] | None = None) -> int:
    """Run one simulation and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", default="r4.2")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--outdir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        outdir = args.outdir or Path(tmp) / "release"
        config = SimulationConfig(
            outdir,
            users=args.users,
            days=args.days,
            seed=args.seed,
            layout=args.layout,
            gzip=args.gzip,
            force=True,
            scenarios=(("departing-classified-theft", 1), ("cert-2", 1)),
        )
        began = time.perf_counter()
        summary = simulate(config)
        wall = time.perf_counter() - began
        size = sum(p.stat().st_size for p in outdir.rglob("*") if p.is_file())
    total = sum(summary.events.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"users={args.users} days={args.days} layout={args.layout} gzip={args.gzip}")
    print(
        "rows: " + ", ".join(f"{k}={v:,}" for k, v in summary.events.items()) + f", total={total:,}"
    )
    print(
        f"wall={wall:.1f}s events/s={total / wall:,.0f} peak_rss={peak_mb:,.0f} MB "
        f"output={size / 1e9:.2f} GB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
