"""The `molehunt` command line: shared options, the error boundary, the root group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from molehunt import __version__
from molehunt.errors import MolehuntError
from molehunt.store import Store
from molehunt.store.database import DEFAULT_MEMORY_LIMIT

DEFAULT_WORKSPACE = ".molehunt"


class Context:
    """Options shared by every command, resolved once here and passed down."""

    def __init__(self, workspace: Path, quiet: bool, debug: bool, memory_limit: str) -> None:
        self.workspace = workspace
        self.memory_limit = memory_limit
        self.quiet = quiet
        self.debug = debug
        self.console = Console(highlight=False)
        if not self.console.is_terminal:  # files and pipes get whole lines, not wrapped ones
            self.console = Console(highlight=False, width=200)

    @property
    def interactive(self) -> bool:
        """Show progress bars only on a terminal and when not --quiet."""
        return not self.quiet and self.console.is_terminal

    def open_store(self, *, create: bool = True) -> Store:
        """Open the workspace (create it unless `create` is false)."""
        return Store.open(self.workspace, create=create, memory_limit=self.memory_limit)


pass_context = click.make_pass_decorator(Context)


class MolehuntGroup(click.Group):
    """A group that turns MolehuntError into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MolehuntError as error:
            if ctx.find_object(Context) is not None and ctx.find_object(Context).debug:  # type: ignore[union-attr]
                raise
            raise click.ClickException(str(error)) from None


@click.group(cls=MolehuntGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="MOLEHUNT_WORKSPACE",
    default=DEFAULT_WORKSPACE,
    show_default=True,
    help="Workspace folder (env MOLEHUNT_WORKSPACE).",
)
@click.option(
    "--memory-limit",
    envvar="MOLEHUNT_MEMORY_LIMIT",
    default=DEFAULT_MEMORY_LIMIT,
    show_default=True,
    help=(
        "Memory budget of the process (env MOLEHUNT_MEMORY_LIMIT); the embedded database "
        "gets 80% and spills beyond it."
    ),
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="molehunt")
@click.pass_context
def main(ctx: click.Context, workspace: Path, memory_limit: str, quiet: bool, debug: bool) -> None:
    """molehunt: catch the insider while the copying happens."""
    ctx.obj = Context(workspace, quiet, debug, memory_limit)
