"""Run history: runs list, report show, and report diff as a CI gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.errors import UsageError
from agnoctl.reports.history import diff_reports, list_runs, load_report, render_diff
from agnoctl.reports.model import RunReport
from tests.conftest import RunCli
from tests.observability.conftest import ObsRuns


def test_diff_with_a_regression_exits_1(obs_runs: ObsRuns, run_cli: RunCli) -> None:
    a, b = obs_runs.a.report.run_id, obs_runs.b.report.run_id
    result = run_cli(
        "report", "diff", a, b, "--fail-on-regression", "--runs-dir", obs_runs.runs_dir
    )
    assert result.returncode == 1, result.stderr
    assert (
        "gate threshold confidence >= 0.7: passed (0.9) → failed (0.5)  REGRESSION" in result.stdout
    )
    assert "1 regression(s):" in result.stdout
    assert "score: gate threshold confidence >= 0.7: passed → failed" in result.stdout


def test_diff_without_the_flag_or_regression_exits_0(obs_runs: ObsRuns, cli: CliRunner) -> None:
    runs = ["--runs-dir", str(obs_runs.runs_dir)]
    a, b = obs_runs.a.report.run_id, obs_runs.b.report.run_id
    assert cli.invoke(app, ["report", "diff", a, b, *runs]).exit_code == 0
    same = cli.invoke(app, ["report", "diff", a, a, "--fail-on-regression", *runs])
    assert same.exit_code == 0 and "no regressions" in same.stdout
    # Improving is not a regression: B -> A.
    better = cli.invoke(app, ["report", "diff", b, a, "--fail-on-regression", *runs])
    assert better.exit_code == 0, better.stdout


def test_diff_json_and_markdown(obs_runs: ObsRuns, cli: CliRunner) -> None:
    runs = ["--runs-dir", str(obs_runs.runs_dir)]
    a, b = str(obs_runs.a.run_dir), str(obs_runs.b.run_dir / "report.json")  # paths work too
    data = json.loads(cli.invoke(app, ["report", "diff", a, b, "--format", "json", *runs]).stdout)
    assert data["regressed"] is True
    [score] = [s for s in data["steps"] if s["path"] == "score"]
    assert score["output_changed"] and score["gates"][0]["value_b"] == 0.5
    markdown = cli.invoke(app, ["report", "diff", a, b, "--format", "markdown", *runs]).stdout
    assert markdown.startswith("### ❌ agnoctl report diff")
    assert "| `score` |" in markdown and "```diff" in markdown


def _report(obs_runs: ObsRuns, change: dict[str, Any] | None = None) -> RunReport:
    data = obs_runs.a.report.model_dump(mode="json")
    for key, value in (change or {}).items():
        target = data
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value
    return RunReport.model_validate(data)


def test_score_gate_tolerance(obs_runs: ObsRuns) -> None:
    base = _report(obs_runs)
    gate = "steps.score.gates.1.value"  # gates: implied schema gate, then the threshold
    assert base.steps["score"].gates[1].name == "threshold confidence >= 0.7"
    slightly = _report(obs_runs, {gate: 0.86})
    assert not diff_reports(base, slightly, tolerance=0.05).regressed
    worse = _report(obs_runs, {gate: 0.8})
    delta = diff_reports(base, worse, tolerance=0.05)
    assert delta.regressions == [
        "score: gate threshold confidence >= 0.7: value 0.9 → 0.8, "
        "worse by more than the tolerance 0.05"
    ]
    assert not diff_reports(base, worse, tolerance=0.2).regressed


def test_step_status_regressions(obs_runs: ObsRuns) -> None:
    base = _report(obs_runs)
    failed = _report(
        obs_runs,
        {"steps.publish.status": "failed", "status": "failed", "reason": "publish failed"},
    )
    delta = diff_reports(base, failed)
    assert delta.regressions[0].startswith("run: passed → failed")
    assert "publish: succeeded → failed" in delta.regressions
    upstream = _report(
        obs_runs, {"steps.publish.status": "skipped", "steps.publish.reason": "upstream_failed"}
    )
    assert not diff_reports(base, upstream).regressed  # its upstream is the one to blame
    budget = _report(
        obs_runs, {"steps.publish.status": "skipped", "steps.publish.reason": "budget"}
    )
    assert diff_reports(base, budget).regressions == ["publish: succeeded → skipped: budget"]
    with pytest.raises(UsageError):
        diff_reports(base, base, tolerance=-1)


def test_markdown_escapes_html(obs_runs: ObsRuns) -> None:
    payload = "<img src=x onerror=alert(1)>"
    changed = _report(
        obs_runs,
        {"steps.score.gates.1.passed": False, "steps.score.gates.1.finding": payload},
    )
    text = render_diff(diff_reports(_report(obs_runs), changed), "markdown")
    assert "gate threshold confidence &gt;= 0.7: passed → failed (&lt;img src=x" in text
    assert payload not in text


def test_runs_list_and_show(obs_runs: ObsRuns, run_cli: RunCli, cli: CliRunner) -> None:
    runs = list_runs(obs_runs.runs_dir)
    made = [obs_runs.a, obs_runs.b]
    newest_first = sorted(made, key=lambda run: run.report.started, reverse=True)
    assert [r.run_id for r in runs] == [run.run_dir.name for run in newest_first]
    assert all(r.workflow == "obs-demo" and r.status == "passed" for r in runs)
    listed = run_cli("runs", "list", "--runs-dir", obs_runs.runs_dir)
    assert listed.returncode == 0 and obs_runs.a.report.run_id in listed.stdout
    lines = cli.invoke(app, ["runs", "list", "--json", "--runs-dir", str(obs_runs.runs_dir)]).stdout
    assert {json.loads(line)["run_id"] for line in lines.splitlines()} >= {obs_runs.a.report.run_id}
    shown = cli.invoke(
        app, ["report", "show", obs_runs.b.report.run_id, "--runs-dir", str(obs_runs.runs_dir)]
    )
    assert shown.exit_code == 0
    assert "failed (warn)" in shown.stdout  # the regressed gate
    assert f"full report: {obs_runs.b.run_dir / 'report.html'}" in shown.stdout


def test_incomplete_and_unknown_runs(obs_runs: ObsRuns, tmp_path: Path, cli: CliRunner) -> None:
    runs_dir = tmp_path / "runs"
    killed = runs_dir / "20250101T000000Z-abcdef"
    killed.mkdir(parents=True)
    (killed / "events.jsonl").write_text('{"seq": 1, "type": "run_started", "workflow": "w"}\n')
    [run] = list_runs(runs_dir)
    assert (run.status, run.workflow, run.started is not None) == ("incomplete", "w", True)
    with pytest.raises(UsageError, match="killed before it wrote its report"):
        load_report(killed.name, runs_dir)
    missing = cli.invoke(app, ["report", "show", "nope", "--runs-dir", str(runs_dir)])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr
    assert (
        "no runs yet"
        in cli.invoke(
            app, ["report", "diff", "latest", "latest", "--runs-dir", str(runs_dir)]
        ).stderr
    )
