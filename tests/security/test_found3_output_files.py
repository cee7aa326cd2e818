"""Workflow outputs whose names make one file of outputs/, through the real CLI.

Found by trying it: `outputs:` named `a/b` and `a_b` (or `A_B`) passed validation, and the run
wrote both to outputs/a_b.txt, the second over the first: exit 0, one output lost without a
word (and on a file system that ignores case, `Notes` and `notes` alike). An output named with
300 characters passed validation too, and the run did all its work, then failed writing
outputs/ ("File name too long", exit 1), as did every `--resume` it advised. Now these are E209
and E210, located, at validate and before a run starts.
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


def test_an_output_name_too_long_for_a_file_is_refused(tmp_path: Path) -> None:
    # With `.json` and what its temporary file adds (`.<name>.<8 random>.tmp`), 256
    # characters: one more than a file name may hold.
    long = "o" * 237
    workflow = f"version: 1\nname: outs\nsteps:\n  s: {{run: [echo, hi]}}\noutputs:\n  {long}: x\n"
    (tmp_path / "wf.yaml").write_text(workflow, encoding="utf-8")
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--report-dir", "out")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"wf.yaml:6:3: error E210 output `{long[:40]}...` is too long a name" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran
    # One less is written.
    (tmp_path / "wf.yaml").write_text(workflow.replace(long, long[:-1]), encoding="utf-8")
    assert agnoctl(tmp_path, "run", "wf.yaml", "-q", "--report-dir", "out").returncode == 0
    assert (tmp_path / "out" / "outputs" / f"{long[:-1]}.txt").read_text() == "x"
