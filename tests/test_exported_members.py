"""Public modules declare a complete, sorted __all__."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "molehunt",
    "molehunt.ingest",
    "molehunt.ledger",
    "molehunt.store",
    "molehunt.simulate",
    "molehunt.spark",
    "molehunt.trace",
    "molehunt.watch",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=str.lower) or exported == sorted(exported)
    for member in exported:
        assert hasattr(module, member), f"{name}.{member}"
