"""A read that names a map's method (`output.items`, `inputs.values`), through the real CLI.

Found by trying it: a command step printing `{"items": [1, 2]}` under an output schema with an
`items` property, read by the next step as `steps.src.output.items`, validated; at run time
Jinja2 gave the dict's `items` method, not the key: the `for_each` failed with
`gave builtin_function_or_method '<built-in method items of dict object at 0x...>'`, and a
prompt or command argument silently carried that text (the run passed). An input named
`values` read as `inputs.values` did the same. Now such a read, not called, is E422 at
validation, with the hint to write `['items']`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

HEAD = """\
version: 1
name: methods
inputs:
  values: {type: array, default: [a, b]}
steps:
  src:
    run: [echo, '{"items": [1, 2]}']
    output_schema: {type: object, properties: {items: {type: array}}}
"""
BROKEN = """\
  fan:
    needs: [src]
    for_each: steps.src.output.items
    run: [echo, "{{ item }}"]
  show:
    needs: [src]
    run: [echo, "{{ inputs.values }}"]
"""
FIXED = """\
  fan:
    needs: [src]
    for_each: steps.src.output['items']
    run:
      - echo
      - "{{ item }} {{ inputs['values'] | join(',') }} {{ steps.src.output.items() | length }}"
outputs:
  o: "{{ steps.fan.output | join(' / ') }}"
"""


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_reading_a_maps_method_as_a_key_is_an_error(
    run_cli: RunCli, tmp_path: Path, command: str
) -> None:
    (tmp_path / "wf.yaml").write_text(HEAD + BROKEN, encoding="utf-8")
    result = run_cli(command, "wf.yaml")
    output = result.stdout + result.stderr  # validate prints its findings on stdout
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert (
        "wf.yaml:11:32: error E422 steps.fan.for_each: `.items` reads the map's method "
        "`items`, not a key named `items`" in output
    )
    assert "hint: read the key as `['items']`, or call the method: `.items()`" in output
    assert "wf.yaml:15:28: error E422 steps.show.run[1]: `.values` reads" in output
    assert not (tmp_path / ".agnoctl" / "runs").exists()


def test_the_key_read_with_brackets_and_a_called_method_run(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(HEAD + FIXED, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--report-dir", "out")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / "out" / "outputs" / "o.txt").read_text(encoding="utf-8")
    assert text == "1 a,b 1 / 2 a,b 1"
