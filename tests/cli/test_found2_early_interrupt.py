"""Ctrl-C while ``agnoctl`` is still importing its command line, through the real console
script and ``python -m agnoctl``.

Found by the first pass: a SIGINT in the first tens of milliseconds (typer and agnoctl.cli
being imported) printed the interpreter's KeyboardInterrupt traceback. Now the process ends
by SIGINT, as before (130 in a shell), and prints nothing.

The test holds the process inside the import it names: a ``sitecustomize`` on PYTHONPATH
adds an audit hook that, when that module's import starts, says so on a pipe and waits for
the signal. The signal is sent once the pipe has spoken, never after a guessed delay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

AGNOCTL = Path(sys.executable).parent / "agnoctl"

HOLD = """\
import os, signal, sys

def _hold(event, args):
    if event == "import" and args[0] == os.environ["HOLD_AT"]:
        os.write(int(os.environ["HOLD_FD"]), b"held")
        while True:
            signal.pause()

sys.addaudithook(_hold)
"""


def interrupted_while_importing(
    module: str, command: list[str], tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "sitecustomize.py").write_text(HOLD, encoding="utf-8")
    ready, held = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "HOLD_FD": str(held), "HOLD_AT": module}
    with subprocess.Popen(
        [*command, "--help"],
        env=env,
        pass_fds=[held],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        os.close(held)
        with os.fdopen(ready, "rb") as said:
            assert said.read(4) == b"held"
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # the signal was not taken: leave no process behind
            process.kill()
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("module", ["typer", "agnoctl.cli"])
@pytest.mark.parametrize(
    "command", [[str(AGNOCTL)], [sys.executable, "-m", "agnoctl"]], ids=["script", "module"]
)
def test_ctrl_c_while_importing_ends_by_sigint_without_a_traceback(
    module: str, command: list[str], tmp_path: Path
) -> None:
    result = interrupted_while_importing(module, command, tmp_path)
    assert result.returncode == -signal.SIGINT, result.stderr
    assert b"Traceback" not in result.stderr
    assert b"KeyboardInterrupt" not in result.stderr
    assert result.stdout == b""
