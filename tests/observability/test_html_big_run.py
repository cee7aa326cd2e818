"""report.html of a big run details its failed steps first and says what it left out."""

from __future__ import annotations

import json
from pathlib import Path

from agnoctl.reports import html_view
from agnoctl.session import RunOptions, run_workflow


def test_a_big_run_details_its_failures_first_and_says_what_it_left_out(tmp_path: Path) -> None:
    count = html_view.MAX_DETAILS + 50
    steps = {f"s{i}": {"agent": "w", "prompt": "p"} for i in range(count)}
    late = f"s{count - 1}"
    steps[late] = {"run": ["false"], "continue_on_error": True}
    workflow = {"version": 1, "name": "big", "agents": {"w": {"model": "mock/echo"}}}
    (tmp_path / "w.yaml").write_text(json.dumps({**workflow, "steps": steps}), encoding="utf-8")
    report = run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "run"))
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert page.count("<details") == html_view.MAX_DETAILS
    assert f'id="step-{late}"' in page  # the failed step, though it comes last
    assert f"{count - html_view.MAX_DETAILS} more are in report.json" in page
    assert f"{count - html_view.MAX_NODES} more not drawn" in page
    assert f"{len(report.cost.by_step) - html_view.MAX_COST_ROWS} more in report.json" in page
