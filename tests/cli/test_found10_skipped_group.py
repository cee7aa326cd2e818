"""The children of a group that never ran, as templates read them, through the real CLI.

Found by the spec-run pass: a group skipped by its `if` (its children `skipped: condition` in
the report) left nothing for `steps.<group>.<child>` to read, so a step joining the branches
(SPEC "Dependencies and status": a need skipped by its own `if` counts as satisfied, its output
null) failed, and so did an output reading the child, with "undefined value:
'agnoctl.engine.context.StepEntry object' has no attribute 'draft'": the run failed because an
optional branch was not taken (a group failed under `continue_on_error` before its children ran
likewise). Now each child of a group that never ran reads as its record
says (`skipped`, output null), nested groups' children too.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: branches
inputs:
  deep: {type: boolean, default: false}
steps:
  quick: {run: [echo, quick]}
  review:
    if: inputs.deep
    steps:
      draft: {run: [echo, draft]}
      inner:
        steps:
          x: {run: [echo, x]}
  broken:
    needs: [quick]
    if: steps.quick.output.nothing_such
    continue_on_error: true
    steps:
      c: {run: [echo, c]}
  join:
    needs: [quick, review, broken]
    run:
      - echo
      - "{{ steps.review.draft.output or steps.quick.output }}"
      - "{{ steps.review.draft.status }} {{ steps.review.inner.x.status }}"
      - "{{ steps.review.inner.x.output }} {{ steps.broken.c.status }}"
outputs:
  draft: "{{ steps.review.draft.output }}"
"""


def test_the_children_of_a_group_that_never_ran_read_as_not_run(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "wf.yaml", "-q", "--report-dir", "r")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "passed"
    join = report["steps"]["join"]
    assert join["output"] == "quick skipped skipped None skipped"
    assert report["outputs"] == {"draft": None}
    assert report["output_errors"] == {}
    assert report["steps"]["broken"]["status"] == "failed"
