"""Where a step's rule about its own fields points, through the real CLI.

Found by the validate/plan pass: `max_concurrency` on a step without `for_each`, `loop` on an
agent step, `prompt` on a command step and the like were reported at the step's id, a
`file:line:col` that names the step, not the field to remove; in a step of fifteen lines the
annotation sat on its first. Such an error now points at the field it names.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: rules
agents:
  w: {model: mock/echo}
steps:
  a: {run: [echo], max_concurrency: 3}
  b:
    agent: w
    prompt: hi
    loop: {max_iterations: 2, until: "true"}
  c:
    run: [echo]
    prompt: hi
  d: {agent: w}
"""


def test_a_rule_points_at_the_field_it_names(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    found = [(d["line"], d["col"]) for d in json.loads(done.stdout)["diagnostics"]]
    lines = WORKFLOW.splitlines()
    assert found == [
        (6, lines[5].index("max_concurrency") + 1),
        (10, 5),  # loop
        (13, 5),  # prompt
        (14, 3),  # `d` needs a prompt: no field to point at, the step
    ]
