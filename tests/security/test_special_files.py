"""Files that are not files: a FIFO (or a device) named as a workflow, an inputs file or a
fixtures file is refused at once, never read.

Opening a FIFO for reading blocks until a writer comes, so each command would hang forever;
the loader opens every file it is handed without blocking and refuses what is not a regular
file (exit 2, one line naming the file). Each case runs the real CLI with a timeout well under
the test's: a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RunCli

FLOW = """\
version: 1
name: files
agents:
  a: {model: mock/echo}
steps:
  s: {agent: a, prompt: hello}
"""

# (the command line, with FIFO standing for the named pipe)
CASES = {
    "validate": ("validate", "FIFO"),
    "plan": ("plan", "FIFO"),
    "run": ("run", "FIFO", "--mock"),
    "inputs-file": ("run", "flow.yaml", "--mock", "--inputs-file", "FIFO"),
    "plan-inputs-file": ("plan", "flow.yaml", "--inputs-file", "FIFO"),
    "mock-fixtures": ("run", "flow.yaml", "--mock", "--mock-fixtures", "FIFO"),
}


@pytest.mark.parametrize("argv", CASES.values(), ids=CASES.keys())
def test_a_named_pipe_is_refused_not_waited_on(
    tmp_path: Path, run_cli: RunCli, argv: tuple[str, ...]
) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.yaml")
    result = run_cli(*(arg.replace("FIFO", "pipe.yaml") for arg in argv), timeout=10)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    said = result.stdout + result.stderr
    assert "pipe.yaml" in said and "not a regular file" in said, said
    assert not (tmp_path / ".agnoctl" / "runs").exists()


def test_a_device_is_refused(run_cli: RunCli) -> None:
    result = run_cli("validate", "/dev/zero", timeout=10)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a regular file" in result.stdout + result.stderr


def test_a_directory_is_still_named_as_one(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    (tmp_path / "inputs").mkdir()
    result = run_cli("run", "flow.yaml", "--mock", "--inputs-file", "inputs", timeout=10)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Is a directory" in result.stdout + result.stderr
