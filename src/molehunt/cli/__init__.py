"""The `molehunt` command line: the only place that prints or exits.

Commands live in one module per area; importing them registers them on `main`.
"""

from __future__ import annotations

from molehunt.cli import (
    demo_command,
    detect_commands,
    ingest_commands,
    ledger_commands,
    serve_commands,
    status_command,
    trace_commands,
    watch_command,
)
from molehunt.cli.base import main

__all__ = ["main"]

_REGISTERED: tuple[object, ...] = (demo_command, detect_commands, ingest_commands, status_command)
_REGISTERED += (ledger_commands,)
_REGISTERED += (trace_commands,)
_REGISTERED += (serve_commands,)
_REGISTERED += (watch_command,)
