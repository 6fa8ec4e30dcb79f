"""Parse CERT-format answer keys: `insiders.csv` plus one observables file per incident."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from molehunt.errors import MolehuntError, SourceLocation

INSIDERS_FILE = "insiders.csv"
TIME_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y")
INSIDERS_COLUMNS = ("dataset", "scenario", "details", "user", "start", "end")


class EvaluationError(MolehuntError):
    """An answer key cannot be read, or the workspace cannot be evaluated against it."""


class Observable(NamedTuple):
    """One malicious event of an incident, as listed in its observables file.

    Args:
        source: The activity file the row comes from: logon, device, file, email or http.
        event_id: The row's CERT id (e.g. ``{P2W1-C6NJ88YS-2909NGZE}``).
        time: When it happened (CERT times carry no zone).
        user: The account on the row; usually the insider, another account when the insider
            acted under it (CERT scenario 3: the supervisor's logon and mass email).
    """

    source: str
    event_id: str
    time: datetime.datetime
    user: str


@dataclass(frozen=True)
class Incident:
    """One row of `insiders.csv` with its observables.

    Args:
        dataset: Release the incident belongs to, without a leading ``r`` (``"5.2"``, ``"sim"``).
        scenario: Scenario name; CERT's scenario numbers become ``cert-N``.
        user: The insider's user id.
        start: Start of the incident (from `insiders.csv`, or the first observable when the
            key's value is malformed); None when neither is known.
        end: End of the incident, with the same fallback to the last observable.
        details: Name of the observables file.
        malicious_days: Days with at least one observable; when the observables file is
            missing, every day from `start` to `end` (see `has_observables`).
        observables: The observables in file order.
        has_observables: Whether the observables file was found.
        notes: What was repaired or assumed while reading this incident, one line each.
    """

    dataset: str
    scenario: str
    user: str
    start: datetime.datetime | None
    end: datetime.datetime | None
    details: str
    malicious_days: frozenset[datetime.date]
    observables: tuple[Observable, ...] = ()
    has_observables: bool = True
    notes: tuple[str, ...] = ()

    @property
    def first_day(self) -> datetime.date | None:
        """The first malicious day, or None when there is none."""
        return min(self.malicious_days) if self.malicious_days else None

    @property
    def last_day(self) -> datetime.date | None:
        """The last malicious day, or None when there is none."""
        return max(self.malicious_days) if self.malicious_days else None


def normalize_dataset(name: str) -> str:
    """Return a dataset name as written in `insiders.csv`: ``"r5.2"`` and ``"5.2"`` -> ``"5.2"``.

    Args:
        name: A dataset name, with or without the leading ``r``.

    Returns:
        The name without surrounding spaces or a leading ``r`` before a digit.

    Examples:
        >>> normalize_dataset("r6.2")
        '6.2'
    """
    text = name.strip()
    if len(text) > 1 and text[0] in "rR" and text[1].isdigit():
        return text[1:]
    return text


def scenario_name(value: str) -> str:
    """Return the scenario name for an `insiders.csv` value: CERT's ``"2"`` -> ``"cert-2"``.

    Args:
        value: The `scenario` column.

    Returns:
        ``cert-N`` for a bare number, otherwise the value itself (simulator names).
    """
    text = value.strip()
    return f"cert-{int(text)}" if text.isdigit() else text


def parse_time(text: str) -> datetime.datetime | None:
    """Parse a CERT time (``MM/DD/YYYY HH:MM:SS``; one-digit months, days and hours accepted).

    Args:
        text: The field.

    Returns:
        The time, or None when the text is empty or malformed (e.g. ``/21/2011 11:43:39``).
    """
    value = text.strip()
    for pattern in TIME_FORMATS:
        try:
            return datetime.datetime.strptime(value, pattern)
        except ValueError:
            continue
    return None


def load_answers(directory: Path | str, dataset: str | None = None) -> list[Incident]:
    """Read a CERT-format answer key folder.

    The folder holds `insiders.csv` (dataset, scenario, details, user, start, end) and one
    observables file per incident, either beside it or in a subfolder (`r5.2-1/...`).

    Args:
        directory: The answers folder.
        dataset: Keep only incidents of this dataset (``"5.2"`` or ``"r5.2"``); None keeps all.

    Returns:
        The incidents in `insiders.csv` order.

    Raises:
        EvaluationError: The folder or its `insiders.csv` is missing, or `insiders.csv` lacks
            a required column.
    """
    root = Path(directory)
    index_path = root / INSIDERS_FILE
    if not index_path.is_file():
        raise EvaluationError(
            f"no {INSIDERS_FILE} in {root}: expected a CERT-format answers folder"
        )
    wanted = normalize_dataset(dataset) if dataset is not None else None
    files = _details_index(root)
    incidents = []
    for line, row in _read_index(index_path):
        if wanted is not None and normalize_dataset(row["dataset"]) != wanted:
            continue
        incidents.append(_incident(row, files.get(row["details"].strip()), index_path, line))
    return incidents


def _details_index(root: Path) -> dict[str, Path]:
    """Map each observables file name to its path (the folder and its direct subfolders)."""
    found: dict[str, Path] = {}
    for path in sorted(root.glob("*/*")) + sorted(root.glob("*")):
        if path.is_file() and path.name != INSIDERS_FILE:
            found[path.name] = path  # a file beside insiders.csv wins over a subfolder's
    return found


def _read_index(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, row) for every data row of `insiders.csv`."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in INSIDERS_COLUMNS if name not in header]
        if missing:
            raise EvaluationError(
                f"missing column(s) {', '.join(missing)}; expected {','.join(INSIDERS_COLUMNS)}",
                source=SourceLocation(path, 1),
            )
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            padded = fields + [""] * (len(header) - len(fields))
            yield reader.line_num, dict(zip(header, padded, strict=False))


def _incident(row: dict[str, str], details: Path | None, index: Path, line: int) -> Incident:
    """Build one incident from its `insiders.csv` row and observables file."""
    notes: list[str] = []
    observables: list[Observable] = []
    if details is not None:
        observables = _read_observables(details, notes)
    else:
        notes.append(f"observables file {row['details']!r} not found")
    start = _bound(row["start"], "start", observables, notes, index, line)
    end = _bound(row["end"], "end", observables, notes, index, line)
    if observables:
        days = frozenset(item.time.date() for item in observables)
    elif details is None and start is not None and end is not None:
        span = (end.date() - start.date()).days
        days = frozenset(start.date() + datetime.timedelta(n) for n in range(max(span, 0) + 1))
        notes.append("malicious days taken as every day from start to end")
    else:
        days = frozenset()
        notes.append("no malicious day known")
    return Incident(
        dataset=normalize_dataset(row["dataset"]),
        scenario=scenario_name(row["scenario"]),
        user=row["user"].strip(),
        start=start,
        end=end,
        details=row["details"].strip(),
        malicious_days=days,
        observables=tuple(observables),
        has_observables=details is not None,
        notes=tuple(notes),
    )


def _bound(
    text: str,
    name: str,
    observables: list[Observable],
    notes: list[str],
    index: Path,
    line: int,
) -> datetime.datetime | None:
    """Parse `start` or `end`; fall back to the first or last observable when malformed."""
    parsed = parse_time(text)
    if parsed is not None or not text.strip() and not observables:
        return parsed
    fallback = None
    if observables:
        times = [item.time for item in observables]
        fallback = min(times) if name == "start" else max(times)
    where = SourceLocation(index, line, name)
    used = f"used the {'first' if name == 'start' else 'last'} observable's time {fallback}"
    notes.append(f"{where}: malformed {name} {text!r}; " + (used if fallback else "left unknown"))
    return fallback


def _read_observables(path: Path, notes: list[str]) -> list[Observable]:
    """Read an observables file: variable-length CSV rows, first column the source."""
    found = []
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            time = parse_time(fields[2]) if len(fields) >= 4 else None
            if time is None:
                where = SourceLocation(path, reader.line_num)
                notes.append(f"{where}: skipped a row without source, id, time and user")
                continue
            source, event_id, user = fields[0], fields[1], fields[3]
            found.append(Observable(source.strip().lower(), event_id.strip(), time, user.strip()))
    return found
