"""Errors of the detect stage (subclasses of `molehunt.errors.MolehuntError`)."""

from __future__ import annotations

from molehunt.errors import MolehuntError


class RuleError(MolehuntError):
    """A rule file cannot be read or a rule is invalid; `source` names file:line."""


class DetectorError(MolehuntError):
    """A detector was misused (unknown name, scored before fit, bad input shape)."""
