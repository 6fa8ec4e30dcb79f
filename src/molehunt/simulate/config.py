"""Simulation arguments, their validation, and the summary a run returns."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from molehunt.errors import SimulationError

LAYOUTS: tuple[str, ...] = ("r6.2", "r4.2")
FORMATS: tuple[str, ...] = ("cert", "native")
MIN_USERS = 10
MIN_DAYS = 14
MAX_DAYS = 5000


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate and where to write it.

    Args:
        outdir: Output folder (a CERT-like release is written into it).
        users: Number of distinct people, including those hired during the period.
        days: Number of calendar days simulated, starting at ``start``.
        start: First simulated day.
        seed: Seed of the single random generator hierarchy.
        scenarios: ``(name, count)`` pairs of insider scenarios to plant.
        layout: ``"r6.2"`` (default) or ``"r4.2"`` column layout.
        gzip: Write ``.csv.gz`` activity files instead of ``.csv``.
        force: Overwrite a non-empty ``outdir``.
        output_format: ``"cert"`` (CERT-format activity files) or ``"native"`` (the same
            activity as Windows event XML, Squid, Postfix and CUPS logs plus an identity map,
            in ``outdir/native``; needs the r6.2 layout).
    """

    outdir: Path
    users: int = 200
    days: int = 120
    start: datetime.date = datetime.date(2010, 1, 4)
    seed: int = 0
    scenarios: tuple[tuple[str, int], ...] = ()
    layout: str = "r6.2"
    gzip: bool = False
    force: bool = False
    output_format: str = "cert"


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote.

    Args:
        outdir: The output folder.
        users: Number of people simulated.
        days: Number of days simulated.
        events: Rows written per activity file (logon, device, file, email, http).
        insiders: ``(scenario, user_id)`` of every planted insider.
        native: Records per native log file (``--format native``; else empty).
    """

    outdir: Path
    users: int
    days: int
    events: dict[str, int] = field(default_factory=dict)
    insiders: list[tuple[str, str]] = field(default_factory=list)
    native: dict[str, int] = field(default_factory=dict)


def validate_config(config: SimulationConfig, known_scenarios: tuple[str, ...]) -> None:
    """Check the arguments that do not depend on the generated institute.

    Args:
        config: The configuration to check.
        known_scenarios: Names of the registered scenarios.

    Raises:
        SimulationError: On the first bad argument, naming it and what was expected.
    """
    if config.users < MIN_USERS:
        raise SimulationError(f"--users must be >= {MIN_USERS}, got {config.users}")
    if not MIN_DAYS <= config.days <= MAX_DAYS:
        raise SimulationError(f"--days must be in {MIN_DAYS}..{MAX_DAYS}, got {config.days}")
    if config.seed < 0:
        raise SimulationError(f"--seed must be >= 0, got {config.seed}")
    if config.layout not in LAYOUTS:
        raise SimulationError(
            f"--layout must be one of {', '.join(LAYOUTS)}, got {config.layout!r}"
        )
    if config.output_format not in FORMATS:
        raise SimulationError(
            f"--format must be one of {', '.join(FORMATS)}, got {config.output_format!r}"
        )
    if config.output_format == "native" and config.layout != "r6.2":
        raise SimulationError(
            "--format native needs --layout r6.2 (r4.2 has no file activity or removable "
            "columns to write as Windows events)"
        )
    for name, count in config.scenarios:
        if name not in known_scenarios:
            raise SimulationError(
                f"--scenario: unknown scenario {name!r} (known: {', '.join(known_scenarios)})"
            )
        if count < 1:
            raise SimulationError(f"--scenario {name}: count must be >= 1, got {count}")
    total = sum(count for _, count in config.scenarios)
    if total > config.users // 5:
        raise SimulationError(
            f"--scenario: {total} insiders need --users >= {total * 5}, got {config.users}"
        )
    outdir = Path(config.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise SimulationError(f"OUTDIR is not a directory: {outdir}")
    if outdir.is_dir() and any(outdir.iterdir()) and not config.force:
        raise SimulationError(f"OUTDIR is not empty: {outdir} (use --force to overwrite)")


def parse_scenario_text(text: str, known_scenarios: tuple[str, ...]) -> tuple[str, int]:
    """Parse ``NAME[:COUNT]`` into ``(name, count)``.

    Args:
        text: The option value, e.g. ``"cert-2:3"``.
        known_scenarios: Names of the registered scenarios.

    Returns:
        The scenario name and how many insiders to plant.

    Raises:
        SimulationError: If the name is unknown or the count is not a positive integer.
    """
    name, _, count_text = text.strip().partition(":")
    if name not in known_scenarios:
        raise SimulationError(
            f"--scenario: unknown scenario {name!r} (known: {', '.join(known_scenarios)})"
        )
    if not count_text:
        return name, 1
    if not count_text.isdigit() or int(count_text) < 1:
        raise SimulationError(
            f"--scenario {name}: COUNT must be a positive integer, got {count_text!r}"
        )
    return name, int(count_text)
