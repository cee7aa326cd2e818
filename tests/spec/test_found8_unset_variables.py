"""Every unset environment variable a workflow reads, in one round, through the real CLI.

Found by the validate/plan pass: a CI job missing three variables (`${MODEL_HOST}`,
`${REGION}`, ...) was told of the first only; set, the next run named the second, and so on,
one failed job per variable. The file parsed; only the values were missing. Now every unset
variable is reported at once, each where the file reads it (nothing else is checked: the
values are not known).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: unset
env:
  A: ${AGNOCTL_T_MISSING_ONE}
  B: "x ${AGNOCTL_T_MISSING_TWO} y ${AGNOCTL_T_MISSING_ONE}"
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: "hi ${AGNOCTL_T_MISSING_THREE:-there} ${AGNOCTL_T_MISSING_FOUR}"}
"""


def test_every_unset_variable_is_reported_at_once(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    found = [
        (d["code"], d["line"], d["col"], d["message"].split()[2])
        for d in json.loads(done.stdout)["diagnostics"]
    ]
    lines = WORKFLOW.splitlines()
    b_line = lines[4]
    assert found == [
        ("E117", 4, lines[3].index("$") + 1, "AGNOCTL_T_MISSING_ONE"),
        ("E117", 5, b_line.index("$") + 1, "AGNOCTL_T_MISSING_TWO"),
        ("E117", 5, b_line.rindex("$") + 1, "AGNOCTL_T_MISSING_ONE"),
        ("E117", 9, lines[8].rindex("$") + 1, "AGNOCTL_T_MISSING_FOUR"),
    ]


def test_a_run_names_every_unset_variable(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "wf.yaml")
    assert done.returncode == 2
    for name in ("ONE", "TWO", "FOUR"):
        assert f"AGNOCTL_T_MISSING_{name} is not set" in done.stderr
