"""molehunt: open, offline insider-threat detection for organisations that hold secrets."""

from __future__ import annotations

from molehunt.errors import MolehuntError

__version__ = "0.1.0"

__all__ = ["MolehuntError", "__version__"]
