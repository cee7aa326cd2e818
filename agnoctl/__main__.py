"""The `agnoctl` executable (pyproject's `[project.scripts]`) and `python -m agnoctl`.

This module imports nothing of agnoctl's until it runs, so that a Ctrl-C while the command
line is still being imported (typer and `agnoctl.cli` take tens of milliseconds) ends the
process as that signal ends any program, not with the interpreter's traceback.
"""

import os
import signal
from typing import NoReturn


def console() -> NoReturn:
    """Import the command line and run it: `agnoctl.cli.console`."""
    try:
        from agnoctl.cli import console as run_command_line
    except KeyboardInterrupt:
        _end_by_sigint()
    run_command_line()


def _end_by_sigint() -> NoReturn:
    """End as a process killed by SIGINT (130 in a shell), which is what tells a shell script
    or CI step that the user stopped it; nothing was started yet, so there is nothing to say."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    # The signal is delivered before kill returns unless this thread blocks SIGINT; then the
    # shell's own number for it.
    os._exit(128 + signal.SIGINT)


if __name__ == "__main__":
    console()
