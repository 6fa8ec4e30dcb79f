"""A small simulated workspace, ingested and detected once per session, copied per test."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from molehunt.ingest import ingest_cert
from molehunt.score import run_detection
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store import Store


@pytest.fixture(scope="session")
def recorded_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 people x 14 days (seed 5): ingested, then detected in two runs."""
    folder = tmp_path_factory.mktemp("ledger-sim")
    simulate(SimulationConfig(outdir=folder / "sim", users=20, days=14, seed=5))
    workspace = folder / "ws"
    with Store.open(workspace) as store:
        ingest_cert(store, folder / "sim")
        run_detection(store, date(2010, 1, 8))
        run_detection(store)
    return workspace


@pytest.fixture
def workspace(recorded_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the recorded workspace, free to tamper with."""
    copy = tmp_path / "ws"
    shutil.copytree(recorded_workspace, copy)
    return copy
