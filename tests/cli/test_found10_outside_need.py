"""A group's child that names a step outside the group in `needs`, through the real CLI.

Found by the spec-run pass: E300's hint said "add it to the group's own needs" also when the
group needed that step already, so the author was told to do what the file did; and a child of a
nested group got no hint about the outer step at all. Now the hint says the group needs it
already (its children start after it and may read it: remove the need here), or names the
group whose needs it belongs in.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: outside
steps:
  out: {run: [echo, o]}
  g:
    needs: [out]
    steps:
      c: {run: [echo, "{{ steps.out.output }}"]}
      d: {needs: [out], run: [echo, x]}
  other:
    steps:
      inner:
        steps:
          e: {needs: [out], run: [echo, x]}
"""


def test_a_child_s_need_outside_its_group_gets_a_hint_that_fits(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    found = json.loads(done.stdout)["diagnostics"]
    hints = {d["line"]: (d["code"], d["hint"]) for d in found}
    assert hints == {
        9: (
            "E300",
            "`out` is outside the group `g`, which needs it already: its children start after "
            "`out` and may read steps.out; remove it here",
        ),
        14: ("E300", "`out` is outside the group `other`: add it to the group's own needs"),
    }
