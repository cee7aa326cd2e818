"""Numbers that agree (#26): one money formatter everywhere, and one count of LLM calls in
summary.md, report.json (totals, steps) and the budget counter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import RunCli

PRICED = {
    "version": 1,
    "name": "priced",
    "agents": {"a": {"model": "openai/gpt-4o-mini"}},
    "limits": {"max_llm_calls": 20},
    "steps": {
        "flaky": {
            "agent": "a",
            "prompt": "hi",
            "retry": {"max_attempts": 3, "initial_delay": "10ms"},
        },
        "steady": {"agent": "a", "prompt": "hi"},
    },
}


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _run(run_cli: RunCli, tmp_path: Path, name: str, reply: str) -> Path:
    """A run where `flaky` fails once (HTTP 500) before it answers `reply`."""
    fixtures = {
        "steps": {
            "flaky": [{"error": {"status": 500, "message": "down"}}, {"text": reply}],
            "steady": [{"text": reply}],
        }
    }
    _write(tmp_path, "flow.yaml", PRICED)
    _write(tmp_path, f"{name}.fixtures.yaml", fixtures)
    result = run_cli(
        "run",
        "flow.yaml",
        "--mock",
        "--mock-fixtures",
        f"{name}.fixtures.yaml",
        "-q",
        "--report-dir",
        name,
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / name


def test_llm_calls_agree_across_summary_report_and_budget(run_cli: RunCli, tmp_path: Path) -> None:
    """A call counts once it was sent, answered or not (the failed one included): that is
    what `max_llm_calls` limits, so every count says 3."""
    run_dir = _run(run_cli, tmp_path, "run", "ok")
    report = json.loads((run_dir / "report.json").read_text())
    by_step = sum(step["calls"] for step in report["steps"].values())
    assert report["cost"]["total"]["calls"] == by_step == 3
    assert report["limits"]["max_llm_calls"]["used"] == 3
    assert report["cost"]["by_step"]["flaky"]["calls"] == 2
    assert " · 3 LLM calls · " in (run_dir / "summary.md").read_text()


def test_one_money_format_everywhere(run_cli: RunCli, tmp_path: Path) -> None:
    _write(tmp_path, "flow.yaml", PRICED)
    plan = run_cli("plan", "flow.yaml").stdout
    assert "$0.15 / $0.60" in plan and "$0.6 " not in plan  # prices as prices are written
    first = _run(run_cli, tmp_path, "a", "ok")
    second = _run(run_cli, tmp_path, "b", "a much longer answer " * 20)
    diff = run_cli("report", "diff", first, second).stdout
    [run] = [line for line in diff.splitlines() if line.startswith("run: ")]
    assert "$0.0000 " not in diff  # tiny amounts keep their significant digits
    assert re.search(r"cost \$0\.00000\d → \$0\.000\d\d \(\+\$0\.000\d\d, \+[\d.]+%\)", run), run
    summary = (first / "summary.md").read_text()
    assert not re.search(r"\$0\.0000(?!\d)", summary), summary
