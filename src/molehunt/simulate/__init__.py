"""The simulator: synthetic institutes with planted insiders, written as a CERT-format release."""

from __future__ import annotations

from molehunt.simulate.config import SimulationConfig, SimulationSummary, parse_scenario_text
from molehunt.simulate.engine import simulate
from molehunt.simulate.scenarios import SCENARIOS, scenarios

__all__ = [
    "SCENARIOS",
    "SimulationConfig",
    "SimulationSummary",
    "parse_scenario",
    "scenarios",
    "simulate",
]


def parse_scenario(text: str) -> tuple[str, int]:
    """Parse a ``--scenario NAME[:COUNT]`` value.

    Args:
        text: e.g. ``"cert-2:3"`` or ``"cert-2"``.

    Returns:
        ``(name, count)``, e.g. ``("cert-2", 3)``; the count defaults to 1.

    Raises:
        SimulationError: If the name is unknown (the message lists the known ones) or the count is
            not a positive integer.

    Examples:
        >>> parse_scenario("cert-2:3")
        ('cert-2', 3)
    """
    return parse_scenario_text(text, SCENARIOS)
