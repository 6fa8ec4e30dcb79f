"""Helpers for context tests: write hand-made events and context files into a workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from molehunt.ingest import ingest_events
from molehunt.store import Store


def add_events(store: Store, folder: Path, events: list[dict[str, Any]], name: str = "e") -> None:
    """Ingest `events` (JSON Lines event objects) into `store`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    report = ingest_events(store, [path])
    assert report.rejected == 0


def write_files(folder: Path, files: dict[str, str]) -> Path:
    """Write context files (name -> text) into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def file_event(
    user: str, time: str, path: str, removable: str = "none", content: str | None = None
) -> dict[str, Any]:
    """A file-copy event."""
    event = {"time": time, "user": user, "channel": "file", "action": "copy", "object": path}
    event["removable"] = removable
    if content is not None:
        event["content"] = content
    return event


def logon(user: str, time: str) -> dict[str, Any]:
    """A logon event."""
    return {"time": time, "user": user, "channel": "logon", "action": "logon"}
