"""A ``--log-file`` on a full disk, through the real CLI.

Found by trying it: with ``--log-file /dev/full`` every log line was dropped during the run (a
log is lost rather than allowed to stop the run it describes), but closing the file at the end
raised: a run that passed, its report saying so, exited 1 with ``error: No space left on
device``, naming no file. Now the run's verdict stands and a warning names the log file whose
lines were lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: logged
agents:
  a: {model: mock/echo}
steps:
  s: {agent: a, prompt: hello}
"""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_log_file_on_a_full_disk_keeps_the_runs_exit_code(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--report-dir", "out", "--log-file", "/dev/full")
    assert result.returncode == 0, result.stderr
    assert "passed" in result.stdout
    assert "lines of the log file /dev/full were lost: No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "passed"


def test_a_log_file_that_takes_its_lines_gets_no_warning(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--log-file", "run.log")
    assert result.returncode == 0, result.stderr
    assert "were lost" not in result.stderr
    assert "run_finished" in (tmp_path / "run.log").read_text(encoding="utf-8")
