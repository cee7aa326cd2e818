"""A standard stream the caller closed (`agnoctl plan wf.yaml >&-`, `2>&-`, `<&-`), through a
fresh `python -m agnoctl` (the fork helper gives every child all three).

Found by the cli pass: Python starts with `sys.stdout` (or `sys.stderr`, `sys.stdin`) None
then, and every command ended in an AttributeError traceback, exit 1 ("the run failed"):
`schema`, `plan`, `validate` of a valid file, `run` that passed, `run` with stdin closed. A
closed output is now one whose reader went away (its output dropped, the command keeping its
own exit code), a closed input an empty one; each descriptor gets the null device, so that no
file the command opens takes its number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = """\
version: 1
name: closed
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""


def _agnoctl(folder: Path, closed: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    # The shell closes the stream before Python starts: what `>&-` in a CI script does.
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {closed}', "sh", sys.executable, "-m", "agnoctl", *args],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("closed", "args", "code"),
    [
        (">&-", ("run", "wf.yaml", "--report-dir", "out"), 0),
        (">&-", ("validate", "bad.yaml"), 2),
        ("2>&-", ("run", "bad.yaml", "-q"), 2),
        ("<&-", ("run", "wf.yaml", "--report-dir", "out"), 0),
    ],
)
def test_a_closed_stream_leaves_the_command_its_exit_code(
    tmp_path: Path, closed: str, args: tuple[str, ...], code: int
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    (tmp_path / "bad.yaml").write_text("version: 1\nname: bad\n")
    done = _agnoctl(tmp_path, closed, *args)
    assert done.returncode == code, done.stderr
    assert b"Traceback" not in done.stderr
    if args[0] == "run" and code == 0:
        assert json.loads((tmp_path / "out" / "report.json").read_bytes())["status"] == "passed"
