"""Shared fixtures: paths to the real CERT samples and a fresh workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from molehunt.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cert"
R42_SAMPLE = SHARED / "r4.2-sample"
R52_SAMPLE = SHARED / "r5.2-sample"
ANSWERS = SHARED / "answers"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A new, empty workspace."""
    with Store.open(tmp_path / "workspace") as opened:
        yield opened


def needs_samples() -> pytest.MarkDecorator:
    """Skip when the real CERT samples are not beside the repository."""
    return pytest.mark.skipif(not R42_SAMPLE.is_dir(), reason=f"{R42_SAMPLE} not found")
