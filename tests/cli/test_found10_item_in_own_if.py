"""`item` in a for_each step's own `if`, through the real CLI.

Found by the spec-run pass: `for_each: [1, 2, 3]` with `if: item > 1` (meaning "only some
items") was refused with "`item` is only defined in for_each steps" and the hint "add
`for_each` to the step": the step has one, so the message sent the author in a circle. A step's
`if` and `for_each` are evaluated once, before there are items (docs/errors.md, E409); now the
message says so and how to leave items out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: own-if
steps:
  fan:
    for_each: "[1, 2, 3]"
    {field}
    run: [echo, "{{{{ item }}}}"]
  plain:
    if: item > 1
    run: [echo, x]
"""


@pytest.mark.parametrize(
    ("field", "name"),
    [("if: item > 1", "if"), ('for_each: "[index]"', "for_each")],
)
def test_item_in_a_fan_out_s_own_if_says_when_it_is_evaluated(
    run_cli: RunCli, tmp_path: Path, field: str, name: str
) -> None:
    text = WORKFLOW.format(field=field)
    if name == "for_each":
        text = text.replace('    for_each: "[1, 2, 3]"\n', "")
    (tmp_path / "wf.yaml").write_text(text)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    found = [d for d in json.loads(done.stdout)["diagnostics"] if d["code"] == "E409"]
    fan, plain = sorted(found, key=lambda d: d["line"])
    root = "index" if name == "for_each" else "item"
    assert fan["message"] == (
        f"`{root}` is not defined in steps.fan.{name}: a for_each step's `if` and `for_each` "
        "are evaluated once, before there are items"
    )
    assert "add `for_each`" not in fan["hint"]
    assert "select" in fan["hint"]
    # A step without for_each keeps the message that tells it to add one.
    assert plain["message"] == "`item` is only defined in for_each steps (steps.plain.if)"
    assert plain["hint"] == "add `for_each` to the step, or read the value another way"
