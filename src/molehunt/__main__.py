"""`python -m molehunt` runs the command line."""

from __future__ import annotations

from molehunt.cli import main

main(prog_name="molehunt")
