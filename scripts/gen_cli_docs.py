"""Write docs/cli.md from the command line's own --help texts (tests check it is current)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from molehunt.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def render() -> str:
    """The reference page: every command's --help, in command order."""
    parts = [
        "# Command-line reference\n",
        "Generated from `--help` by `python scripts/gen_cli_docs.py`; do not edit by hand.\n",
    ]
    for path, command in _walk(main, ["molehunt"]):
        with click.Context(
            command,
            info_name=" ".join(path),
            terminal_width=100,
            help_option_names=main.context_settings["help_option_names"],
        ) as context:
            text = command.get_help(context)
        parts.append(f"## `{' '.join(path)}`\n\n```\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
