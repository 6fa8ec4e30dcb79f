"""Benchmark `molehunt watch`: sustained events/s, and alert latency p50/p99, on loopback only.

A simulated institute is cut in two: the first `--history` days are ingested and detected
(what a deployment already holds); then the watched CERT files grow.

1. Throughput: a writer thread appends the next `--stream` days to the six activity files
   as fast as it can while `watch` follows them (ingest, intra-day rule runs and day closes
   included). Reported: events/s from the first append until every line is stored, then
   (over several days) until every day that all inputs have passed is closed too, and where
   the time went.
2. Latency: a writer appends background web events of the following day at `--rate` events/s
   and, at random moments, one upload to a leak site by a new person (a critical rule);
   latency = from the line's flush to the file until the alert reaches the sink.

Bounded and self-stopping (`--alerts` planted events, at most `--seconds` for phase 2).

The default institute is the issue's r4.2 scale, 1,000 people (1.35 M events over the 20
streamed days; about a minute to prepare). A smaller one (`--users 200`: 274,535 events) is
quicker to run, but its 20-day replay is about 1.5 s of work, of which one day close's fixed
cost (planning the feature and rule SQL, reference tables, scores: about half a second,
whatever the size) is a third: its rate with closes says more about that fixed cost than
about sustained throughput. Usage:

    python bench/bench_watch.py [--users 1000] [--history 30] [--stream 20] [--rate 2000]
                                [--alerts 40] [--seconds 90] [--profile] [--tmp DIR]
                                [--latency-only]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import itertools
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store
from molehunt.watch import WatchConfig, Watcher
from molehunt.watch.alerts import WatchAlert
from molehunt.watch.sinks import Sink

ACTIVITY = ("logon.csv", "device.csv", "file.csv", "email.csv", "http.csv", "print.csv")


class TimedSink(Sink):
    """Notes when each alert arrives."""

    def __init__(self) -> None:
        super().__init__("bench", False)
        self.arrived: dict[str, float] = {}

    def send(self, alert: WatchAlert) -> None:
        self.arrived.setdefault(alert.user, time.monotonic())


def _day(line: bytes) -> datetime.date:
    return datetime.datetime.strptime(line.split(b",", 2)[1][:10].decode(), "%m/%d/%Y").date()


def prepare(root: Path, users: int, history: int, stream: int) -> tuple[Path, dict, list]:
    """Simulate, write the history to the watched files, ingest and detect it."""
    sim = root / "sim"
    started = time.perf_counter()
    simulate(SimulationConfig(outdir=sim, users=users, days=history + stream + 2, seed=13))
    inputs = root / "in"
    inputs.mkdir()
    later: dict[str, dict[datetime.date, list[bytes]]] = {}
    days: set[datetime.date] = set()
    for name in ACTIVITY:
        with (sim / name).open("rb") as handle:
            header = handle.readline()
            lines = handle.readlines()
        first = _day(lines[0])
        cut = first + datetime.timedelta(days=history)
        kept = [line for line in lines if _day(line) < cut]
        (inputs / name).write_bytes(header + b"".join(kept))
        rest: dict[datetime.date, list[bytes]] = defaultdict(list)
        for line in lines[len(kept) :]:
            rest[_day(line)].append(line)
            days.add(_day(line))
        later[name] = rest
    workspace = root / "ws"
    with Store.open(workspace) as store:
        ingest_cert(store, sim / "LDAP")
        for name in ("decoy_file.csv", "psychometric.csv"):
            ingest_cert(store, sim / name)
        for name in ACTIVITY:
            ingest_cert(store, inputs / name)
        run_detection(store)
    print(
        f"prepared {users} people x {history} days of history "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return inputs, later, sorted(days)


def _moved(line: bytes, stamp: bytes) -> bytes:
    """The line with its date replaced by `stamp` (MM/DD/YYYY), time of day kept."""
    comma = line.index(b",") + 1
    return line[:comma] + stamp + line[comma + 10 :]


def _time_steps(watcher: Watcher) -> dict[str, float]:
    """Time the watcher's poll, close, evaluation and alerting (total and longest)."""
    timings: dict[str, float] = {}
    for key, name in (
        ("poll", "_poll"),
        ("close", "_close_complete_days"),
        ("evaluate", "_evaluate_open_days"),
        ("raise", "_raise"),
    ):
        timings[key] = timings["max " + key] = 0.0
        original = getattr(watcher, name)

        def wrapper(*args: object, _key: str = key, _call=original, **kwargs: object) -> object:  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return _call(*args, **kwargs)
            finally:
                spent = time.perf_counter() - began
                timings[_key] += spent
                timings["max " + _key] = max(timings["max " + _key], spent)

        setattr(watcher, name, wrapper)
    return timings


def throughput(
    store: Store, inputs: Path, later: dict, days: list, profile: bool, one_day: bool
) -> Watcher:
    """Stream days (or, `one_day`, all their events dated on the first) while watching."""
    stream_days = days[:-2]
    if one_day:
        stamp = stream_days[0].strftime("%m/%d/%Y").encode()
        later = {
            name: {
                stream_days[0]: [_moved(x, stamp) for d in stream_days for x in by_day.get(d, [])]
            }
            for name, by_day in later.items()
        }
        stream_days = stream_days[:1]
    total = sum(len(later[name].get(day, [])) for name in ACTIVITY for day in stream_days)
    # The last day every input passes (without waiting for a grace period): closed once the
    # stream is read, if the watcher closes as it should.
    newest = [
        max((d for d in stream_days if later[name].get(d)), default=None) for name in ACTIVITY
    ]
    closable = min(d for d in newest if d is not None) - datetime.timedelta(days=1)
    sink = TimedSink()
    watcher = Watcher(store, [inputs / n for n in ACTIVITY], [sink], WatchConfig(grace_seconds=5))
    watcher.step()  # resumes where the ingest stopped: nothing new
    warming = getattr(watcher, "warming", None)
    if warming is not None:  # a watch running for more than a few seconds: imports done
        warming.join()

    def write() -> None:
        for day in stream_days:
            for name in ACTIVITY:
                with (inputs / name).open("ab") as handle:
                    handle.writelines(later[name].get(day, []))

    timings = _time_steps(watcher)
    profiler = cProfile.Profile() if profile else None
    writer = threading.Thread(target=write)
    started = time.perf_counter()
    writer.start()
    if profiler:
        profiler.enable()
    cpu = time.process_time()
    stats = watcher.stats
    while stats.stored + stats.rejected + stats.staged < total or writer.is_alive():
        if not watcher.step():
            time.sleep(0.01)
    elapsed = time.perf_counter() - started
    stored_cpu = time.process_time() - cpu
    closed_in = len(watcher.stats.closed)
    # ... and until the days every input has passed are closed (bounded).
    while not one_day and (watcher.last_closed() or closable) < closable:
        if time.perf_counter() - started > elapsed + 120:
            print(f"  days through {closable} were not closed within 120 s")
            break
        if not watcher.step():
            time.sleep(0.01)
    through = time.perf_counter() - started
    cpu = time.process_time() - cpu
    if profiler:
        profiler.disable()
    writer.join()
    what = "within one open day" if one_day else f"over {len(stream_days)} days"
    closes = getattr(watcher.stats, "closes", None)
    print(
        f"throughput {what}: {total:,} events stored in {elapsed:.1f} s = "
        f"{total / elapsed:,.0f} events/s (target >= 200,000); days closed by then: "
        f"{closed_in}, intra-day rule runs: {watcher.stats.evaluations}; "
        f"process CPU {stored_cpu:.1f} s = {total / stored_cpu:,.0f} events per CPU-second"
    )
    if not one_day:
        print(
            f"  stored and closed through {closable} ({len(watcher.stats.closed)} days closed"
            f"{'' if closes is None else f' in {closes} runs'}): {through:.1f} s = "
            f"{total / through:,.0f} events/s; process CPU {cpu:.1f} s = "
            f"{total / cpu:,.0f} events per CPU-second"
        )
        elapsed = through
    print(
        "  time in: "
        + ", ".join(
            f"{key} {value:.1f} s ({value / elapsed:.0%})"
            for key, value in timings.items()
            if not key.startswith("max ")
        )
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return watcher


def latency(
    store: Store, inputs: Path, later: dict, days: list, rate: int, alerts: int, seconds: float
) -> None:
    """Phase 2: background events at `rate`/s with planted critical events; p50/p99."""
    day = days[-1]
    stamp = day.strftime("%m/%d/%Y").encode()
    background = [  # web events of the streamed days, moved to the open day
        _moved(line, stamp) for d in days[:-2] for line in later["http.csv"].get(d, [])
    ]
    users = sorted({line.split(b",", 3)[2] for line in background})
    sink = TimedSink()
    watcher = Watcher(
        store, [inputs / n for n in ACTIVITY], [sink], WatchConfig(grace_seconds=3600)
    )
    watcher.step()
    closes = len(watcher.stats.closed)
    timings = _time_steps(watcher)
    planted: dict[str, float] = {}
    chooser = random.Random(7)
    stop = threading.Event()

    def write() -> None:
        lines = itertools.cycle(background)
        targets = chooser.sample(users, min(alerts, len(users)))
        begin = time.monotonic()
        sent = 0
        next_plant = begin + chooser.uniform(0.5, 1.5)
        with (inputs / "http.csv").open("ab") as handle:
            while not stop.is_set() and time.monotonic() - begin < seconds:
                due = int((time.monotonic() - begin) * rate)
                while sent < due:
                    handle.write(next(lines))
                    sent += 1
                handle.flush()
                if targets and time.monotonic() >= next_plant:
                    user = targets.pop()
                    handle.write(
                        b"{BENCH-"
                        + user
                        + b"},"
                        + stamp
                        + b" 21:00:00,"
                        + user
                        + b",PC-0001,http://wikileaks.org/submit,WWW Upload,bench\n"
                    )
                    handle.flush()
                    planted[user.decode()] = time.monotonic()
                    next_plant = time.monotonic() + chooser.uniform(0.5, 1.5)
                if not targets and all(u in sink.arrived for u in planted):
                    return
                time.sleep(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        if not watcher.step():
            time.sleep(0.01)
    stop.set()
    for _ in range(50):  # the last planted line may still be on its way
        if all(u in sink.arrived for u in planted):
            break
        watcher.step()
    waits = sorted(sink.arrived[u] - t for u, t in planted.items() if u in sink.arrived)
    missing = len(planted) - len(waits)
    if not waits:
        print("latency: no alert arrived")
        return
    p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))]
    print(
        f"alert latency over {len(waits)} planted critical events at {rate:,} background "
        f"events/s: p50 {statistics.median(waits):.3f} s, p99 {p99:.3f} s, max {waits[-1]:.3f} s "
        f"(target p99 <= 1 s); {missing} without an alert; intra-day rule runs "
        f"{watcher.stats.evaluations}, "
        f"{watcher.stats.evaluation_seconds / max(1, watcher.stats.evaluations):.3f} s each "
        f"({watcher.stats.evaluation_cpu_seconds / max(1, watcher.stats.evaluations):.3f} "
        "CPU-seconds)"
    )
    print(
        f"  slowest waits: {', '.join(f'{w:.3f} s' for w in waits[-3:])}; days closed "
        f"meanwhile: {len(watcher.stats.closed) - closes}; time in: "
        + ", ".join(
            f"{key} {value:.1f} s (longest {timings['max ' + key]:.2f} s)"
            for key, value in timings.items()
            if not key.startswith("max ")
        )
    )


def main() -> None:
    """Run both phases on a fresh temporary institute."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--stream", type=int, default=20)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--latency-only", action="store_true", help="Skip the throughput runs")
    parser.add_argument("--tmp", type=Path, default=None, help="Folder for the temporary files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-watch-", dir=args.tmp) as folder:
        root = Path(folder)
        inputs, later, days = prepare(root, args.users, args.history, args.stream)
        if not args.latency_only:
            snapshot = root / "prepared"
            for name in ("ws", "in"):
                shutil.copytree(root / name, snapshot / name)
            with Store.open(root / "ws") as store:
                throughput(store, inputs, later, days, args.profile, one_day=True)
            # The stream's days go into the prepared institute, not into one that already
            # holds the first phase's events (the whole stream moved to its first day: a day
            # 20 times the usual size, which its close and every evaluation re-aggregate).
            for name in ("ws", "in"):
                shutil.rmtree(root / name)
                shutil.copytree(snapshot / name, root / name)
        with Store.open(root / "ws") as store:
            if not args.latency_only:
                throughput(store, inputs, later, days, args.profile, one_day=False)
            latency(store, inputs, later, days, args.rate, args.alerts, args.seconds)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
