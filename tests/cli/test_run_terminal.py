"""What ``agnoctl run`` shows: plain lines, the live view, the summary, NO_COLOR, --quiet."""

from __future__ import annotations

import io
import time
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.engine.state import ItemRecord, RunState, new_records
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
    line = plain_line(
        {
            "ts": "2025-01-31T12:00:01.250Z",
            "type": "llm_call",
            "step": "fan",
            "item": 2,
            "provider": "mock",
            "model": "echo",
            "tokens_in": 10,
            "tokens_out": 4,
            "cost": 0.0012,
            "duration_ms": 1500.0,
            "attempt": 1,
        }
    )
    assert line == (
        "12:00:01.250 llm_call         fan[2] 1.50s mock/echo 10+4 tok $0.0012 attempt=1"
    )
    failed = plain_line(
        {
            "ts": "2025-01-31T12:00:02.000Z",
            "type": "step_failed",
            "step": "x",
            "error": "boom\n  twice",
            "kind": "exit_code",
        }
    )
    assert failed.endswith("step_failed      x boom twice")


def test_live_view_shows_counts_and_progress() -> None:
    workflow = Workflow.model_validate(FLOW)
    records = new_records(workflow.steps)
    fan = records["fan"]
    fan.status, fan.started = "running", time.time()
    fan.items = [ItemRecord(path=f"fan[{i}]", index=i, item=i) for i in range(3)]
    fan.items[0].status = "succeeded"
    state = RunState("rid", "term", Path("."), time.time(), records)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(live_view(state))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "term 0/2 steps" in text and "1 running" in text
    assert "1/3 items" in text
    assert text.index("fan") < text.index("last")  # running steps first


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
