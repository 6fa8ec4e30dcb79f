"""CERT-format CSV writing: ids, dates, per-layout columns, sorted rows, written day by day."""

from __future__ import annotations

import csv
import datetime
import gzip
import io
from pathlib import Path
from typing import IO, Any

import numpy as np

from molehunt.simulate.behaviour import CHANNELS, Rows
from molehunt.simulate.institute import Institute

# Not a CERT file: a simulated institute's print jobs, the same in every layout (docs/events.md).
PRINT_HEADER = ("id", "date", "user", "pc", "printer", "document", "pages")
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "r6.2": {
        "logon": ("id", "date", "user", "pc", "activity"),
        "device": ("id", "date", "user", "pc", "file_tree", "activity"),
        "file": (
            "id",
            "date",
            "user",
            "pc",
            "filename",
            "activity",
            "to_removable_media",
            "from_removable_media",
            "content",
        ),
        "email": (
            "id",
            "date",
            "user",
            "pc",
            "to",
            "cc",
            "bcc",
            "from",
            "activity",
            "size",
            "attachments",
            "content",
        ),
        "http": ("id", "date", "user", "pc", "url", "activity", "content"),
        "print": PRINT_HEADER,
    },
    "r4.2": {
        "logon": ("id", "date", "user", "pc", "activity"),
        "device": ("id", "date", "user", "pc", "activity"),
        "file": ("id", "date", "user", "pc", "filename", "content"),
        "email": (
            "id",
            "date",
            "user",
            "pc",
            "to",
            "cc",
            "bcc",
            "from",
            "size",
            "attachments",
            "content",
        ),
        "http": ("id", "date", "user", "pc", "url", "content"),
        "print": PRINT_HEADER,
    },
}
TIME_OF_DAY: list[str] = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
LETTERS = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
# Character classes of `{X1D9-S0ES98JV-5357PWMI}` ("L" letter, "D" digit, others literal).
ID_PATTERN = "{LDLD-LDLLDDLL-DDDDLLLL}"
MaliciousRow = tuple[int, int, int, int, tuple[str, ...]]  # (insider, day, time, channel, row)


def mix40(counter: np.ndarray, salt: int) -> np.ndarray:
    """A bijection of 40-bit integers (odd multiplies and xor-shifts), so outputs never collide."""
    mask = np.uint64((1 << 40) - 1)
    x = (counter + np.uint64(salt)) & mask
    for multiplier, shift in ((0x9E3779B97F, 20), (0xC2B2AE3D27, 17), (0x165667B19F, 21)):
        x = (x * np.uint64(multiplier)) & mask
        x ^= x >> np.uint64(shift)
    return x


def make_ids(rng: np.random.Generator, first: int, count: int, salt: int = 0) -> list[str]:
    """Ids in CERT's shape, unique within a file: a bijection of the row counter plus noise."""
    mixed = mix40(np.arange(first, first + count, dtype=np.uint64), salt)
    digits_value = mixed % np.uint64(10**9)
    # The high part (< 1100) is spread over three letters with random multiples of 1100.
    high = mixed // np.uint64(10**9) + np.uint64(1100) * rng.integers(0, 15, count).astype(
        np.uint64
    )
    out = np.zeros((count, len(ID_PATTERN)), dtype=np.uint8)
    digit_cols = [i for i, c in enumerate(ID_PATTERN) if c == "D"]
    letter_cols = [i for i, c in enumerate(ID_PATTERN) if c == "L"]
    for i, c in enumerate(ID_PATTERN):
        if c not in "LD":
            out[:, i] = ord(c)
    for j, col in enumerate(digit_cols):
        out[:, col] = DIGITS[(digits_value // np.uint64(10**j)) % np.uint64(10)]
    for j, col in enumerate(letter_cols[:3]):
        out[:, col] = LETTERS[(high // np.uint64(26**j)) % np.uint64(26)]
    out[:, letter_cols[3:]] = LETTERS[rng.integers(0, 26, (count, len(letter_cols) - 3))]
    return out.view(f"S{len(ID_PATTERN)}").ravel().astype(str).tolist()


def open_text(path: Path, compress: bool, raw_files: list[IO[bytes]]) -> IO[str]:
    """A buffered text file; gzip output has mtime 0 and no name so it is reproducible.

    The underlying binary file of a gzip stream is appended to ``raw_files`` (close it last).
    """
    if compress:
        raw = open(path, "wb")  # closed by ActivityWriter.close
        raw_files.append(raw)
        zipped = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=4)
        return io.TextIOWrapper(zipped, encoding="utf-8", newline="", write_through=False)
    return open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)


def layout_columns(layout: str, channel: str, rows: Rows, keep: list[int]) -> list[list[Any]]:
    """The channel-specific columns of the chosen layout, in header order, for rows ``keep``."""
    v = rows.values
    if channel == "print":
        return [[v[name][i] for i in keep] for name in ("printer", "document", "pages")]

    def col(name: str) -> list[Any]:
        values = v[name]
        return [values[i] for i in keep]

    if layout == "r6.2":
        names = {
            "logon": ("activity",),
            "device": ("tree", "activity"),
            "file": ("filename", "activity", "to_removable", "from_removable", "content"),
            "email": ("to", "cc", "bcc", "sender", "activity", "size", "attachments", "content"),
            "http": ("url", "activity", "content"),
        }[channel]
        return [col(name) for name in names]
    if channel == "file":
        return [[f.rsplit("\\", 1)[-1] for f in col("filename")], col("content")]
    if channel == "email":
        counts = [0 if not a else a.count(";") + 1 for a in col("attachments")]
        return [
            col("to"),
            col("cc"),
            col("bcc"),
            col("sender"),
            col("size"),
            counts,
            col("content"),
        ]
    if channel == "http":
        return [col("url"), col("content")]
    return [col("activity")]


def kept_rows(layout: str, channel: str, rows: Rows) -> list[int]:
    """Row indices that exist in the layout, sorted by time (r4.2 has copies to media and sends)."""
    index = range(len(rows))
    if layout == "r4.2" and channel == "file":
        flag = rows.values["to_removable"]
        index = [i for i in index if flag[i] == "True"]  # type: ignore[assignment]
    elif layout == "r4.2" and channel == "email":
        act = rows.values["activity"]
        index = [i for i in index if act[i] == "Send"]  # type: ignore[assignment]
    keep = np.array(list(index), dtype=np.int64)
    times = np.array(rows.t, dtype=np.int64)[keep] if len(keep) else np.zeros(0, np.int64)
    return [int(i) for i in keep[np.argsort(times, kind="stable")]]


class ActivityWriter:
    """Writes the activity files of one release (CERT's five and print) as days are generated."""

    def __init__(
        self, outdir: Path, layout: str, compress: bool, inst: Institute, seed: int
    ) -> None:
        self.layout = layout
        self.inst = inst
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 7])))
        # Print ids come from their own generator, so the other files' ids did not change when
        # the print channel was added.
        self.print_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 7, 6])))
        suffix = ".csv.gz" if compress else ".csv"
        self.raw_files: list[IO[bytes]] = []
        self.files = {
            c: open_text(outdir / f"{c}{suffix}", compress, self.raw_files) for c in CHANNELS
        }
        self.writers = {c: csv.writer(f, lineterminator="\n") for c, f in self.files.items()}
        self.counts = dict.fromkeys(CHANNELS, 0)
        for channel in CHANNELS:
            self.writers[channel].writerow(HEADERS[layout][channel])

    def write_day(
        self, day: int, date: datetime.date, batch: dict[str, Rows]
    ) -> list[MaliciousRow]:
        """Write one day's events, sorted by time; return the insiders' rows as written."""
        prefix = date.strftime("%m/%d/%Y ")
        malicious: list[MaliciousRow] = []
        users, pcs = self.inst.user_ids, self.inst.pcs
        for number, channel in enumerate(CHANNELS):
            rows = batch[channel]
            keep = kept_rows(self.layout, channel, rows)
            if not keep:
                continue
            ids = make_ids(
                self.print_rng if channel == "print" else self.rng,
                self.counts[channel],
                len(keep),
                salt=(number + 1) * 7_919_000_003,
            )
            times = [rows.t[i] for i in keep]
            dates = [prefix + TIME_OF_DAY[t] for t in times]
            who = [users[rows.user[i]] for i in keep]
            where = [pcs[rows.pc[i]] for i in keep]
            table = list(
                zip(
                    ids,
                    dates,
                    who,
                    where,
                    *layout_columns(self.layout, channel, rows, keep),
                    strict=True,
                )
            )
            self.writers[channel].writerows(table)
            self.counts[channel] += len(keep)
            for position, i in enumerate(keep):
                if rows.tag[i] >= 0:
                    row = tuple(str(x) for x in table[position])
                    malicious.append((rows.tag[i], day, times[position], number, row))
        return malicious

    def close(self) -> None:
        """Flush and close every file."""
        for handle in self.files.values():
            handle.close()
        for raw in self.raw_files:
            raw.close()
