"""A `--report-dir` that is a file, or lies below one, through the real CLI.

Found by trying it: ``--report-dir report.json`` (a file named where a folder belongs) failed
with ``error: report.json: Not a directory`` and exit 1, as if the run had failed, though
nothing ran and the option was not named. Now it is a usage error (exit 2) saying which file
is in the way, before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: reported
agents:
  a: {model: mock/echo}
steps:
  s: {agent: a, prompt: hello}
"""


@pytest.mark.parametrize("report_dir", ["taken.json", "taken.json/run"])
def test_a_file_in_the_way_is_a_usage_error(
    run_cli: RunCli, tmp_path: Path, report_dir: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "taken.json").write_text("{}", encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--report-dir", report_dir)
    assert result.returncode == 2, result.stderr
    assert (
        f"error: the report directory {report_dir} cannot be made: taken.json is a file"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "taken.json").read_text(encoding="utf-8") == "{}"
