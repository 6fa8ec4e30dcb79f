"""A small simulated institute cut into days, to feed `watch` one day (or line) at a time."""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from molehunt.ingest import ingest_cert
from molehunt.store import Store
from molehunt.watch.alerts import WatchAlert
from molehunt.watch.sinks import Sink

ACTIVITY = ("logon.csv", "device.csv", "file.csv", "email.csv", "http.csv", "print.csv")


@dataclass(frozen=True)
class Release:
    """A simulated CERT release and its activity lines per day and file."""

    folder: Path
    headers: dict[str, bytes]
    days: list[date]
    lines: dict[date, dict[str, list[bytes]]]

    def context_into(self, workspace: Path) -> None:
        """Ingest what is not activity (LDAP snapshots, decoys, psychometrics)."""
        with Store.open(workspace) as store:
            ingest_cert(store, self.folder / "LDAP")
            for name in ("decoy_file.csv", "psychometric.csv"):
                ingest_cert(store, self.folder / name)

    def empty_inputs(self, folder: Path) -> list[Path]:
        """Create the activity files with their header only; return their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ACTIVITY:
            (folder / name).write_bytes(self.headers[name])
        return [folder / name for name in ACTIVITY]

    def append_day(self, folder: Path, day: date) -> None:
        """Append one day's lines to every activity file."""
        for name in ACTIVITY:
            with (folder / name).open("ab") as handle:
                handle.writelines(self.lines[day].get(name, []))


def _day(line: bytes) -> date:
    stamp = line.split(b",", 2)[1].decode()
    return datetime.strptime(stamp[:10], "%m/%d/%Y").date()


def read_release(folder: Path) -> Release:
    """Cut a release's activity files into days (files keep their line order)."""
    headers: dict[str, bytes] = {}
    lines: dict[date, dict[str, list[bytes]]] = defaultdict(lambda: defaultdict(list))
    for name in ACTIVITY:
        with (folder / name).open("rb") as handle:
            headers[name] = handle.readline()
            for line in handle:
                lines[_day(line)][name].append(line)
    return Release(folder, headers, sorted(lines), {d: dict(v) for d, v in lines.items()})


class MemorySink(Sink):
    """Keeps the alerts it is sent."""

    def __init__(self) -> None:
        super().__init__("memory", False)
        self.alerts: list[WatchAlert] = []

    def send(self, alert: WatchAlert) -> None:
        self.alerts.append(alert)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """40 people x 30 days with a cert-1 insider."""
    from molehunt.simulate import SimulationConfig, simulate

    folder = tmp_path_factory.mktemp("watch") / "sim"
    simulate(
        SimulationConfig(outdir=folder, users=40, days=30, seed=11, scenarios=(("cert-1", 1),))
    )
    return read_release(folder)


@pytest.fixture(scope="session")
def batch_workspace(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same release through `ingest cert` + `detect` (the reference)."""
    from molehunt.score import run_detection

    workspace = tmp_path_factory.mktemp("batch") / "ws"
    with Store.open(workspace) as store:
        ingest_cert(store, release.folder)
        run_detection(store)
    return workspace


def copy_workspace(source: Path, target: Path) -> Path:
    """Copy a workspace folder."""
    shutil.copytree(source, target)
    return target
