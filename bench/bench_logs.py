"""Benchmark `molehunt ingest logs`: lines/s for the text formats, records/s for EVTX.

Text formats: the real samples in ../shared/data/logs replicated (times shifted so lines
differ) to --lines lines each, ingested into a fresh workspace (zeek-http, which has no real
sample, is synthetic: one request in five names a user, the others are skipped; postfix is
synthetic, three lines a message with one recipient (from=, delivery, removed), since the
real sample is a JSON corpus of single lines; postfix-iso is those lines with rsyslog's RFC
3339 stamps; w3c is synthetic IIS lines, one in three with a user name). EVTX, two figures:

- evtx: the 9 sample .evtx files (5 to 2,261 records) in one call, as `molehunt ingest logs
  DIR` reads them, --repeat times, each into a fresh workspace (a file is ingested once per
  workspace). Tiny files: mostly the fixed cost per file.
- squid-large: --large-lines lines of the Squid sample in one file (a day of a busy proxy's
  access.log): the per-line rate once the fixed cost of a call (imports, the first DuckDB
  write, about 0.3 s) is spread over a realistic file; `squid` at --lines is mostly that cost.
- evtx-large: one large file, --evtx-copies copies of the 2,261-record Security sample's
  chunks with their record numbers moved on (an EVTX file is a header and self-contained
  64 KiB chunks, so the copy is a valid file of distinct records): the per-record rate.

Usage:

    python bench/bench_logs.py [--lines 300000] [--large-lines 3000000] [--repeat 5]
        [--evtx-copies 20]
"""

from __future__ import annotations

import argparse
import gzip
import struct
import tempfile
import time
import zlib
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


def zeek_http_lines(count: int) -> bytes:
    """`count` http.log records (no real sample here: synthetic, 1 in 5 with a user name)."""
    from molehunt.ingest.logs.zeek import DEFAULT_HTTP_FIELDS

    header = [
        b"#separator \\x09",
        b"#path\thttp",
        b"#fields\t" + "\t".join(DEFAULT_HTTP_FIELDS).encode(),
    ]
    out = []
    for number in range(count):
        values = dict.fromkeys(DEFAULT_HTTP_FIELDS, "-")
        values.update(
            {
                "ts": f"{1709539750 + number // 50}.{number % 1000:06d}",
                "uid": f"C{number:08X}",
                "id.orig_h": f"10.1.{number % 7}.{number % 200}",
                "id.orig_p": "51234",
                "id.resp_h": "93.184.216.34",
                "id.resp_p": "80",
                "trans_depth": "1",
                "method": "POST" if number % 9 == 0 else "GET",
                "host": f"site{number % 300}.example.org",
                "uri": f"/path/{number % 1000}?q={number}",
                "version": "1.1",
                "user_agent": "Mozilla/5.0",
                "request_body_len": "0" if number % 9 else "4096",
                "response_body_len": str(number % 50000),
                "status_code": "200",
                "status_msg": "OK",
                "username": f"user{number % 400}" if number % 5 == 0 else "-",
            }
        )
        out.append("\t".join(values[name] for name in DEFAULT_HTTP_FIELDS).encode())
    return b"\n".join([*header, *out]) + b"\n"


def w3c_lines(count: int) -> bytes:
    """`count` IIS W3C lines (no real sample: synthetic, IIS's default fields, 1 in 3 named)."""
    from molehunt.ingest.logs.w3c import DEFAULT_FIELDS

    out = [b"#Software: Microsoft Internet Information Services 10.0", b"#Version: 1.0"]
    out.append(b"#Fields: " + " ".join(DEFAULT_FIELDS).encode())
    for number in range(count - 3):
        second = number // 20
        stamp = f"2024-03-{4 + second // 86400:02d} {second // 3600 % 24:02d}:"
        stamp += f"{second // 60 % 60:02d}:{second % 60:02d}"
        user = f"user{number % 400}" if number % 3 == 0 else "-"
        method = "POST" if number % 9 == 0 else "GET"
        out.append(
            f"{stamp} 10.0.0.1 {method} /path/{number % 1000}.aspx q={number} 443 {user} "
            f"10.1.{number % 7}.{number % 200} Mozilla/5.0 - 200 0 0 {number % 500}".encode()
        )
    return b"\n".join(out) + b"\n"


def _postfix_body(number: int) -> str:
    """Line `number` of a maillog of messages with one recipient each, three lines a message
    as a mail server writes them: the queue manager's `from=`, the delivery, `removed`."""
    queue_id, step = f"Q{number // 3:09X}", number % 3
    if step == 0:
        return f"postfix/qmgr[6]: {queue_id}: from=<u{number % 500}@x.org>, size=900, nrcpt=1"
    if step == 1:
        return f"postfix/smtp[7]: {queue_id}: to=<b@y.org>, relay=y, status=sent (250 ok)"
    return f"postfix/qmgr[6]: {queue_id}: removed"


def postfix_lines(count: int) -> bytes:
    """`count` syslog lines of `_postfix_body` (BSD stamps)."""
    out = []
    for number in range(count):
        clock = f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
        out.append(f"Jan  2 {clock} mx {_postfix_body(number)}")
    return ("\n".join(out) + "\n").encode()


def postfix_iso_lines(count: int) -> bytes:
    """`postfix_lines` with rsyslog's RFC 3339 stamps (microseconds and an offset)."""
    out = []
    for number in range(count):
        clock = f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
        stamp = f"2025-01-02T{clock}.{number % 1000:03d}{number % 7:03d}+01:00"
        out.append(f"{stamp} mx {_postfix_body(number)}")
    return ("\n".join(out) + "\n").encode()


def evtx_copies(path: Path, copies: int) -> bytes:
    """An EVTX file of `copies` copies of `path`'s chunks, record numbers moved on per copy.

    Each chunk's header (first/last record number and id) and each record's id are shifted,
    and the chunk's and the file header's CRC32 checksums recomputed.
    """
    data = path.read_bytes()
    header, body = bytearray(data[:4096]), data[4096:]
    chunks = [
        body[at : at + 65536]
        for at in range(0, len(body), 65536)
        if body[at : at + 8] == b"ElfChnk\x00"
    ]
    first = struct.unpack_from("<Q", chunks[0], 8)[0]
    span = max(struct.unpack_from("<Q", chunk, 16)[0] for chunk in chunks) - first + 1
    out = []
    for copy in range(copies):
        for original in chunks:
            chunk = bytearray(original)
            for at in (8, 16, 24, 32):  # first/last record number, first/last record id
                struct.pack_into(
                    "<Q", chunk, at, struct.unpack_from("<Q", chunk, at)[0] + copy * span
                )
            free = struct.unpack_from("<I", chunk, 48)[0]
            at = 512
            while at + 24 <= free and chunk[at : at + 4] == b"**\x00\x00":
                record = struct.unpack_from("<Q", chunk, at + 8)[0]
                struct.pack_into("<Q", chunk, at + 8, record + copy * span)
                at += struct.unpack_from("<I", chunk, at + 4)[0]
            struct.pack_into("<I", chunk, 52, zlib.crc32(bytes(chunk[512:free])))
            struct.pack_into("<I", chunk, 124, zlib.crc32(bytes(chunk[:120] + chunk[128:512])))
            out.append(bytes(chunk))
    struct.pack_into("<Q", header, 16, len(out) - 1)  # last chunk number
    struct.pack_into("<Q", header, 24, first + copies * span)  # next record id
    struct.pack_into("<H", header, 42, len(out) & 0xFFFF)  # chunk count
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + b"".join(out)


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


def run_evtx_samples(repeat: int) -> None:
    """The 9 sample files in one call, `repeat` times, each into a fresh workspace."""
    evtx_files = sorted(LOGS.rglob("*.evtx"))
    read = stored = 0
    opening = 0.0
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as root:
            opened = time.perf_counter()
            with Store.open(Path(root) / "ws") as store:
                opening += time.perf_counter() - opened
                report = ingest_logs(store, evtx_files, "evtx")
        read += report.read
        stored += report.stored
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"{'evtx':<10} {read:>9,} read {stored:>9,} stored {seconds:6.2f} s  "
        f"{read / seconds:>10,.0f} records/s read {stored / seconds:>10,.0f} stored/s "
        f"({len(evtx_files)} files x {repeat}, a fresh workspace each time, its creation "
        f"{opening:.2f} s included; without it {read / (seconds - opening):,.0f} records/s; "
        f"{read / cpu:,.0f} records per CPU second)"
    )


def main() -> None:
    """Build the inputs and time each format."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--large-lines", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--evtx-copies", type=int, default=20)
    parser.add_argument(
        "--formats",
        default="squid,squid-large,zeek-smtp,zeek-http,postfix,postfix-iso,w3c,evtx,evtx-large",
        help="Comma-separated formats to time.",
    )
    args = parser.parse_args()
    wanted = set(args.formats.split(","))
    with tempfile.TemporaryDirectory() as folder:
        for name, build, log_format in (
            ("squid", squid_lines, "squid"),
            ("zeek-smtp", zeek_lines, "zeek-smtp"),
            ("zeek-http", zeek_http_lines, "zeek-http"),
            ("postfix", postfix_lines, "postfix"),
            ("postfix-iso", postfix_iso_lines, "postfix"),
            ("w3c", w3c_lines, "w3c"),
        ):
            if name not in wanted:
                continue
            path = Path(folder) / f"{name}.log"
            path.write_bytes(build(args.lines))
            run(name, path, log_format)
        if "squid-large" in wanted:
            path = Path(folder) / "squid-large.log"
            path.write_bytes(squid_lines(args.large_lines))
            run("squid-large", path, "squid")
        if "evtx-large" in wanted:
            sample = (
                LOGS / "windows-evtx" / "security_logon-logoff_2016-2017_omerbenamram-evtx.evtx"
            )
            path = Path(folder) / "large.evtx"
            path.write_bytes(evtx_copies(sample, args.evtx_copies))
            run("evtx-large", path, "evtx")
    if "evtx" in wanted:
        run_evtx_samples(args.repeat)


if __name__ == "__main__":
    main()
