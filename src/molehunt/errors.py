"""The molehunt error tree: every failure a user can cause is one of these.

    MolehuntError
     +-- ConfigError          bad setting, option or argument value
     +-- WorkspaceError       workspace missing, unreadable or of an unknown schema version
     +-- IngestError          a source cannot be ingested at all (bad rows go to `rejects` instead)
     |    +-- LayoutError     a file's header matches no known layout
     +-- SimulationError      the simulator was asked for something it cannot build
     +-- LedgerError          the evidence ledger cannot be read, written or proved
     +-- TraceError           a document cannot be marked, or a leak cannot be traced

Library code raises these and never prints or exits; `molehunt.cli` turns them into one line on
stderr and exit code 1. `__str__` appends the location (`path:line`) when one is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceLocation:
    """Where in an input a problem was found.

    Args:
        path: The file.
        line: 1-based line number, when known.
        column: Field or column name, when known.
    """

    path: Path | str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        text = str(self.path)
        if self.line is not None:
            text += f":{self.line}"
        if self.column is not None:
            text += f" (field {self.column!r})"
        return text


class MolehuntError(Exception):
    """Base of every error molehunt raises on purpose.

    Args:
        message: What went wrong and what was expected, in one line.
        source: Where, if the problem is tied to an input.
    """

    def __init__(self, message: str, *, source: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        if self.source is None:
            return self.message
        return f"{self.source}: {self.message}"


class ConfigError(MolehuntError):
    """A setting, option or argument has a value molehunt cannot use."""


class WorkspaceError(MolehuntError):
    """The workspace cannot be opened: missing, locked, corrupt or of an unknown schema version."""


class IngestError(MolehuntError):
    """A source as a whole cannot be ingested (missing, empty, unreadable)."""


class LayoutError(IngestError):
    """A file's header matches no layout molehunt knows."""


class SimulationError(MolehuntError):
    """The simulator was asked for something it cannot build."""


class LedgerError(MolehuntError):
    """The evidence ledger cannot be read, written or proved (not: a failed verification)."""


class TraceError(MolehuntError):
    """A document cannot be marked, or a leaked text cannot be traced."""
