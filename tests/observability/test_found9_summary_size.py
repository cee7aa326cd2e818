"""summary.md stays a page GitHub shows, whatever the size of the run.

Found by running a for_each of groups over 4,000 items: summary.md had a row for each of the
8,000 children (454 KB, 8,016 lines) and a line under Failures for each failed one. GitHub
drops a step summary over 1 MiB whole (the job page shows an error instead): past about 9,000
items such a run's page had no summary at all, and below that an unreadable one. Now, as
``agnoctl report show`` does past its rows, a long table keeps the top-level steps, then the
nested rows that did not succeed, up to a cap, and says how many more are in report.json; the
Failures list is capped the same way.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from agnoctl.reports.model import RunReport
from agnoctl.reports.summary import render_summary
from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: many
steps:
  fan:
    for_each: "[0, 1]"
    success_threshold: 0.5
    steps:
      one: {run: [sh, -c, "test {{ item }} = 0"]}
      two: {run: [echo, ok]}
  after: {needs: [fan], run: [echo, done]}
"""


def _bigger(report: dict[str, Any], count: int) -> RunReport:
    """``report`` whose fan-out has ``count`` items, every other one failed as item 1 was."""
    fan = report["steps"]["fan"]
    passed, failed = fan["items"]
    fan["items"] = []
    for index in range(count):
        item = copy.deepcopy(failed if index % 2 else passed)
        item["index"] = index
        for child in item["steps"].values():
            child["path"] = child["path"].replace("[0]", f"[{index}]").replace("[1]", f"[{index}]")
        fan["items"].append(item)
    return RunReport.model_validate(report)


def test_a_big_run_s_summary_is_a_page(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    summary = render_summary(_bigger(data, 400))
    assert len(summary.encode()) < 64 * 1024, len(summary)
    lines = summary.splitlines()
    rows = [line for line in lines if line.startswith("| `")]
    assert rows[0].startswith("| `fan` |") and rows[1].startswith("| `after` |")
    assert rows[2].startswith("| `fan[1].one` | ❌ failed")  # the first that did not succeed
    assert all("✅" not in row for row in rows[2:])
    assert len(rows) == 200
    assert "| … 602 more rows in report.json |  |  |  |  |" in lines
    failures = [line for line in lines if line.startswith("- **fan[")]
    assert len(failures) == 50 and failures[0].startswith("- **fan[1].one**")
    assert "- … 150 more failures in report.json" in lines
