"""`-i topic=a -i topic=b` ran with `b` and dropped `a` without a word (found by the user
pass): one of two values given for one input is a mistake in the command line, so it is a
usage error naming the input. An `-i` over the same input from `--inputs-file` still wins,
as documented."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import forkcli

FLOW = """\
version: 1
name: t
inputs:
  topic: {type: string}
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: "{{ inputs.topic }}"}
"""


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "flow.yaml").write_text(FLOW, encoding="utf-8")
    return forkcli.run(["run", "flow.yaml", "--mock", "-q", *args], cwd=folder)


def test_an_input_given_twice_with_i_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path, "-i", "topic=a", "-i", "topic=b")
    assert done.returncode == 2
    assert "input 'topic' is given twice with -i: give it once" in done.stderr
    assert not (tmp_path / ".agnoctl" / "runs").exists()


def test_an_i_value_still_wins_over_the_inputs_file(tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_text("topic: from-file\n", encoding="utf-8")
    done = run(tmp_path, "--inputs-file", "in.yaml", "-i", "topic=from-i", "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    assert "from-i" in (tmp_path / "r" / "report.json").read_text()
