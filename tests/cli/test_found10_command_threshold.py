"""A threshold gate on a command step without an output_schema, through the real CLI.

Found by the spec-run pass: a command step's output is its stdout as text unless an
`output_schema` parses it, so a threshold gate on one without a schema cannot pass, even when
the program prints JSON (`{"score": 0.9}` failed with "the output is text, not structured
data"). An agent step in that state got warning W502 from `validate`; a command step got
nothing and failed at run time. Now it gets W502 too.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: command-threshold
steps:
  text:
    run: [echo, '{"score": 0.9}']
    gates: [{type: threshold, field: score, min: 0.5}]
  parsed:
    run: [echo, '{"score": 0.9}']
    output_schema: {type: object, properties: {score: {type: number}}}
    gates: [{type: threshold, field: score, min: 0.5}]
"""


def test_a_threshold_gate_on_a_command_without_a_schema_is_warned_of(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 0, done.stdout
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["severity"], found["line"]) == ("W502", "warning", 6)
    assert "no output_schema applies to this step" in found["message"]
