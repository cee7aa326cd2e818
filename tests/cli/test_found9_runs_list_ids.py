"""`agnoctl runs list` names each run as `report show` and `--resume` take it, through the
real CLI.

Found by the cli pass: a run made with `--report-dir .agnoctl/runs/nightly` was listed by the
id inside its report (`20261207T...-0378ae`), and `report show` of that id said "no run ... give
a run id (`agnoctl runs list`)"; a run directory copied under another name was listed with
the original's id, twice. The id column is now the run's directory name, what the other
commands look a run up by; the list stays newest first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: listed
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""


def test_every_listed_id_is_one_report_show_finds(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    runs = tmp_path / ".agnoctl" / "runs"
    assert run_cli("run", "wf.yaml", "-q").returncode == 0
    [first] = [p for p in runs.iterdir() if p.name != "latest"]
    shutil.copytree(first, runs / "baseline")
    assert run_cli("run", "wf.yaml", "-q", "--report-dir", runs / "nightly").returncode == 0
    listed = run_cli("runs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    ids = [json.loads(line)["run_id"] for line in listed.stdout.splitlines()]
    assert ids == ["nightly", "baseline", first.name]  # a copy started when its original did
    for run_id in ids:
        shown = run_cli("report", "show", run_id)
        assert shown.returncode == 0, shown.stderr


def test_a_report_time_without_a_zone_sorts_with_the_others(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    runs = tmp_path / ".agnoctl" / "runs"
    assert run_cli("run", "wf.yaml", "-q", "--report-dir", runs / "old").returncode == 0
    assert run_cli("run", "wf.yaml", "-q", "--report-dir", runs / "new").returncode == 0
    report = runs / "old" / "report.json"
    data = json.loads(report.read_text())
    data["started"] = "2020-01-01T00:00:00"
    report.write_text(json.dumps(data))
    listed = run_cli("runs", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["run_id"] for line in listed.stdout.splitlines()] == ["new", "old"]
