"""What agnoctl does with files (#26): `fixtures export` never overwrites unasked and names the
run id; a non-empty `--report-dir` points at `--resume`; one permission for every run file;
no `run.lock` left after the run."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.conftest import RunCli

FLOW = "version: 1\nname: files\nagents: {a: {model: mock/m}}\nsteps: {s: {agent: a, prompt: hi}}\n"


def _run(run_cli: RunCli, tmp_path: Path, folder: str = "out") -> Path:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    result = run_cli("run", "flow.yaml", "-q", "--report-dir", folder)
    assert result.returncode == 0, result.stderr
    return tmp_path / folder


def test_fixtures_export_overwrites_only_with_force(run_cli: RunCli, tmp_path: Path) -> None:
    run_dir = _run(run_cli, tmp_path)
    run_id = json.loads((run_dir / "report.json").read_text())["run_id"]
    handwritten = tmp_path / "fixtures.yaml"
    handwritten.write_text("steps: {s: [{text: written by hand}]}\n", encoding="utf-8")
    refused = run_cli("fixtures", "export", "out")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "fixtures.yaml already exists: pass --force" in refused.stderr
    assert "written by hand" in handwritten.read_text()
    forced = run_cli("fixtures", "export", "out", "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"replies of run {run_id} to fixtures.yaml" in forced.stdout  # the id, not `out`
    assert f"# Model replies of run {run_id}," in handwritten.read_text()


def test_a_report_dir_in_use_points_at_resume(run_cli: RunCli, tmp_path: Path) -> None:
    _run(run_cli, tmp_path)
    again = run_cli("run", "flow.yaml", "--report-dir", "out")
    assert again.returncode == 2
    assert "is not empty" in again.stderr and "--resume out" in again.stderr
    resumed = run_cli("run", "flow.yaml", "--resume", "out")
    assert resumed.returncode == 0, resumed.stderr


def test_run_files_are_the_owners_and_no_lock_is_left(run_cli: RunCli, tmp_path: Path) -> None:
    run_dir = _run(run_cli, tmp_path)
    files = [path for path in run_dir.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"report.json", "events.jsonl", "junit.xml"}
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    assert set(modes.values()) == {0o600}, modes
    assert not (run_dir / "run.lock").exists()
