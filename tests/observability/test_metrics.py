"""metrics.prom: parses with prometheus-client's own parser and agrees with report.json."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from typer.testing import CliRunner

from agnoctl.errors import UsageError
from agnoctl.reports.metrics import push_metrics, render_metrics, run_events
from agnoctl.reports.model import RunReport
from agnoctl.session import RunOptions, run_workflow
from agnoctl.testing.fake_llm import start_in_thread
from tests.observability.conftest import (
    SECRET,
    ObsRun,
    ObsRuns,
    Receiver,
    invoke_run,
    journal_entry,
)


def _samples(run: ObsRun) -> dict[str, list[Sample]]:
    text = (run.run_dir / "metrics.prom").read_text(encoding="utf-8")
    by_name: dict[str, list[Sample]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            by_name[sample.name].append(sample)
    return by_name


def _total(samples: list[Sample], **labels: str) -> float:
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_counters_match_report_totals(obs_runs: ObsRuns) -> None:
    samples = _samples(obs_runs.a)
    total = obs_runs.a.report.cost.total
    assert total.calls > 0 and total.cost_usd > 0  # the comparison below means something
    assert _total(samples["agnoctl_llm_calls_total"]) == total.calls
    assert _total(samples["agnoctl_llm_tokens_total"], type="input") == total.tokens_in
    assert _total(samples["agnoctl_llm_tokens_total"], type="output") == total.tokens_out
    assert math.isclose(_total(samples["agnoctl_llm_cost_usd_total"]), total.cost_usd, rel_tol=1e-6)
    assert _total(samples["agnoctl_cache_hits_total"]) == total.cache_hits


def test_counters_match_report_by_step_and_by_model(obs_runs: ObsRuns) -> None:
    samples = _samples(obs_runs.a)
    cost = obs_runs.a.report.cost
    for step, totals in cost.by_step.items():
        assert _total(samples["agnoctl_llm_calls_total"], step=step) == totals.calls
        assert _total(samples["agnoctl_llm_tokens_total"], step=step) == totals.tokens
    for label, totals in cost.by_model.items():
        provider, _, model = label.partition("/")
        calls = _total(samples["agnoctl_llm_calls_total"], provider=provider, model=model)
        assert calls == totals.calls


CACHED = """\
version: 1
name: cached
providers:
  local:
    type: openai
    base_url: "${FAKE_URL}/v1"
    api_key: sk-fake-123456
    pricing: {m: {input: 1, output: 2}}
agents:
  a: {model: local/m}
steps:
  one: {agent: a, prompt: first}
  two: {agent: a, prompt: second, needs: [one]}
"""


def test_cache_hits_are_not_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The mock provider is never cached: a real protocol against the fake server on loopback.
    server = start_in_thread()
    try:
        monkeypatch.setenv("FAKE_URL", server.url)
        workflow = tmp_path / "cached.yaml"
        workflow.write_text(CACHED, encoding="utf-8")
        options = RunOptions(runs_dir=tmp_path / "runs", cache_mode="use", cache_dir=tmp_path / "c")
        first = run_workflow(workflow, options)
        again = run_workflow(workflow, options)
    finally:
        server.stop()
    assert (first.cost.total.calls, first.cost.total.cache_hits) == (2, 0)
    assert (again.cost.total.calls, again.cost.total.cache_hits) == (0, 2)
    run = ObsRun(tmp_path / "runs" / again.run_id, again)
    samples = _samples(run)
    assert _total(samples["agnoctl_cache_hits_total"]) == 2
    assert _total(samples["agnoctl_cache_hits_total"], step="one") == 1
    assert _total(samples["agnoctl_llm_calls_total"]) == 0


def test_a_resumed_run_counts_its_own_session(
    obs_runs: ObsRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBS_API_KEY", SECRET)
    broken = tmp_path / "broken.yaml"
    # Replies that hold no secret: a finished output holding one is made again on resume
    # (its journal copy is masked), which would spend this run's max_llm_calls.
    broken.write_text(
        "steps:\n  collect:\n    items:\n      1: {error: {status: 400}}\n"
        "    default: {text: facts}\n"
    )
    workflow, runs = obs_runs.root / "workflow.yaml", tmp_path / "runs"
    failed = run_workflow(workflow, RunOptions(mock=True, mock_fixtures=broken, runs_dir=runs))
    assert failed.status == "failed"
    options = RunOptions(
        mock=True, mock_fixtures=obs_runs.root / "fixtures-0.9.yaml", runs_dir=runs, resume="latest"
    )
    resumed = run_workflow(workflow, options)
    assert resumed.run_id == failed.run_id and resumed.status == "passed"
    samples = _samples(ObsRun(runs / resumed.run_id, resumed))
    assert _total(samples["agnoctl_llm_calls_total"]) == resumed.segments[-1].calls
    [info] = samples["agnoctl_run_info"]
    assert info.labels["status"] == "passed"
    assert _written_as_read_back(runs / resumed.run_id)


def _written_as_read_back(run_dir: Path) -> bool:
    """Whether the metrics.prom the run wrote from its live tally of events is the one made
    from its report and its journal read back (as a repair makes it)."""
    report = RunReport.model_validate_json((run_dir / "report.json").read_bytes())
    again = render_metrics(report.located(run_dir), run_events(run_dir))
    return (run_dir / "metrics.prom").read_text(encoding="utf-8") == again


def test_a_runs_tally_of_its_events_is_its_journal_read_back(obs_runs: ObsRuns) -> None:
    # Calls answered and one failed (a 503, then retried), with a secret planted in a reply:
    # the tally is told masked entries, the journal holds masked lines.
    samples = _samples(obs_runs.a)
    assert samples["agnoctl_llm_call_errors_total"] and samples["agnoctl_llm_calls_total"]
    assert _written_as_read_back(obs_runs.a.run_dir)
    assert _written_as_read_back(obs_runs.b.run_dir)


def test_latency_histogram_counts_every_call(obs_runs: ObsRuns) -> None:
    samples = _samples(obs_runs.a)
    counts = samples["agnoctl_llm_call_duration_seconds_count"]
    assert _total(counts) == obs_runs.a.report.cost.total.calls
    infinite = [
        s for s in samples["agnoctl_llm_call_duration_seconds_bucket"] if s.labels["le"] == "+Inf"
    ]
    assert _total(infinite) == _total(counts)


def test_retries_attempts_errors_and_gates(obs_runs: ObsRuns) -> None:
    samples = _samples(obs_runs.a)
    # Item 1 of collect was answered 503 once, then retried.
    assert _total(samples["agnoctl_retries_total"], step="collect") == 1
    assert _total(samples["agnoctl_attempts_total"], step="collect", outcome="failed") == 1
    assert _total(samples["agnoctl_attempts_total"], step="collect", outcome="succeeded") == 3
    assert _total(samples["agnoctl_llm_call_errors_total"], reason="unavailable") == 1
    gates = samples["agnoctl_gate_results_total"]
    assert _total(gates, step="score", result="passed") == sum(
        g.passed for g in obs_runs.a.report.steps["score"].gates
    )
    regressed = _samples(obs_runs.b)["agnoctl_gate_results_total"]
    assert _total(regressed, step="score", type="threshold", result="failed", severity="warn") == 1


def test_run_and_budget_gauges(obs_runs: ObsRuns) -> None:
    samples = _samples(obs_runs.a)
    report = obs_runs.a.report
    [info] = samples["agnoctl_run_info"]
    assert info.labels == {"run_id": report.run_id, "workflow": "obs-demo", "status": "passed"}
    assert samples["agnoctl_run_passed"][0].value == 1
    assert samples["agnoctl_run_duration_seconds"][0].value == pytest.approx(
        report.duration_ms / 1000
    )
    assert _total(samples["agnoctl_budget_limit"], limit="max_llm_calls") == 6
    assert (
        _total(samples["agnoctl_budget_used"], limit="max_llm_calls")
        == report.limits["max_llm_calls"].used
    )
    assert _total(samples["agnoctl_steps"], status="succeeded") == 3


def test_breaker_state_from_events(obs_runs: ObsRuns) -> None:
    report = obs_runs.a.report
    lines = [
        {
            "run_id": report.run_id,
            "type": "breaker_state",
            "provider": "local",
            "old": "closed",
            "new": "open",
        },
        {
            "run_id": report.run_id,
            "type": "breaker_state",
            "provider": "local",
            "old": "open",
            "new": "half_open",
        },
        {
            "run_id": "another-run",
            "type": "breaker_state",
            "provider": "local",
            "old": "x",
            "new": "open",
        },
    ]
    events = [journal_entry({"seq": n, **line}) for n, line in enumerate(lines, 1)]
    text = render_metrics(report, events)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    [state] = families["agnoctl_breaker_state"].samples
    assert state.labels == {"provider": "local"} and state.value == 1  # half_open
    transitions = {
        s.labels["state"]: s.value for s in families["agnoctl_breaker_transitions"].samples
    }
    assert transitions == {"open": 1, "half_open": 1}


def test_no_secret_in_metrics(obs_runs: ObsRuns) -> None:
    assert SECRET not in (obs_runs.a.run_dir / "metrics.prom").read_text(encoding="utf-8")


def test_push_to_a_gateway(obs_runs: ObsRuns, receiver: Receiver) -> None:
    report = obs_runs.a.report
    push_metrics(receiver.url, report, run_events(obs_runs.a.run_dir))
    [request] = receiver.requests
    assert request.method == "POST"  # pushadd: replaces only this workflow's group
    assert request.path == "/metrics/job/agnoctl/workflow/obs-demo"
    pushed = {f.name for f in text_string_to_metric_families(request.body.decode())}
    assert {"agnoctl_llm_calls", "agnoctl_run_passed"} <= pushed


def test_push_failure_is_a_clear_error(obs_runs: ObsRuns, receiver: Receiver) -> None:
    receiver.script = [500]
    with pytest.raises(UsageError, match="could not push metrics to"):
        push_metrics(receiver.url, obs_runs.a.report, [])


def test_cli_metrics_push(
    obs_runs: ObsRuns, receiver: Receiver, cli: CliRunner, in_tmp: Path
) -> None:
    result = invoke_run(cli, obs_runs, "-q", "--metrics-push", receiver.url)
    assert result.exit_code == 0, result.output
    [request] = receiver.requests
    assert b"agnoctl_llm_calls_total" in request.body
    assert SECRET.encode() not in request.body


def test_cli_push_failure_warns_but_keeps_the_verdict(
    obs_runs: ObsRuns, cli: CliRunner, in_tmp: Path
) -> None:
    result = invoke_run(cli, obs_runs, "-q", "--metrics-push", "http://127.0.0.1:9")
    assert result.exit_code == 0, result.output
    assert "warning: could not push metrics to http://127.0.0.1:9" in result.stderr
