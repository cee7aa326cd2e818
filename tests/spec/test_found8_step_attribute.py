"""A misspelt attribute of a step's result (`steps.a.outptu`), through the real CLI.

Found by the validate/plan pass: it was reported as `steps.a.outptu` naming no step, with
the hint "`a` has no step `outptu`": a plain step has no steps, and the fix (`output`) was
never offered. Now a step that is no group says which attributes it has, with a did-you-mean;
a group offers its children and the attributes alike.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: attributes
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
  g:
    steps:
      draft: {agent: w, prompt: hi}
  b: {agent: w, needs: [a, g], prompt: "{{ steps.a.outptu }} {{ steps.g.statsu }}"}
"""


def test_a_misspelt_attribute_is_named_as_one(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    found = {d["message"]: d["hint"] for d in json.loads(done.stdout)["diagnostics"]}
    assert found == {
        "`steps.a.outptu`: step `a` has no `outptu`": "did you mean `steps.a.output`?",
        "`steps.g.statsu` names no step": "did you mean `steps.g.status`?",
    }
