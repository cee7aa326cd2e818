"""The `if` mark of `agnoctl plan`, through the real CLI.

Found by the validate/plan pass: a step whose `if` reads only inputs (`not inputs.flag`),
evaluated true for the inputs given, was marked `if` in the steps table, which the docs define
as "a condition decided at run time": the plan said a step might not run when it had worked
out that it would. Only a condition that reads step outputs (or anything else known only at
run time) is marked now; a false one is `skipped: if is false`, as before.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: marks
inputs:
  flag: {type: boolean, default: false}
agents:
  w: {model: mock/echo, max_tokens: 10}
steps:
  known_false: {agent: w, prompt: x, if: inputs.flag}
  known_true: {agent: w, prompt: y, if: not inputs.flag}
  later: {agent: w, prompt: z, needs: [known_true], if: "steps.known_true.output == 'y'"}
"""


def test_only_a_condition_decided_at_run_time_is_marked_if(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("plan", "wf.yaml")
    assert done.returncode == 0, done.stderr
    table = done.stdout.split("\nSteps\n")[1].split("\n\n")[0]
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "[skipped: if is false]" in rows["known_false"]
    assert "[" not in rows["known_true"]
    assert "[if]" in rows["later"]
