"""A job summary that cannot be written is said, and stays owed, through the real CLI.

Found by the reports pass: `$GITHUB_STEP_SUMMARY` naming a file that cannot be opened (a
directory, a full disk, a runner's file gone) was passed over without a word and recorded as
published, so the job page lacked the run's summary and a `--resume` never added it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: summary
agents:
  w: {model: mock/echo}
steps:
  hello: {agent: w, prompt: hi}
"""


def test_an_unwritable_summary_is_said_and_added_by_resume(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    page = tmp_path / "page"
    page.mkdir()  # the page's path names a directory: it cannot be appended to
    result = run_cli("run", "wf.yaml", "-q", env={"GITHUB_STEP_SUMMARY": str(page)})
    assert result.returncode == 0, result.stderr  # the run's outcome stands
    assert "step_summary_failed" in result.stderr and str(page) in result.stderr
    published = json.loads(
        (tmp_path / ".agnoctl/runs/latest/published.json").read_text(encoding="utf-8")
    )
    assert "step_summary" not in json.dumps(published)

    page.rmdir()
    resumed = run_cli(
        "run", "wf.yaml", "-q", "--resume", "latest", env={"GITHUB_STEP_SUMMARY": str(page)}
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "## " in page.read_text(encoding="utf-8")  # the summary, added by the resume
