"""A template inside a list or map under `with:`, or inside a literal `for_each` list, is a
validation error, E423 (found by the sub-workflow validation pass).

Only a whole string value is rendered. `with: {b: {xs: ["{{ inputs.a }}"]}}` passed the text
`{{ inputs.a }}` to the child, and `for_each: ["{{ inputs.a }}", b]` ran an item whose value
was that text: validate said nothing and the run went on with the braces. Now each such
template is E423 at its place, naming the fix (the whole value as one template or
expression); plain strings in lists and maps stay literals.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

CHILD = """\
version: 1
name: child
inputs:
  a: {type: string}
  b: {type: object, default: {}}
steps:
  s: {run: [echo, "{{ inputs.a }}"]}
"""

PARENT = """\
version: 1
name: parent
inputs:
  a: {type: string, default: hi}
steps:
  c:
    uses: child.yaml
    for_each: ["{{ inputs.a }}", plain, {k: "{% if x %}"}]
    with:
      a: "{{ item }}"
      b: {xs: ["{{ inputs.a }}", plain]}
"""


def test_templates_nested_in_with_or_a_for_each_list_are_e423(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "child.yaml").write_text(CHILD, encoding="utf-8")
    (tmp_path / "parent.yaml").write_text(PARENT, encoding="utf-8")
    proc = run_cli("validate", "--format", "json", "parent.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    found = [
        (d["code"], d["line"], d["col"], d["message"].split(":")[0])
        for d in json.loads(proc.stdout)["diagnostics"]
    ]
    assert found == [
        ("E423", 8, 16, "`steps.c.for_each[0]`"),
        ("E423", 8, 45, "`steps.c.for_each[2].k`"),
        ("E423", 11, 16, "`steps.c.with.b.xs[0]`"),
    ]


def test_plain_strings_in_lists_and_maps_stay_literals(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(CHILD, encoding="utf-8")
    plain = PARENT.replace('"{{ inputs.a }}", plain, {k: "{% if x %}"}', "x, y").replace(
        '["{{ inputs.a }}", plain]', '[plain, "{ not a template }"]'
    )
    (tmp_path / "parent.yaml").write_text(plain, encoding="utf-8")
    proc = run_cli("validate", "parent.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
