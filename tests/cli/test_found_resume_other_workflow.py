"""``--resume`` naming a run of another workflow, through the real CLI.

Found by trying it: ``agnoctl run b.yaml --resume <a run of a.yaml>`` (a run id pasted from the
wrong job) resumed it: it reused nothing, ran b's steps and wrote b's report.json, junit.xml
and summary.md over a's, whose verdict was lost. A run belongs to the workflow that ran it (by
name, as ``--resume latest`` finds it); another workflow is now refused before anything is
written.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

FIRST = """\
version: 1
name: {name}
agents:
  a: {{model: mock/echo}}
steps:
  s: {{agent: a, prompt: {prompt}}}
"""


def test_a_run_of_another_workflow_is_not_resumed(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(FIRST.format(name="first", prompt="hi"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(FIRST.format(name="second", prompt="ho"), encoding="utf-8")
    assert run_cli("run", "a.yaml", "--report-dir", "ran", "-q").returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "ran").iterdir() if p.is_file()}

    resumed = run_cli("run", "b.yaml", "--resume", "ran", "-q")
    assert resumed.returncode == 2
    assert "is a run of workflow 'first', not of 'second'" in resumed.stderr
    after = {p.name: p.read_bytes() for p in (tmp_path / "ran").iterdir() if p.is_file()}
    assert after == before
    report = json.loads((tmp_path / "ran" / "report.json").read_text(encoding="utf-8"))
    assert report["workflow"]["name"] == "first"

    # The workflow that ran it still resumes it.
    again = run_cli("run", "a.yaml", "--resume", "ran", "-q")
    assert again.returncode == 0, again.stderr
    assert "nothing to resume" in again.stdout + again.stderr
