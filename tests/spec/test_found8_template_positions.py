"""Where a template's problem is, in a prompt written folded, quoted or plain over several
lines, through the real CLI.

Found by the validate/plan pass: a template's line was mapped to the file's line as a literal
block (`|`) maps them, one for one. Only there does that hold: a folded block (`>`) and a
multi-line plain or quoted string join their lines with spaces, and `\\n` in a double-quoted
string breaks a line the file does not. The diagnostics named the prompt's first lines, and the
escaped one a line past the string, on the next step's `agent:`. Now such a string's problem
is found on the file's lines that hold the string.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: positions
agents:
  w: {model: mock/echo}
steps:
  folded:
    agent: w
    prompt: >
      First line of a long folded prompt
      that goes on and on
      and reads {{ steps.nope.output }} here.
  quoted:
    agent: w
    prompt: "one
      two {{ steps.nada.output }}"
  escaped:
    agent: w
    prompt: "x\\ny\\nz {{ steps.zip.output }}"
  plain:
    agent: w
    prompt: plain text
      continues {{ steps.zap.output }}
  literal:
    agent: w
    prompt: |
      one
      two {{ steps.zop.output }}
"""


def test_each_problem_is_where_the_file_holds_it(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    found = {
        d["message"].split("`")[1]: (d["line"], d["col"])
        for d in json.loads(done.stdout)["diagnostics"]
    }
    lines = WORKFLOW.splitlines()
    expected = {}
    for name in ("nope", "nada", "zip", "zap", "zop"):
        line = next(i for i, text in enumerate(lines, 1) if f"steps.{name}" in text)
        expected[f"steps.{name}"] = (line, lines[line - 1].index(f"steps.{name}") + 1)
    assert found == expected
