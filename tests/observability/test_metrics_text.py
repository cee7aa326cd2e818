"""``metrics.prom`` is written by our own writer: byte for byte what prometheus-client writes
for the same run, label values that need escaping included."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.exposition import generate_latest

from agnoctl.reports.metrics import RunCollector, render_metrics, run_events
from agnoctl.session import RunOptions, run_workflow
from tests.observability.conftest import journal_entry

FIXTURES = """\
steps:
  fan:
    items:
      1: [{error: {status: 503, message: busy}}, {text: ok}]
  judged: {json: {score: 0.4}}
"""
WORKFLOW = """\
version: 1
name: metrics-demo
agents:
  w: {model: mock/echo}
  s:
    model: mock/echo
    output_schema: {type: object, properties: {score: {type: number}}}
defaults:
  retry: {max_attempts: 2, initial_delay: 1ms, max_delay: 2ms}
steps:
  fan: {agent: w, for_each: [a, b, c], prompt: "{{ item }}"}
  judged:
    agent: s
    needs: [fan]
    prompt: score
    gates: [{type: threshold, field: score, min: 0.5}]
    on_gate_failure: warn
"""


def test_metrics_text_is_what_prometheus_client_writes(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "f.yaml").write_text(FIXTURES, encoding="utf-8")
    report = run_workflow(
        tmp_path / "w.yaml",
        RunOptions(report_dir=tmp_path / "run", mock_fixtures=tmp_path / "f.yaml"),
    )
    events = run_events(tmp_path / "run")
    # Label values the text format must escape, in every family that reads events.
    odd = {"provider": 'p"1\\', "model": "m\nx", "step": "fan", "run_id": report.run_id}
    lines = [
        {**odd, "type": "llm_call", "duration_ms": 12.5, "tokens_in": 3, "cost": 1e-7},
        {**odd, "type": "llm_call", "error": 'bad "gateway"\n'},
        {**odd, "type": "breaker_state", "new": "open"},
    ]
    events += [journal_entry({"seq": 100 + n, **line}) for n, line in enumerate(lines)]
    text = render_metrics(report, events)
    assert "agnoctl_retries_total" in text and 'le="+Inf"' in text and r"p\"1\\" in text
    assert text == generate_latest(RunCollector(report, events)).decode("utf-8")
