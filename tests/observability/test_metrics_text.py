"""``metrics.prom`` is written by our own writer: byte for byte what prometheus-client writes
for the same run, label values that need escaping included."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest
from prometheus_client.utils import floatToGoString

from agnoctl.reports.metrics import RunCollector, _go_float, render_metrics, run_events
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
        {**odd, "type": "llm_call", "duration_ms": 40.0, "ttft_ms": 7.5, "tokens_per_s": 80.0},
        {**odd, "type": "llm_call", "error": 'bad "gateway"\n'},
        {**odd, "type": "breaker_state", "new": "open"},
    ]
    events += [journal_entry({"seq": 100 + n, **line}) for n, line in enumerate(lines)]
    text = render_metrics(report, events)
    assert "agnoctl_retries_total" in text and 'le="+Inf"' in text and r"p\"1\\" in text
    assert 'agnoctl_llm_time_to_first_token_seconds_bucket{le="0.01",model="m\\nx"' in text
    assert text == generate_latest(RunCollector(report, events)).decode("utf-8")


@settings(max_examples=400)
@given(st.floats() | st.integers(min_value=-(10**20), max_value=10**20))
def test_values_are_written_as_prometheus_client_writes_them(value: float) -> None:
    """metrics.prom writes a value as prometheus-client does (Go's float formatting), without
    loading prometheus-client: large counts, tiny costs, the infinities and NaN."""
    assert _go_float(value) == floatToGoString(value)


@pytest.mark.parametrize("value", [0, 1, 1e-7, 0.1, 1234567.0, 12345678.9, 1e22, -1e22, 2.5e-300])
def test_the_values_where_go_switches_to_an_exponent(value: float) -> None:
    assert _go_float(value) == floatToGoString(value)
