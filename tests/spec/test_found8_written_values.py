"""The fix a type error offers quotes the value as the file writes it, through the real CLI.

Found by the validate/plan pass: `description: yes`, `model: 1.10` and `tags: [on, 0x1F]` were
refused (YAML reads them as a boolean and numbers), with the hint to write `"true"`, `"1.1"`,
`"true"` and `"31"`: quoted as the hint said, the step's text changed. The hint now quotes
what was written, and the message shows it beside what YAML read.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: written
description: yes
agents:
  w: {model: 1.10}
steps:
  a: {agent: w, prompt: hi, tags: [on, 0x1F, 7]}
"""


def test_the_hint_quotes_the_value_as_written(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    hints = [d["hint"] for d in json.loads(done.stdout)["diagnostics"]]
    assert hints == [
        'quote the value to keep it a string: "yes"',
        'quote the value to keep it a string: "1.10"',
        'quote the value to keep it a string: "on"',
        'quote the value to keep it a string: "0x1F"',
        'quote the value to keep it a string: "7"',
    ]


def test_a_choice_read_as_a_boolean_is_shown_as_written(run_cli: RunCli, tmp_path: Path) -> None:
    """`on_gate_failure: no` was "must be 'fail', 'warn' or 'retry', not False", in Python's
    spelling of a value the file never wrote, with no hint at YAML's reading."""
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: v\nagents: {w: {model: mock/echo}}\nsteps:\n"
        "  a: {agent: w, prompt: x, on_gate_failure: no, gates: [{type: length, min: 1}]}\n"
    )
    done = run_cli("validate", "--format", "json", "wf.yaml")
    [found] = json.loads(done.stdout)["diagnostics"]
    assert found["message"].endswith("must be 'fail', 'warn' or 'retry', not no")
    assert found["hint"] == "YAML reads `no` as a boolean: write one of 'fail', 'warn' or 'retry'"
