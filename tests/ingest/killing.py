"""A commit that dies: how the resume tests kill an ingest between two committed chunks."""

from __future__ import annotations

import pytest

import molehunt.ingest.source as source

_REAL_COMMIT = source._commit_chunk


def die_on_commit(monkeypatch: pytest.MonkeyPatch, nth: int = 3) -> None:
    """Make the `nth` chunk commit of the next ingest raise KeyboardInterrupt (a kill: the
    chunks before it are committed, nothing after it); `revive` restores it."""
    calls = [0]

    def dies(*args: object) -> tuple[int, int, int]:
        calls[0] += 1
        if calls[0] == nth:
            raise KeyboardInterrupt
        return _REAL_COMMIT(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(source, "_commit_chunk", dies)


def revive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo `die_on_commit`: commits go through again."""
    monkeypatch.setattr(source, "_commit_chunk", _REAL_COMMIT)
