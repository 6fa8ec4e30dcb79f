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
The child server is stopped at the end. Needs the test extra (httpx2).
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


async def open_loop(
    base: str, headers: dict[str, str], rate: float, seconds: float
) -> tuple[list[float], int]:
    """Send requests at a fixed rate; return latencies (from each due time) and errors."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        start = time.perf_counter() + 0.2

        async def one(index: int) -> None:
            nonlocal errors
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                response = await client.get("/api/v1/queue?top=20", timeout=10)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(i) for i in range(total)))
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
            api = sequential(client, "/api/v1/queue?top=20", 200)
            client.post("/login", data={"token": token})
            page = sequential(client, "/", 200)
        print(f"GET /api/v1/queue?top=20, one at a time: {percentiles(api)}")
        print(f"GET / (queue page, 20 people), one at a time: {percentiles(page)}")
        latencies, errors = asyncio.run(open_loop(base, headers, args.rate, args.seconds))
        print(
            f"GET /api/v1/queue?top=20 at {args.rate:g}/s for {args.seconds:g} s "
            f"({len(latencies)} requests, {errors} errors): {percentiles(latencies)}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
