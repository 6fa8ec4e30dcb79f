"""Decoy (honeytoken) documents: register file names that nobody has a reason to touch.

Registered names go to the `decoys` table beside the CERT `decoy_file.csv` records (source 0,
"registered by hand"); detection matches every file event's file name against them (the
`decoy_touches` feature) and the built-in rule `decoy-file-touched` fires on any touch, from the
next detected day on.
"""

from __future__ import annotations

from pathlib import PureWindowsPath
from typing import Any

from molehunt.errors import TraceError
from molehunt.store import Store

REGISTERED_BY_HAND = 0


def add_decoys(store: Store, names: list[str], host: str | None = None) -> int:
    """Register decoy documents by file name (a path's last part is used).

    Args:
        store: The workspace.
        names: File names or paths (Windows or POSIX separators).
        host: The machine the decoy sits on, if it matters.

    Returns:
        How many new names were registered (already known names are skipped).

    Raises:
        TraceError: A name is empty.
    """
    known = {str(row[0]).lower() for row in store.query("SELECT file_name FROM decoys")}
    added = []
    for name in names:
        base = PureWindowsPath(name.strip()).name
        if not base:
            raise TraceError(f"decoy name {name!r} has no file name")
        if base.lower() not in known:
            known.add(base.lower())
            added.append(base)
    with store.transaction() as connection:
        line = int(
            connection.execute(
                "SELECT coalesce(max(source_line), 0) FROM decoys WHERE source_id = ?",
                [REGISTERED_BY_HAND],
            )[0][0]
        )
        for offset, base in enumerate(added, start=1):
            connection.execute(
                "INSERT INTO decoys VALUES (?, ?, ?, ?)",
                [base, host, REGISTERED_BY_HAND, line + offset],
            )
    return len(added)


def list_decoys(store: Store) -> list[dict[str, Any]]:
    """Every decoy, registered by hand or from a CERT `decoy_file.csv`.

    Args:
        store: The workspace.

    Returns:
        file_name, host and origin (`registered` or `source <id>`) per decoy.
    """
    rows = store.query_dicts(
        "SELECT file_name, host, source_id FROM decoys ORDER BY source_id, source_line"
    )
    return [
        {
            "file_name": row["file_name"],
            "host": row["host"],
            "origin": "registered"
            if row["source_id"] == REGISTERED_BY_HAND
            else f"source {row['source_id']}",
        }
        for row in rows
    ]
