"""One small detected workspace per session; each test gets its own copy, tokens and client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from molehunt.context import ingest_context
from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.serve import create_app
from molehunt.serve.workbench import Workbench
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store

ROLES = ("analyst", "investigator", "auditor", "admin")
START = datetime(2026, 1, 5, 9, 0, 0)


class Clock:
    """A clock that moves one second per reading (audit rows get distinct times)."""

    def __init__(self) -> None:
        self.current = START

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@dataclass
class Bench:
    """A workspace copy with one token per role and an in-process client."""

    workspace: Path
    client: TestClient
    tokens: dict[str, str]
    workbench: Workbench
    users: list[str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="session")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 people x 75 days with a departing classified thief and a cert-2 job seeker (~5 s)."""
    folder = tmp_path_factory.mktemp("serve-sim")
    simulate(
        SimulationConfig(
            outdir=folder,
            users=60,
            days=75,
            seed=5,
            scenarios=(("departing-classified-theft", 1), ("cert-2", 1)),
        )
    )
    workspace = folder / "ws"
    with Store.open(workspace) as store:
        ingest_cert(store, folder)
        ingest_context(store, folder / "context")
        run_detection(store)
    return workspace


@pytest.fixture
def bench(detected: Path, tmp_path: Path) -> Iterator[Bench]:
    """A private copy of the detected workspace, served in process."""
    workspace = tmp_path / "ws"
    shutil.copytree(detected, workspace)
    clock = Clock()
    workbench = Workbench(workspace, clock)
    tokens = {role: workbench.create_token(f"{role}-1", role)[1] for role in ROLES}
    with Store.open(workspace, read_only=True) as store:
        users = [str(u) for (u,) in store.query("SELECT DISTINCT user FROM scores ORDER BY 1")]
    app = create_app(workspace, now=clock, check_interval=0.0)
    with TestClient(app) as client:
        yield Bench(workspace, client, tokens, workbench, users)
