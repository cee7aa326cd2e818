"""An empty value for an option or argument (`--report-dir "$DIR"` with DIR unset), through
the real CLI.

Found by the cli pass: an empty path is Python's `.`, so `run --report-dir ''` in an empty
folder wrote the run into the working directory itself, `--runs-dir ''` listed `.`, and the
errors it met elsewhere named `.` ("the report directory . is not empty", "--log-file . cannot
be written: Is a directory"), which the user never typed. No option or argument takes an
empty value now: each is refused naming it (exit 2), before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: empty
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("run", "wf.yaml", "-q", "--report-dir", ""), "--report-dir"),
        (("run", "wf.yaml", "-q", "--report-dir="), "--report-dir"),
        (("run", "wf.yaml", "-q", "--log-file", ""), "--log-file"),
        (("run", "wf.yaml", "-q", "--inputs-file", ""), "--inputs-file"),
        (("run", "wf.yaml", "-q", "-i", ""), "--input"),
        (("run", ""), "FILE"),
        (("runs", "list", "--runs-dir", ""), "--runs-dir"),
        (("validate", "wf.yaml", ""), "PATH"),
        (("report", "show", ""), "RUN"),
    ],
)
def test_an_empty_value_is_refused_naming_it(
    run_cli: RunCli, tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"error: {named} is empty: give it a value (an unset variable?)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wf.yaml"]
