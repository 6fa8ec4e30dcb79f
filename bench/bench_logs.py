"""Benchmark `molehunt ingest logs`: lines/s for the text formats, records/s for EVTX.

Text formats: the real samples in ../shared/data/logs replicated (times shifted so lines
differ) to --lines lines each, ingested into a fresh workspace. EVTX: every sample .evtx file
ingested --repeat times, each into a fresh workspace (a file is ingested once per workspace).
Usage:

    python bench/bench_logs.py [--lines 300000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from molehunt.ingest.logs import ingest_logs
from molehunt.store import Store

LOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "logs"


def squid_lines(count: int) -> bytes:
    """`count` Squid lines: the sample's lines with their times moved one second per copy."""
    lines = (LOGS / "proxy" / "squid-access-native_2006_elastic-integrations.log").read_bytes()
    base = [line for line in lines.split(b"\n") if line]
    out = []
    for number in range(count):
        stamp, rest = base[number % len(base)].split(b" ", 1)
        out.append(b"%.3f " % (float(stamp) + number // len(base)) + rest)
    return b"\n".join(out) + b"\n"


def zeek_lines(count: int) -> bytes:
    """`count` smtp.log records after the sample's header, times shifted per copy."""
    text = gzip.open(LOGS / "mail" / "zeek-smtp_wrccdc-2018_zed-sample-data.log.gz").read()
    lines = text.split(b"\n")
    header = [line for line in lines if line.startswith(b"#") and not line.startswith(b"#close")]
    records = [line for line in lines if line and not line.startswith(b"#")]
    out = []
    for number in range(count):
        stamp, rest = records[number % len(records)].split(b"\t", 1)
        out.append(b"%.6f\t" % (float(stamp) + number // len(records)) + rest)
    return b"\n".join([*header, *out]) + b"\n"


def postfix_lines(count: int) -> bytes:
    """`count` syslog lines, half qmgr messages and half smtp deliveries."""
    out = []
    for number in range(count):
        clock = f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
        if number % 2:
            body = f"postfix/smtp[7]: Q{number:09X}: to=<b@y.org>, relay=y, status=sent (250 ok)"
        else:
            body = (
                f"postfix/qmgr[6]: Q{number:09X}: from=<u{number % 500}@x.org>, size=900, nrcpt=1"
            )
        out.append(f"Jan  2 {clock} mx {body}")
    return ("\n".join(out) + "\n").encode()


def run(name: str, path: Path, log_format: str) -> None:
    """Ingest `path` into a fresh workspace and print the rates."""
    with tempfile.TemporaryDirectory() as root, Store.open(Path(root) / "ws") as store:
        started, cpu = time.perf_counter(), time.process_time()
        report = ingest_logs(store, [path], log_format)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # CPU seconds (all threads) say what the work costs when other processes share the cores.
    print(
        f"{name:<10} {report.read:>9,} read {report.stored:>9,} stored {seconds:6.2f} s  "
        f"{report.read / seconds:>10,.0f} lines/s {report.stored / seconds:>10,.0f} records/s "
        f"({cpu:.2f} CPU s: {report.read / cpu:,.0f} lines per CPU second)"
    )


def main() -> None:
    """Build the inputs and time each format."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--formats", default="squid,zeek-smtp,postfix,evtx", help="Comma-separated formats to time."
    )
    args = parser.parse_args()
    wanted = set(args.formats.split(","))
    with tempfile.TemporaryDirectory() as folder:
        for name, build, log_format in (
            ("squid", squid_lines, "squid"),
            ("zeek-smtp", zeek_lines, "zeek-smtp"),
            ("postfix", postfix_lines, "postfix"),
        ):
            if name not in wanted:
                continue
            path = Path(folder) / f"{name}.log"
            path.write_bytes(build(args.lines))
            run(name, path, log_format)
    if "evtx" not in wanted:
        return
    evtx_files = sorted(LOGS.rglob("*.evtx"))
    read = stored = 0
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as root, Store.open(Path(root) / "ws") as store:
            report = ingest_logs(store, evtx_files, "evtx")
        read += report.read
        stored += report.stored
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"{'evtx':<10} {read:>9,} read {stored:>9,} stored {seconds:6.2f} s  "
        f"{read / seconds:>10,.0f} records/s read {stored / seconds:>10,.0f} stored/s "
        f"({len(evtx_files)} files x {args.repeat}, fresh workspace each time; "
        f"{read / cpu:,.0f} records per CPU second)"
    )


if __name__ == "__main__":
    main()
