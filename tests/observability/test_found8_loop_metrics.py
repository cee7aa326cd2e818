"""metrics.prom counts the attempts and gate checks of every loop iteration, as events.jsonl
and its own model-call counters do.

Found by cross-checking a run directory's files (the reports pass): a loop group whose child
ran three times (three model calls, three gate checks in the journal) gave
``agnoctl_llm_calls_total 3`` beside ``agnoctl_attempts_total 1`` and
``agnoctl_gate_results_total 1``: the attempt and gate counters read the group's children as
the last iteration left them, not the iterations before it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: loopy
agents:
  a: {model: mock/echo}
steps:
  outer:
    loop: {max_iterations: 2, until: "false"}
    steps:
      lp:
        loop: {max_iterations: 3, until: "false"}
        steps:
          x:
            agent: a
            prompt: "draft {{ loop.iteration }}"
            gates: [{type: length, max: 3}]
            on_gate_failure: warn
"""


def _sample(metrics: str, name: str) -> float:
    [line] = [line for line in metrics.splitlines() if line.startswith(name + "{")]
    return float(line.rsplit(" ", 1)[1])


def test_loop_iterations_attempts_and_gates_are_all_counted(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    events = [
        json.loads(line)
        for line in (tmp_path / "r/events.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    calls = sum(event["type"] == "llm_call" for event in events)
    checks = sum(event["type"] == "gate_result" for event in events)
    assert calls == checks == 6  # two outer passes of three inner ones
    metrics = (tmp_path / "r/metrics.prom").read_text(encoding="utf-8")
    assert _sample(metrics, "agnoctl_llm_calls_total") == calls
    assert _sample(metrics, "agnoctl_attempts_total") == calls
    assert _sample(metrics, "agnoctl_gate_results_total") == checks
