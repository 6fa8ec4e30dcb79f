"""Compare per-user-day distributions of a simulated release with a real CERT sample."""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np

CALIBRATION_CHANNELS: tuple[str, ...] = ("logon", "device", "file", "email", "http")
# Rows per file read at most; the real samples are only ~5,000-35,000 rows long.
DEFAULT_MAX_ROWS = 200_000


def read_rows(folder: Path, channel: str, max_rows: int) -> Iterator[tuple[str, datetime]]:
    """`(user, timestamp)` of each row of `channel` (`.csv` or `.csv.gz`); skips bad rows."""
    path = folder / f"{channel}.csv"
    if not path.exists():
        path = folder / f"{channel}.csv.gz"
    if not path.exists():
        return
    raw = (
        gzip.open(path, "rt", encoding="utf-8", newline="")
        if path.suffix == ".gz"
        else open(path, encoding="utf-8", newline="")
    )
    with raw as handle:
        reader = csv.DictReader(handle)
        for number, row in enumerate(reader):
            if number >= max_rows:
                break
            try:
                yield row["user"], datetime.strptime(row["date"], "%m/%d/%Y %H:%M:%S")
            except (KeyError, TypeError, ValueError):
                continue  # the real samples end in a cut-off line


def user_day_stats(folder: Path, max_rows: int = DEFAULT_MAX_ROWS) -> dict[str, np.ndarray]:
    """Per user-day samples: rows per channel, first logon hour, after-hours share of all rows.

    Only complete days are used: the last day of each (truncated) file is dropped.
    """
    stats: dict[str, np.ndarray] = {}
    first_hour: dict[tuple[str, str], int] = {}
    after: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for channel in CALIBRATION_CHANNELS:
        per_day: dict[tuple[str, str], int] = defaultdict(int)
        last_day = ""
        for user, ts in read_rows(folder, channel, max_rows):
            key = (user, ts.strftime("%Y-%m-%d"))
            per_day[key] += 1
            last_day = max(last_day, key[1])
            if channel == "logon":
                first_hour[key] = min(first_hour.get(key, 24), ts.hour)
            outside = ts.hour < 7 or ts.hour >= 19 or ts.weekday() >= 5
            after[key][0] += int(outside)
            after[key][1] += 1
        stats[f"{channel}/day"] = np.array(
            [n for key, n in sorted(per_day.items()) if key[1] != last_day], dtype=float
        )
    stats["first logon hour"] = np.array([h for _, h in sorted(first_hour.items())], dtype=float)
    stats["after-hours share"] = np.array([a / n for _, (a, n) in sorted(after.items())])
    return stats


def describe(values: np.ndarray) -> tuple[int, float, float, float, float]:
    """Count, mean, median, 90th percentile, max (zeros for an empty sample)."""
    if len(values) == 0:
        return 0, 0.0, 0.0, 0.0, 0.0
    return (
        len(values),
        float(values.mean()),
        float(np.median(values)),
        float(np.quantile(values, 0.9)),
        float(values.max()),
    )


def compare(real: Path, simulated: Path, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    """A Markdown table comparing per-user-day distributions of two releases.

    Args:
        real: Folder of a real CERT release (or sample), e.g. ``r4.2-sample``.
        simulated: Folder written by ``simulate``.
        max_rows: Rows read at most per activity file and release.

    Returns:
        The table, one line per statistic (n, mean, median, p90, max for each side).
    """
    left, right = user_day_stats(real, max_rows), user_day_stats(simulated, max_rows)
    out = io.StringIO()
    out.write(
        "| statistic | real n | real mean | real median | real p90 | real max "
        "| sim n | sim mean | sim median | sim p90 | sim max |\n"
    )
    out.write("|---|" + "---|" * 10 + "\n")
    for name in left:
        a, b = describe(left[name]), describe(right[name])
        cells = [f"{a[0]}", *(f"{x:.2f}" for x in a[1:]), f"{b[0]}", *(f"{x:.2f}" for x in b[1:])]
        out.write(f"| {name} | " + " | ".join(cells) + " |\n")
    return out.getvalue()
