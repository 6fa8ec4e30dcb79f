"""Time the workbench: `GET /api/v1/queue` and the queue page, alone and at 200 requests/s.

    python bench/bench_serve.py --users 4000 --days 60 [--workdir DIR] [--reuse]
                                [--rate 200] [--seconds 10]

Simulates, ingests (with context) and detects a workspace (or reuses WORKDIR/ws), starts
`molehunt serve` on a free loopback port in a child process, then measures over real HTTP:
1. one request at a time: 200 x `GET /api/v1/queue?top=20` and 200 x `GET /` (the queue page,
   signed in), p50 / p95 / p99;
2. open loop: `GET /api/v1/queue?top=20` sent at `--rate` per second for `--seconds`, each
   latency counted from the moment the request was due (so a stalled server cannot hide its
   queueing), p50 / p95 / p99 and errors. Bounded: it stops after rate x seconds requests.
The child server is stopped at the end. Needs the test extra (httpx2, for part 1; part 2 uses a
minimal keep-alive client on asyncio streams so the load generator costs little CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

from molehunt.context import ingest_context
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.serve.app import utc_now
from molehunt.serve.workbench import Workbench
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store

SCENARIOS = ("departing-classified-theft", "cert-1", "cert-2", "need-to-know")


def build(work: Path, users: int, days: int, seed: int) -> Path:
    """Simulate, ingest and detect a workspace under `work`; return it."""
    folder, workspace = work / "sim", work / "ws"
    started = time.perf_counter()
    simulate(
        SimulationConfig(
            outdir=folder,
            users=users,
            days=days,
            seed=seed,
            scenarios=tuple((name, 1) for name in SCENARIOS),
            force=True,
        )
    )
    print(f"simulate {users} x {days}: {time.perf_counter() - started:.0f} s")
    shutil.rmtree(workspace, ignore_errors=True)
    with Store.open(workspace) as store:
        started = time.perf_counter()
        ingest_cert(store, folder)
        ingest_context(store, folder / "context")
        print(f"ingest: {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        run_detection(store)
        print(f"detect: {time.perf_counter() - started:.0f} s")
    return workspace


def percentiles(values: list[float]) -> str:
    """Return 'p50 / p95 / p99' in milliseconds."""
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"p50 {at(0.50):.1f} ms, p95 {at(0.95):.1f} ms, p99 {at(0.99):.1f} ms"


def sequential(client: httpx.Client, url: str, count: int) -> list[float]:
    """Time `count` requests one after another (after one warm-up)."""
    client.get(url).raise_for_status()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(url).raise_for_status()
        times.append(time.perf_counter() - started)
    return times


def first_and_again(client: httpx.Client, people: int = 3) -> dict[str, tuple[float, float]]:
    """Time the person and finding answers of the top people: first view, then a repeat."""
    queue = client.get("/api/v1/queue?top=20").json()
    timings: dict[str, list[tuple[float, float]]] = {"person": [], "finding": []}
    for entry in queue["entries"][:people]:
        for name, url in (
            ("person", f"/api/v1/people/{entry['person']}"),
            ("finding", f"/api/v1/findings/{entry['person']}/{queue['day']}"),
        ):
            pair = []
            for _ in range(2):
                started = time.perf_counter()
                client.get(url, timeout=120).raise_for_status()
                pair.append(time.perf_counter() - started)
            timings[name].append((pair[0], pair[1]))
    return {
        f"GET /api/v1/{'people' if name == 'person' else 'findings'}/... (top {people})": (
            sorted(p[0] for p in pairs)[len(pairs) // 2],
            sorted(p[1] for p in pairs)[len(pairs) // 2],
        )
        for name, pairs in timings.items()
    }


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one keep-alive HTTP/1.1 GET on an open connection; return the status code."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def open_loop(
    port: int, token: str, rate: float, seconds: float, connections: int = 32
) -> tuple[list[float], int]:
    """Send requests at a fixed rate over a pool of keep-alive connections.

    A minimal HTTP/1.1 client on asyncio streams, so the load generator costs little of the
    CPU it shares with the server. Each latency runs from the request's due time, so waiting
    for a free connection counts too.

    Returns:
        Latencies in seconds, and the number of errors (non-200 answers or broken connections).
    """
    request = (
        f"GET /api/v1/queue?top=20 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(index: int) -> None:
        nonlocal errors
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        reader, writer = await pool.get()
        try:
            if await _get(reader, writer, request) != 200:
                errors += 1
            pool.put_nowait((reader, writer))
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
            errors += 1
            writer.close()
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
        latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, errors


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--workdir", type=Path, help="where to simulate and keep the workspace")
    parser.add_argument("--reuse", action="store_true", help="reuse WORKDIR/ws as it is")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests per s")
    parser.add_argument("--seconds", type=float, default=10.0, help="open-loop duration")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="molehunt-bench-serve-"))
    workspace = work / "ws"
    if not (args.reuse and (workspace / "molehunt.duckdb").exists()):
        workspace = build(work, args.users, args.days, args.seed)
    token = Workbench(workspace, utc_now).create_token("bench", "analyst")[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "molehunt", "-q", "-w", str(workspace)]
        + ["serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/openapi.json")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            started = time.perf_counter()
            client.get("/api/v1/queue?top=20").raise_for_status()
            first = time.perf_counter() - started
            api = sequential(client, "/api/v1/queue?top=20", 200)
            views = first_and_again(client)
            client.post("/login", data={"token": token})
            page = sequential(client, "/", 200)
        print(f"first GET /api/v1/queue?top=20 (snapshot copy, queue): {first * 1000:.0f} ms")
        print(f"GET /api/v1/queue?top=20, one at a time: {percentiles(api)}")
        print(f"GET / (queue page, 20 people), one at a time: {percentiles(page)}")
        for name, (first, again) in views.items():
            print(f"{name}: first view {first * 1000:.0f} ms, again {again * 1000:.1f} ms (median)")
        latencies, errors = asyncio.run(open_loop(port, token, args.rate, args.seconds))
        print(
            f"GET /api/v1/queue?top=20 at {args.rate:g}/s for {args.seconds:g} s "
            f"({len(latencies)} requests, {errors} errors): {percentiles(latencies)}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
