"""Steps that wait for a slot of `limits.max_concurrency`, through the real CLI.

Found by the spec-run pass:
- A step that was waiting for a slot when a limit stopped the run started once the slot came
  free and ran to the end (SPEC "Limits and success": the remaining steps are `skipped:
  budget`); the same steps were skipped when the model answered at once, so whether commands
  ran after the stop depended on how fast the last call came back. Now a task that gets its
  slot after the stop is `skipped: budget`.
- The items of a `for_each` step queued for the run's slots one at a time (as many workers as
  slots), so when an item finished, a lower-priority step that waited took the freed slot
  before the step's next item asked for it: a fan-out of priority 3 ran interleaved with
  steps of priority 1 and 0 (SPEC: `priority`, higher first when concurrency is short). Now
  its items wait for a slot with their step's priority, as a step does.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

STOPPED = """\
version: 1
name: stopped
agents:
  w: {model: mock/echo}
limits: {max_llm_calls: 1, max_concurrency: 1}
steps:
  first: {agent: w, prompt: one, priority: 10}
  second: {agent: w, prompt: two, priority: 9}
  b: {run: [echo, b]}
  c: {run: [echo, c]}
"""

PRIORITIES = """\
version: 1
name: priorities
limits: {max_concurrency: 1}
steps:
  low: {run: [echo, low], priority: 1}
  mid: {run: [echo, mid], priority: 5}
  last: {run: [echo, last]}
  top: {run: [echo, top], priority: 10}
  fan:
    for_each: "[0, 1, 2]"
    priority: 3
    run: [echo, "{{ item }}"]
"""


def _events(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_steps_waiting_for_a_slot_when_a_limit_stops_the_run_are_skipped(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(STOPPED)
    # The first reply takes a while, so the commands are waiting for the slot when the
    # second call is refused.
    (tmp_path / "fixtures.yaml").write_text("agents:\n  w: {text: ok, delay: 30ms}\n")
    done = run_cli("run", "wf.yaml", "-q", "--report-dir", "r", "--mock-fixtures", "fixtures.yaml")
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    statuses = {sid: (s["status"], s["reason"]) for sid, s in report["steps"].items()}
    assert statuses == {
        "first": ("succeeded", None),
        "second": ("skipped", "budget"),
        "b": ("skipped", "budget"),
        "c": ("skipped", "budget"),
    }
    assert report["steps"]["b"]["attempts"] == []
    assert report["reason"].startswith("a limit stopped the run: max_llm_calls 1 reached")
    started = [e["step"] for e in _events(tmp_path / "r") if e["type"] == "step_started"]
    assert started == ["first", "second"]


def test_the_items_of_a_fan_out_keep_its_priority_for_the_run_s_slots(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(PRIORITIES)
    done = run_cli("run", "wf.yaml", "-q", "--report-dir", "r")
    assert done.returncode == 0, done.stderr
    ran = [
        e["step"] if e["type"] == "step_succeeded" else f"fan[{e['item']}]"
        for e in _events(tmp_path / "r")
        if e["type"] == "item_succeeded" or (e["type"] == "step_succeeded" and e["step"] != "fan")
    ]
    assert ran == ["top", "mid", "fan[0]", "fan[1]", "fan[2]", "low", "last"]
