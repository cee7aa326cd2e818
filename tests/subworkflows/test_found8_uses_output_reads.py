"""A read of an output a `uses` step's file does not declare is a validation error (found by
the sub-workflow validation pass).

`steps.c.output.txet`, where the child's `outputs:` has `text`, validated and failed only when
the run rendered it. The step's output is the child's `outputs` map, known once the child is
read: such a read is now E437 where the parent reads it, with a did-you-mean, in templates,
`outputs`, gate expressions (`output.txet`) and a for_each step's item reads. A guarded read
(`is defined`, `| default`) and a declared output stay valid.
"""

from __future__ import annotations

from pathlib import Path

from agnoctl.spec.validate import validate_file
from tests.conftest import RunCli

CHILD = """\
version: 1
name: child
inputs:
  a: {type: string}
steps:
  s: {run: [echo, "{{ inputs.a }}"]}
outputs:
  text: "{{ steps.s.output }}"
  score: "{{ 1 }}"
"""

PARENT = """\
version: 1
name: parent
steps:
  c: {uses: child.yaml, with: {a: x}}
  d:
    needs: [c]
    run: [echo, "{{ steps.c.output.txet }}"]
  e:
    uses: child.yaml
    for_each: "['x', 'y']"
    with: {a: "{{ item }}"}
    gates:
      - {type: expr, expr: "output.scroe > 0"}
  f:
    needs: [e]
    run: [echo, "{{ steps.e.results[0].output.tex }}"]
outputs:
  o: "{{ steps.c.output.text }} {{ steps.c.output.nope | default('') }}"
"""


def test_reading_an_output_the_child_does_not_declare_is_e437(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "child.yaml").write_text(CHILD, encoding="utf-8")
    (tmp_path / "parent.yaml").write_text(PARENT, encoding="utf-8")
    proc = run_cli("validate", "parent.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:6] == [
        "parent.yaml:7:21: error E437 `steps.c.output.txet`: child.yaml has no output `txet`",
        "    hint: did you mean `text`?",
        "parent.yaml:13:29: error E437 `output.scroe`: child.yaml has no output `scroe`",
        "    hint: did you mean `score`?",
        "parent.yaml:16:21: error E437 `steps.e.results[0].output.tex`: child.yaml has no "
        "output `tex`",
        "    hint: did you mean `text`?",
    ]
    assert "nope" not in proc.stdout  # guarded: the template handles a missing value


def test_declared_outputs_validate_and_a_child_without_outputs_says_so(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(CHILD, encoding="utf-8")
    good = PARENT.replace("txet", "text").replace("scroe", "score").replace(".tex ", ".text ")
    (tmp_path / "good.yaml").write_text(good, encoding="utf-8")
    assert validate_file(tmp_path / "good.yaml").ok
    bare = CHILD[: CHILD.index("outputs:")]
    (tmp_path / "child.yaml").write_text(bare, encoding="utf-8")
    found = validate_file(tmp_path / "good.yaml").diagnostics
    assert {(d.code, d.hint) for d in found} == {
        ("E437", f"{tmp_path / 'child.yaml'} declares no `outputs`")
    }
