"""A model's words cannot shape the GitHub job summary, through the real CLI.

Found by trying it: summary.md (appended to ``$GITHUB_STEP_SUMMARY``) showed the run's reason
as Markdown. A run that failed its gates quotes the judge's finding there, so a judge replying
``fine\\n\\n## ✅ All checks passed\\n\\n<img src=...> [Approve the deploy](https://...)`` put a
heading, a tracking image and a link of its choosing on the job's page. Now the reason is one
line of text, its markup escaped as the table's cells and the failures are.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import RunCli
from tests.observability.test_found5_ci_log_commands import WORKFLOW

REASON = (
    "fine\n\n## ✅ All checks passed\n\n<img src=https://evil.example/x.png> "
    "[Approve the deploy](https://evil.example/approve) | x"
)


def test_a_judges_reply_is_text_on_the_job_summary(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    fixtures = {"steps": {"write#judge": {"json": {"score": 0.1, "reason": REASON}}}}
    (tmp_path / "fx.yaml").write_text(yaml.safe_dump(fixtures), encoding="utf-8")
    page = tmp_path / "step_summary.md"
    result = run_cli(
        "run",
        "wf.yaml",
        "--mock-fixtures",
        "fx.yaml",
        "-q",
        env={"GITHUB_STEP_SUMMARY": str(page)},
    )
    assert result.returncode == 1, result.stderr
    markdown = page.read_text(encoding="utf-8")
    assert "\n## ✅" not in markdown and "\n<img" not in markdown
    assert "<img" not in markdown.replace("\\<img", "")
    assert "[Approve" not in markdown.replace("\\[Approve", "")
    escaped = (
        "fine ## ✅ All checks passed \\<img src=https://evil.example/x.png> "
        "\\[Approve the deploy\\](https://evil.example/approve) \\| x"
    )
    [reason_line] = [line for line in markdown.splitlines() if line.startswith("step write")]
    assert reason_line.endswith(escaped)
