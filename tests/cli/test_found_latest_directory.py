"""``.agnoctl/runs/latest`` turned into a directory, through the real CLI.

Found by trying it: ``latest`` is a link, and tools that follow links (an artifact upload
and its download, ``cp -rL``) bring it back as a copy of the run. Then every new run failed
with exit 1 and ``error: .agnoctl/runs/latest: Is a directory``, naming nothing to do, and
``--resume latest`` took the copy for the newest run (``latest`` sorts after every run id) and
resumed it there, writing into the copy. Now a new run is refused saying what the directory
is and what to do (the copy is someone's files: never replaced), and ``--resume latest``
passes over it to the run itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: copied
steps:
  check: {run: [sh, -c, "test -e ready"]}
"""

RUNS = Path(".agnoctl") / "runs"


def _a_failed_run_and_its_copy_as_latest(run_cli: RunCli, tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    assert run_cli("run", "wf.yaml", "-q").returncode == 1
    latest = tmp_path / RUNS / "latest"
    run_dir = latest.resolve()
    latest.unlink()
    shutil.copytree(run_dir, latest)  # as a download of the uploaded .agnoctl brings it back
    return run_dir, latest


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def test_a_new_run_is_refused_saying_what_latest_is(run_cli: RunCli, tmp_path: Path) -> None:
    _, latest = _a_failed_run_and_its_copy_as_latest(run_cli, tmp_path)
    copy = _files(latest)
    runs = sorted(p.name for p in (tmp_path / RUNS).iterdir())

    result = run_cli("run", "wf.yaml", "-q")
    assert result.returncode == 2
    assert "runs/latest is a directory, not the link" in result.stderr
    assert "remove or rename it" in result.stderr
    assert _files(latest) == copy
    assert sorted(p.name for p in (tmp_path / RUNS).iterdir()) == runs  # no run left behind


def test_resume_latest_resumes_the_run_not_its_copy(run_cli: RunCli, tmp_path: Path) -> None:
    run_dir, latest = _a_failed_run_and_its_copy_as_latest(run_cli, tmp_path)
    copy = _files(latest)
    (tmp_path / "ready").touch()

    result = run_cli("run", "wf.yaml", "-q", "--resume", "latest")
    assert result.returncode == 0, result.stderr
    assert f"(run dir: {RUNS / run_dir.name})" in result.stdout
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["status"] == "passed"
    assert _files(latest) == copy


def test_report_show_latest_says_what_latest_is(run_cli: RunCli, tmp_path: Path) -> None:
    """Found in review: `report show latest` said "no runs yet" though a run was there."""
    _a_failed_run_and_its_copy_as_latest(run_cli, tmp_path)

    result = run_cli("report", "show", "latest")
    assert result.returncode == 2
    assert "runs/latest is a directory, not the link" in result.stderr
    assert "no runs yet" not in result.stderr
