"""`molehunt ingest cert`: read a CERT Insider Threat release folder (or single files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from molehunt.errors import IngestError, LayoutError
from molehunt.ingest.cert_layout import Layout, detect_layout, plan_sql
from molehunt.ingest.csv_chunk import LineReject, split_chunk, split_header
from molehunt.ingest.reader import Chunk
from molehunt.ingest.source import FileReport, Progress, ingest_file, read_head
from molehunt.store import Store

# print.csv is not in CERT releases: a simulated institute's print jobs (docs/simulate.md).
ACTIVITY_FILES = ("logon", "device", "file", "email", "http", "print")
CONTEXT_FILES = ("psychometric", "decoy_file")


@dataclass(frozen=True)
class CertPlan:
    """Split and map plan for one CERT CSV file (implements `FilePlan`)."""

    layout: Layout
    header_lines: int = 1

    @property
    def channel(self) -> str:
        """The file's channel."""
        return self.layout.channel

    @property
    def label(self) -> str:
        """The file's layout label."""
        return self.layout.label

    @property
    def part(self) -> str:
        """What tells this file apart from a same-content one (an LDAP snapshot's month)."""
        return self.layout.month or ""

    @property
    def table(self) -> str:
        """The table the file fills."""
        return self.layout.table

    def split(self, chunk: Chunk) -> tuple[pa.Table, list[LineReject]]:
        """Split CSV lines into the header's columns."""
        return split_chunk(chunk, list(self.layout.columns))

    def queries(self, source_id: int, relation: str) -> tuple[str, str]:
        """SQL mapping split rows to the target table, and their reject reasons."""
        return plan_sql(self.layout, source_id, relation)


@dataclass
class IngestReport:
    """Per-file results of one ingest run, plus files that were looked at and skipped."""

    files: list[FileReport] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Lines read in all files."""
        return sum(f.read for f in self.files)

    @property
    def stored(self) -> int:
        """Rows stored from all files."""
        return sum(f.stored for f in self.files)

    @property
    def rejected(self) -> int:
        """Lines rejected in all files."""
        return sum(f.rejected for f in self.files)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.csv", f"{stem}.csv.gz", f"{stem}.CSV"):
        if (folder / name).is_file():
            return folder / name
    return None


def discover_cert_files(path: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """List the CERT files under a release folder (or the single file given).

    Args:
        path: A release folder (logon.csv, ..., LDAP/) or one CERT file.

    Returns:
        (files to ingest in a stable order, (path, reason) for files passed over).

    Raises:
        IngestError: The path does not exist, or the folder holds no CERT file.
    """
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder; expected a CERT release folder")
    if path.is_file():
        return [path], []
    found = [p for stem in ACTIVITY_FILES + CONTEXT_FILES if (p := _find(path, stem))]
    others = sorted(p for p in path.iterdir() if p.is_file())
    # LDAP snapshots live in LDAP/, or the folder given is that LDAP folder itself.
    ldap = path / "LDAP"
    snapshots = sorted(p for p in ldap.iterdir() if p.is_file()) if ldap.is_dir() else []
    if path.name.lower() == "ldap":
        snapshots = others
    found += [p for p in snapshots if p.name.lower().endswith((".csv", ".csv.gz"))]
    others += [p for p in snapshots if p not in others]
    chosen = set(found)
    skipped = [(p, "not a CERT data file") for p in others if p not in chosen]
    if not found:
        raise IngestError(
            f"{path}: no CERT files found; expected logon.csv, device.csv, file.csv, email.csv, "
            "http.csv, print.csv (or .csv.gz), LDAP/YYYY-MM.csv, psychometric.csv or "
            "decoy_file.csv"
        )
    return found, skipped


def plan_cert_file(path: Path) -> CertPlan:
    """Read a CERT file's header and recognise its layout.

    Raises:
        IngestError: The file is empty or unreadable.
        LayoutError: The header matches no known layout.
    """
    head = read_head(path, 2)
    header = split_header(head[0])
    if not header or any(not name for name in header):
        raise LayoutError(f"{path}: first line is not a CSV header (found {head[0][:80]!r})")
    first_row = split_header(head[1]) if len(head) > 1 and head[1].strip() else None
    return CertPlan(detect_layout(path, header, first_row))


def ingest_cert(store: Store, path: Path | str, progress: Progress | None = None) -> IngestReport:
    """Ingest a CERT release folder or file into the store.

    Every file's layout is checked before anything is written, so a bad header aborts the
    run cleanly; bad rows never abort it (they go to `rejects`).

    Args:
        store: The workspace.
        path: Release folder or single CERT file.
        progress: Called after every committed chunk.

    Returns:
        What happened to each file.

    Raises:
        IngestError: A path is missing or empty, or a header is not recognised.
    """
    files, skipped = discover_cert_files(Path(path))
    plans = [(file, plan_cert_file(file)) for file in files]
    report = IngestReport(skipped=skipped)
    for file, plan in plans:
        report.files.append(ingest_file(store, file, "cert", plan, progress))
    return report
