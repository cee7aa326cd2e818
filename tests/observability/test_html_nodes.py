"""report.html's timeline grouped by Ray node (#25): a run whose attempts name a node gets a
"group by node" toggle, a heading per node and each row's node; a run without nodes gets none
of it (its page is as it was)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from agnoctl.reports.html import render_html
from agnoctl.reports.model import RunReport
from tests.observability.conftest import ObsRuns
from tests.observability.test_html import _browse

NODE = "a3f09c1e" * 7  # a Ray node id: 56 hex digits


def _report(obs_runs: ObsRuns) -> RunReport:
    return RunReport.model_validate_json((obs_runs.a.run_dir / "report.json").read_text())


def _on_a_node(report: RunReport, step: str) -> RunReport:
    """``report`` with the attempts of ``step`` on ``NODE``, as `--executor ray` records them."""
    data = report.model_dump(mode="json")
    for attempt in data["steps"][step]["attempts"]:
        attempt["node"] = NODE
    return RunReport.model_validate(data)


def test_a_page_without_nodes_has_no_grouping(obs_runs: ObsRuns) -> None:
    page = render_html(_report(obs_runs))
    assert 'id="by-node"' not in page and "data-ran-on" not in page
    assert "data-node-head" not in page and "g-node" not in page


def test_a_page_with_nodes_groups_its_timeline_by_node(obs_runs: ObsRuns, tmp_path: Path) -> None:
    report = _report(obs_runs)
    assert report.steps["score"].attempts
    page = render_html(_on_a_node(report, "score"))
    assert '<label><input type="checkbox" id="by-node"> group by node</label>' in page
    rows = re.findall(r'<div class="g-row" data-filter="([^"]*)"[^>]* data-ran-on="([^"]*)">', page)
    assert ("score", NODE) in rows
    assert {node for _, node in rows} == {NODE, ""}  # every row says where, "" the driver
    heads = re.findall(r'<div class="g-node" data-node-head="([^"]*)" hidden>([^<]*)<', page)
    assert heads == [(NODE, f"node {NODE[:12]} "), ("", "on the driver ")]
    # The grouping's script is part of the one script the page's CSP pins.
    [script] = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert "by-node" in script
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    # In a browser: both scripts run to their end, with no error and no CSP violation.
    file = tmp_path / "report.html"
    file.write_text(page, encoding="utf-8")
    dom = _browse(file, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert [line for line in dom.stderr.splitlines() if ":CONSOLE" in line] == []
    assert 'data-ready="1"' in dom.stdout
