"""What ``agnoctl run`` shows: plain lines, the live view, the summary, NO_COLOR, --quiet."""

from __future__ import annotations

import io
import time
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.engine.state import FanOut, RunState, new_records
from agnoctl.events import Entry, LlmCall, StepFailed
from agnoctl.spec.models import Workflow
from agnoctl.terminal import choose_mode, live_view, plain_line

FLOW = {
    "version": 1,
    "name": "term",
    "agents": {"a": {"model": "mock/echo"}},
    "steps": {
        "fan": {"agent": "a", "for_each": [1, 2, 3], "prompt": "{{ item }}"},
        "last": {"agent": "a", "needs": ["fan"], "prompt": "done"},
    },
}


def test_choose_mode() -> None:
    pipe = io.StringIO()
    assert choose_mode("auto", quiet=False, stream=pipe) == "plain"
    assert choose_mode("live", quiet=False, stream=pipe) == "live"
    assert choose_mode("plain", quiet=True, stream=pipe) == "quiet"


def test_plain_line_names_the_event_and_its_details() -> None:
    call = LlmCall(
        step="fan",
        item=2,
        attempt=1,
        purpose="task",
        provider="mock",
        model="echo",
        tokens_in=10,
        tokens_out=4,
        cost=0.0012,
        duration_ms=1500.0,
    )
    line = plain_line(Entry(1, "2025-01-31T12:00:01.250Z", "r", call), fan_outs={"fan"})
    assert line == (
        "12:00:01.250 llm_call         fan[2] 1.50s mock/echo 10+4 tok $0.0012 attempt=1"
    )
    step_failed = StepFailed(step="x", error="boom\n  twice", kind="exit_code")
    failed = plain_line(Entry(2, "2025-01-31T12:00:02.000Z", "r", step_failed))
    assert failed.endswith("step_failed      x boom twice")


def test_live_view_shows_counts_and_progress() -> None:
    workflow = Workflow.model_validate(FLOW)
    records = new_records(workflow.steps)
    fan = records["fan"]
    fan.status, fan.started = "running", time.time()
    items = fan.items = FanOut(fan, [0, 1, 2], None, None)
    first = items.take()
    assert first is not None
    first.status = "succeeded"
    items.finish(first)
    state = RunState("rid", "term", Path("."), time.time(), records)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(live_view(state))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "term · 0/2 steps · 1 running" in text
    assert "1/3 · ETA" in text
    assert text.index("fan") < text.index("last")  # file order


def test_live_progress_and_no_color(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(yaml.safe_dump(FLOW), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["run", str(flow), "--progress", "live", "--report-dir", str(tmp_path / "out")],
        env={"NO_COLOR": "1"},
    )
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    assert "│ fan " in result.stdout and "succeeded 3/3" in result.stdout
    assert result.stdout.rstrip().endswith(f"(run dir: {tmp_path / 'out'})")


def test_quiet_prints_only_the_result(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(yaml.safe_dump(FLOW), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", str(flow), "-q", "--report-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("passed: 2 of 2 steps succeeded")
    assert result.stdout.count("\n") == 1


def test_plain_lines_name_the_fallback_provider_and_the_breaker_state(tmp_path: Path) -> None:
    """After a fallback to provider `backup` the line says `backup/small`, as the report does;
    a breaker line names its provider and its state."""
    flow = {
        "version": 1,
        "name": "fallback",
        "providers": {
            "backup": {"type": "mock"},
            "flaky": {"type": "mock", "circuit_breaker": {"failure_threshold": 1}},
        },
        "agents": {
            "a": {"model": "flaky/big", "fallback_models": ["backup/small"]},
        },
        "steps": {"s": {"agent": "a", "prompt": "hi", "retry": {"max_attempts": 1}}},
    }
    fixtures = {"steps": {"s": [{"error": {"status": 500, "message": "down"}}, {"text": "ok"}]}}
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    (tmp_path / "fx.yaml").write_text(yaml.safe_dump(fixtures), encoding="utf-8")
    args = ["run", str(tmp_path / "flow.yaml"), "--mock-fixtures", str(tmp_path / "fx.yaml")]
    result = CliRunner().invoke(
        app, [*args, "--progress", "plain", "--report-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    calls = [line for line in result.stdout.splitlines() if " llm_call " in line]
    assert " flaky/big " in calls[0] and " backup/small " in calls[1]
    [breaker] = [line for line in result.stdout.splitlines() if " breaker_state " in line]
    assert breaker.endswith("breaker_state    flaky closed → open")
    report = (tmp_path / "out" / "report.json").read_text(encoding="utf-8")
    assert '"model": "backup/small"' in report
