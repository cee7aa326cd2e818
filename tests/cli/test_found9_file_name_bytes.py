"""A workflow file whose name is no UTF-8 text (a file added by a pull request, named in
another encoding), through the real CLI.

Found by the cli pass: `validate` took it, and `run` ended in a UnicodeEncodeError traceback
(exit 1, "the run failed") when its first event recorded the file, `plan --format json` in a
PydanticSerializationError. Now each command that reads FILE refuses it naming the file, exit
2, before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: named
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""
NAME = "w\udcff.yaml"  # the byte 0xff, as Python's surrogateescape reads it


@pytest.mark.parametrize(
    "command",
    [("run", "-q"), ("plan", "--format", "json"), ("graph",), ("run", "--dry-run")],
)
def test_a_file_name_that_is_no_utf8_is_refused(
    run_cli: RunCli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / NAME).write_text(WORKFLOW)
    done = run_cli(*command, NAME)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        "error: FILE w\\xff.yaml: the name is no UTF-8 text, which the run's report and "
        "events could not record; rename the file\n"
    )
    assert not (tmp_path / ".agnoctl").exists()
