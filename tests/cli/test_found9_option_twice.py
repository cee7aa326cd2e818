"""An option that takes one value, given twice, is a usage error.

Found by the reports pass: ``agnoctl run wf.yaml --report-dir a --report-dir b`` wrote the run
to ``b`` alone and said nothing, so a CI job that uploads ``a`` (the first, in a template the
second was appended to) lost its junit.xml; so with ``--format``, ``--mock-fixtures``,
``--cache-dir``: click keeps the last value. Now the command stops, exit 2, naming the option,
before anything runs. Options that collect values (``-i``, ``--log``) are not affected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: twice
inputs:
  a: {type: string}
  b: {type: string}
steps:
  one: {run: [echo, "{{ inputs.a }}{{ inputs.b }}"]}
"""


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--report-dir", "a", "--report-dir", "b"], "--report-dir"),
        (["--report-dir=a", "--format", "json", "--format", "github"], "--format"),
    ],
)
def test_a_one_value_option_given_twice_is_refused(
    run_cli: RunCli, tmp_path: Path, args: list[str], option: str
) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "-i", "a=1", "-i", "b=2", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {option} is given twice: give it once\n"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert not (tmp_path / ".agnoctl").exists()


def test_options_that_collect_values_still_take_several(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "-q", "-i", "a=1", "--input", "b=2", "--report-dir=a")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a" / "report.json").is_file()
