"""Simulate a small r4.2-layout release and compare it with the real r4.2 sample."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from molehunt.simulate import SimulationConfig, simulate
from molehunt.simulate.calibration import compare

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "cert" / "r4.2-sample"


def main(argv: list[str] | None = None) -> int:
    """Print the calibration table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rows", type=int, default=400_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        simulate(
            SimulationConfig(out, users=args.users, days=args.days, seed=args.seed, layout="r4.2")
        )
        print(compare(args.real, out, max_rows=args.max_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
