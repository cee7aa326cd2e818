"""A report directory that a run killed before its first event left behind, through the real
CLI.

Found by trying it: SIGHUP (or kill -9) in the moment between a run taking its lock and writing
its first event left ``--report-dir`` holding ``run.lock`` alone. The CI retry of the same
command was refused (``the report directory ... is not empty: ... carry on the run it holds
with --resume``), and ``--resume`` of it said there was no run there: a dead end until someone
deleted the directory. A lone lock file that no process holds is now no run: the directory is
used. One a live process holds is still refused, at the lock.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: locked
agents:
  a: {model: mock/echo}
steps:
  s: {agent: a, prompt: hello}
"""


def _killed_before_its_first_event(tmp_path: Path) -> Path:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    run_dir = tmp_path / "out"
    run_dir.mkdir()
    (run_dir / "run.lock").write_text("4194304\n", encoding="utf-8")  # its pid, no process
    return run_dir


def test_a_lock_file_alone_is_no_run(run_cli: RunCli, tmp_path: Path) -> None:
    run_dir = _killed_before_its_first_event(tmp_path)
    result = run_cli("run", "wf.yaml", "--report-dir", "out", "-q")
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["status"] == "passed"
    assert not (run_dir / "run.lock").exists()


def test_a_lock_file_a_process_holds_is_still_refused(run_cli: RunCli, tmp_path: Path) -> None:
    run_dir = _killed_before_its_first_event(tmp_path)
    with (run_dir / "run.lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_cli("run", "wf.yaml", "--report-dir", "out", "-q")
    assert result.returncode != 0
    assert "is being written by another agnoctl process" in result.stderr
    assert not (run_dir / "events.jsonl").exists()
