"""The command line: a thin typer layer over the library.

Start-up cost matters (`agnoctl --help` must stay near the cost of importing typer), so every
command imports what it needs inside its own body. This module is the only place that turns
errors into exit codes and terminal output.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    name="agnoctl",
    help="Declarative, CI-native runner for multi-agent LLM workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error to stderr and exit."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from agnoctl import __version__

        sys.stdout.write(f"agnoctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Declarative, CI-native runner for multi-agent LLM workflows."""


class DiagnosticFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


# ---------------------------------------------------------------------------- commands
# Each command lives in its own section below; keep bodies short and import lazily.


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "Path", "app", "fail", "main"]
