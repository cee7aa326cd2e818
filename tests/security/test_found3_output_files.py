"""Workflow outputs whose names make one file of outputs/, through the real CLI.

Found by trying it: `outputs:` named `a/b` and `a_b` (or `A_B`) passed validation, and the run
wrote both to outputs/a_b.txt, the second over the first: exit 0, one output lost without a
word (and on a file system that ignores case, `Notes` and `notes` alike). Now it is E209,
located, at validate and before a run starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.cli import agnoctl

WORKFLOW = """\
version: 1
name: outs
steps:
  s: {{run: [echo, hi]}}
outputs:
  "a/b": first
  {second}: second
"""


@pytest.mark.parametrize("second", ["a_b", "A_B"])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_two_outputs_of_one_file_are_refused(tmp_path: Path, command: str, second: str) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(second=second), encoding="utf-8")
    result = agnoctl(tmp_path, command, "wf.yaml", *(["--report-dir", "out"] * (command == "run")))
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"wf.yaml:7:3: error E209 outputs `a/b` and `{second}` would be written to one file, "
        f"outputs/{second}.*"
    ) in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_outputs_of_files_of_their_own_are_written_each(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(second="a_c"), encoding="utf-8")
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--report-dir", "out")
    assert result.returncode == 0, result.stderr
    written = {path.name: path.read_text() for path in (tmp_path / "out" / "outputs").iterdir()}
    assert written == {"a_b.txt": "first", "a_c.txt": "second"}
