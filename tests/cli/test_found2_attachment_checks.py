"""What `agnoctl validate` says of odd fixed attachment paths, through the real CLI.

Found by trying it: an attachment path holding a NUL character (``"x\\u0000.png"`` in the
YAML) made ``validate``, ``plan`` and ``run`` end in a ValueError traceback (``embedded null
byte``, from resolving the path); now it is E461, as at run time. And a fixed path naming a
folder or a pipe (no file) was answered "did you mean" the same name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: attach
agents:
  a: {{model: mock/echo}}
steps:
  s: {{agent: a, prompt: hi, attachments: ["{entry}"]}}
"""


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_a_nul_in_a_path_is_an_error_not_a_traceback(
    run_cli: RunCli, tmp_path: Path, command: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(entry="x\\u0000.png"), encoding="utf-8")
    result = run_cli(command, "wf.yaml")
    assert result.returncode == 2, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "error E461 attachment 'x\\x00.png': a path may not contain NUL characters" in output


def test_a_folder_or_pipe_of_that_name_is_not_suggested_as_itself(
    run_cli: RunCli, tmp_path: Path
) -> None:
    os.mkfifo(tmp_path / "shot.png")
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(entry="shot.png"), encoding="utf-8")
    result = run_cli("validate", "wf.yaml")
    assert "error E461 attachment 'shot.png' is not a file" in result.stdout
    assert "did you mean 'shot.png'" not in result.stdout
