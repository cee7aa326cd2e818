"""`priority` on a group or a `uses` step, through the real CLI.

Found by the spec-run pass: `priority` orders the agent and command tasks that wait for a
concurrency slot, and a group (or a sub-workflow invocation) takes no slot: its children keep
their own priority (0 unless set). So `priority: 10` on a group was silently ignored, and under
`limits.max_concurrency` a step of priority 5 ran before the group's children. A setting that
would be silently ignored is an error: now E206, saying to set it on the children or in
`defaults`, as `retry`, `cache` and `tags` on a group already were.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

STEPS = {
    "group": "steps:\n      c: {run: [echo, c]}",
    "fan-out group": 'for_each: "[1]"\n    steps:\n      c: {run: [echo, c]}',
    "uses": "uses: ./sub.yaml",
}

SUB = """\
version: 1
name: sub
steps:
  s: {run: [echo, s]}
"""


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_priority_on_a_step_that_takes_no_slot_is_an_error(
    run_cli: RunCli, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "sub.yaml").write_text(SUB)
    flow = f"version: 1\nname: p\nsteps:\n  g:\n    priority: 10\n    {STEPS[kind]}\n"
    (tmp_path / "wf.yaml").write_text(flow)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2, done.stdout
    [found] = [d for d in json.loads(done.stdout)["diagnostics"] if d["severity"] == "error"]
    assert found["code"] == "E206"
    assert "`priority`" in found["message"]
    assert "takes no concurrency slot" in found["message"]


def test_priority_in_defaults_still_reaches_a_group_s_children(
    run_cli: RunCli, tmp_path: Path
) -> None:
    flow = (
        "version: 1\nname: p\ndefaults: {priority: 3}\n"
        "steps:\n  g:\n    steps:\n      c: {run: [echo, c], priority: 1}\n"
    )
    (tmp_path / "wf.yaml").write_text(flow)
    assert run_cli("validate", "wf.yaml").returncode == 0
