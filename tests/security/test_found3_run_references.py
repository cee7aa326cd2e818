"""A run reference that is no run id (``.``, ``..``, an empty one) given to `report show` and
`report diff`, through the real CLI.

Found by trying it: such a reference named a folder beside the runs (``.agnoctl/runs`` itself,
or ``.agnoctl``), taken for a run killed before its report: "…/runs/report.json does not
exist: the run was killed before it wrote its report; `agnoctl run --resume runs` finishes
it", advice to resume a run that is not there. A run, named by its id, is a folder of the runs
holding a journal; anything else is no run, and said to be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.cli import agnoctl


@pytest.mark.parametrize("reference", ["", ".", ".."])
@pytest.mark.parametrize("command", [["report", "show"], ["report", "diff", "latest"]])
def test_a_reference_that_is_no_run_id_names_no_run(
    tmp_path: Path, command: list[str], reference: str
) -> None:
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: refs\nsteps:\n  s: {run: [echo, hi]}\n", encoding="utf-8"
    )
    assert agnoctl(tmp_path, "run", "wf.yaml", "-q").returncode == 0  # there is a latest run
    result = agnoctl(tmp_path, *command, reference)
    assert result.returncode == 2, result.stderr
    if reference:
        assert f"error: no run {reference!r} in .agnoctl/runs: give a run id" in result.stderr
    else:  # no value at all (tests/cli/test_found9_empty_values.py)
        assert "error: RUN is empty: give it a value" in result.stderr
    assert "killed" not in result.stderr
