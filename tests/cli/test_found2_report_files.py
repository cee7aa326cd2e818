"""`agnoctl report show|diff` given a report file by its path, through the real CLI.

Found by trying it: a report named other than ``report.json`` (a baseline kept as
``baseline.json``, as a CI job keeps the main branch's) was not read: its folder's
``report.json`` was, so ``report diff baseline.json report.json`` compared the run with
itself and said "no regressions" (exit 0 under ``--fail-on-regression``) when it had
regressed. And a report.json that is not UTF-8 text (a damaged download) ended in a
UnicodeDecodeError traceback. Now the file named is read, and a damaged one is a usage error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: checked
steps:
  check: {{run: ["{program}"]}}
"""


def run_into(run_cli: RunCli, tmp_path: Path, program: str, out: str) -> Path:
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(program=program), encoding="utf-8")
    run_cli("run", "wf.yaml", "-q", "--report-dir", out)
    return tmp_path / out / "report.json"


def test_a_baseline_file_is_read_itself(run_cli: RunCli, tmp_path: Path) -> None:
    baseline = run_into(run_cli, tmp_path, "true", "main")
    current = run_into(run_cli, tmp_path, "false", "pr")
    shutil.copy(baseline, current.parent / "baseline.json")

    diff = run_cli("report", "diff", "pr/baseline.json", "pr/report.json", "--fail-on-regression")
    assert diff.returncode == 1, diff.stdout + diff.stderr
    assert "no regressions" not in diff.stdout
    shown = run_cli("report", "show", "pr/baseline.json")
    assert shown.returncode == 0, shown.stderr
    assert "passed" in shown.stdout
    assert "failed" not in shown.stdout


def test_a_report_that_is_not_text_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "report.json").write_bytes(b"\x93\xff\x00binary")
    for command in (("show", "damaged"), ("diff", "damaged", "damaged")):
        result = run_cli("report", *command)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "damaged/report.json is not a valid report: it is not UTF-8 text" in result.stderr
