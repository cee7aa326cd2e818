"""`report show DIR` of a run killed before its report (found by the secondary commands pass).

A run named by its directory's path, holding its journal but no report.json, was "no run
'DIR' in .agnoctl/runs: give ... a run directory", which it is; by its id it was said to be
killed. Now both say the run was killed and how to finish it, with a command that works:
`agnoctl run <workflow> --resume` the id (among the runs) or the path (elsewhere); the hint
left out the workflow `run` needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import RunCli

FLOW = "version: 1\nname: flow\nsteps:\n  s: {run: [echo, hi]}\n"


def test_a_killed_run_named_by_its_path_or_id_is_said_to_be_killed(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    assert run_cli("run", "flow.yaml", "-q").returncode == 0
    runs = tmp_path / ".agnoctl" / "runs"
    killed = runs / "killed"
    shutil.copytree((runs / "latest").resolve(), killed)
    (killed / "report.json").unlink()
    shutil.copytree(killed, tmp_path / "elsewhere")
    for reference, resume in [
        ("killed", "killed"),
        (str(killed), "killed"),
        ("elsewhere", "elsewhere"),
    ]:
        proc = run_cli("report", "show", reference)
        assert proc.returncode == 2
        assert proc.stderr.endswith(
            "/report.json does not exist: the run was killed before it wrote its report; "
            f"`agnoctl run <workflow> --resume {resume}` finishes it\n"
        ), proc.stderr
    resumed = run_cli("run", "flow.yaml", "-q", "--resume", "elsewhere")
    assert resumed.returncode == 0, resumed.stderr
