"""``metrics.prom``: a finished run in the Prometheus text format, and an optional push.

The metrics are built after the run from ``report.json`` and ``events.jsonl``, so measuring
costs the run nothing while it runs. A run is a batch job, so every value is the run's own:
counters start at zero and end at what the run did. Pushed to a Pushgateway they replace the
previous run's values for the same workflow (``job="agnoctl"``, grouped by ``workflow``), which
is what alerts on batch jobs read (``agnoctl_run_passed == 0``,
``time() - agnoctl_run_finished_timestamp_seconds > 86400``).

Families (labels in braces):

- ``agnoctl_llm_calls_total``, ``agnoctl_llm_tokens_total`` (+ ``type`` input|output),
  ``agnoctl_llm_cost_usd_total``, ``agnoctl_llm_call_duration_seconds`` (histogram):
  {provider, model, step}, from the ``llm_call`` events of calls a provider answered (the
  calls the report counts: not cache hits, not failures; a judge's calls count under the step
  it judged, as in the report's cost).
- ``agnoctl_llm_call_errors_total`` {provider, model, step, reason}: calls that failed.
- ``agnoctl_cache_hits_total`` {step}: replies served from the response cache.
- ``agnoctl_attempts_total`` {step, outcome}, ``agnoctl_retries_total`` {step}.
- ``agnoctl_gate_results_total`` {step, gate, type, result, severity}.
- ``agnoctl_breaker_state`` {provider} (0 closed, 1 half_open, 2 open, as the run left it),
  ``agnoctl_breaker_transitions_total`` {provider, state}.
- ``agnoctl_steps`` {status}, ``agnoctl_step_duration_seconds`` {step, status}.
- ``agnoctl_budget_used`` / ``agnoctl_budget_limit`` {limit}.
- ``agnoctl_run_info`` {run_id, workflow, status} (always 1), ``agnoctl_run_passed``,
  ``agnoctl_run_duration_seconds``, ``agnoctl_run_finished_timestamp_seconds``.

``step`` is a step's path in the workflow (``group.child``): for_each items add up under their
step, as they do in the report's ``cost.by_step``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest, pushadd_to_gateway
from prometheus_client.registry import Collector

from agnoctl.errors import UsageError
from agnoctl.events import read_events
from agnoctl.reports.model import AttemptReport, GateReport, RunReport

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Upper bounds (seconds) of the model-call latency histogram; +Inf is added."""
PUSH_JOB = "agnoctl"
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
_ITEM_INDEX = re.compile(r"\[\d+\]")

_CallKey = tuple[str, str, str]  # provider, model, step


def session_events(events: Iterable[Mapping[str, Any]], run_id: str) -> list[Mapping[str, Any]]:
    """The events of the run's last session: ``--resume`` appends a new session (from its
    ``run_resumed`` event) to the same journal, and the report counts that session only."""
    own = [event for event in events if event.get("run_id") == run_id]
    starts = [i for i, e in enumerate(own) if e.get("type") in ("run_started", "run_resumed")]
    return own[starts[-1] :] if starts else own


def step_of(path: str) -> str:
    """The workflow step a run path belongs to: ``fan[2].child`` -> ``fan.child``."""
    return _ITEM_INDEX.sub("", path)


@dataclass
class _Calls:
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    durations: list[float] = field(default_factory=list)


class RunCollector(Collector):
    """The metric families of one finished run."""

    def __init__(self, report: RunReport, events: Iterable[Mapping[str, Any]]) -> None:
        own = session_events(events, report.run_id)
        self._report = report
        self._calls = _calls(own)
        self._errors = _errors(own)
        self._breakers = [e for e in own if e.get("type") == "breaker_state"]

    def collect(self) -> Iterator[Metric]:
        yield from self._llm_families()
        yield self._cache_hits()
        yield from self._attempt_families()
        yield self._gates()
        yield from self._breaker_families()
        yield from self._step_families()
        yield from self._budget_families()
        yield from self._run_families()

    def _llm_families(self) -> Iterator[Metric]:
        labels = ["provider", "model", "step"]
        calls = CounterMetricFamily("agnoctl_llm_calls", "Model calls made.", labels=labels)
        tokens = CounterMetricFamily(
            "agnoctl_llm_tokens", "Tokens used by model calls.", labels=[*labels, "type"]
        )
        cost = CounterMetricFamily(
            "agnoctl_llm_cost_usd", "Cost of model calls in USD.", labels=labels
        )
        latency = HistogramMetricFamily(
            "agnoctl_llm_call_duration_seconds", "Latency of one model call.", labels=labels
        )
        for key, totals in sorted(self._calls.items()):
            values = list(key)
            calls.add_metric(values, totals.calls)
            tokens.add_metric([*values, "input"], totals.tokens_in)
            tokens.add_metric([*values, "output"], totals.tokens_out)
            cost.add_metric(values, totals.cost)
            latency.add_metric(values, _buckets(totals.durations), sum(totals.durations))
        errors = CounterMetricFamily(
            "agnoctl_llm_call_errors",
            "Model calls that failed, by reason.",
            labels=[*labels, "reason"],
        )
        for error_key, count in sorted(self._errors.items()):
            errors.add_metric(list(error_key), count)
        yield from (calls, tokens, cost, latency, errors)

    def _cache_hits(self) -> Metric:
        family = CounterMetricFamily(
            "agnoctl_cache_hits", "Replies served from the response cache.", labels=["step"]
        )
        for step, totals in sorted(self._report.cost.by_step.items()):
            family.add_metric([step], totals.cache_hits)
        return family

    def _attempt_families(self) -> Iterator[Metric]:
        attempts: dict[tuple[str, str], int] = defaultdict(int)
        retries: dict[str, int] = defaultdict(int)
        for path, attempt in _attempts(self._report):
            step = step_of(path)
            attempts[step, "failed" if attempt.error is not None else "succeeded"] += 1
            if attempt.delay is not None:
                retries[step] += 1
        by_outcome = CounterMetricFamily(
            "agnoctl_attempts", "Attempts of steps and items.", labels=["step", "outcome"]
        )
        for key, count in sorted(attempts.items()):
            by_outcome.add_metric(list(key), count)
        retried = CounterMetricFamily(
            "agnoctl_retries", "Attempts followed by another one.", labels=["step"]
        )
        for step, count in sorted(retries.items()):
            retried.add_metric([step], count)
        yield from (by_outcome, retried)

    def _gates(self) -> Metric:
        counts: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
        for path, gate in _gates(self._report):
            result = "passed" if gate.passed else "failed"
            counts[step_of(path), gate.name, gate.type, result, gate.severity] += 1
        family = CounterMetricFamily(
            "agnoctl_gate_results",
            "Gate checks, by outcome.",
            labels=["step", "gate", "type", "result", "severity"],
        )
        for key, count in sorted(counts.items()):
            family.add_metric(list(key), count)
        return family

    def _breaker_families(self) -> Iterator[Metric]:
        final: dict[str, str] = {}
        transitions: dict[tuple[str, str], int] = defaultdict(int)
        for event in self._breakers:
            provider, state = str(event.get("provider")), str(event.get("new"))
            final[provider] = state
            transitions[provider, state] += 1
        state_family = GaugeMetricFamily(
            "agnoctl_breaker_state",
            "Circuit breaker state at the end of the run: 0 closed, 1 half_open, 2 open.",
            labels=["provider"],
        )
        for provider, state in sorted(final.items()):
            state_family.add_metric([provider], BREAKER_STATES.get(state, 0))
        changes = CounterMetricFamily(
            "agnoctl_breaker_transitions",
            "Circuit breaker state changes, by the state entered.",
            labels=["provider", "state"],
        )
        for key, count in sorted(transitions.items()):
            changes.add_metric(list(key), count)
        yield from (state_family, changes)

    def _step_families(self) -> Iterator[Metric]:
        statuses: dict[str, int] = defaultdict(int)
        durations = GaugeMetricFamily(
            "agnoctl_step_duration_seconds",
            "Wall-clock time of each step.",
            labels=["step", "status"],
        )
        for step in self._report.all_steps():
            statuses[step.status] += 1
            if step.duration_ms is not None and "[" not in step.path:
                durations.add_metric([step.path, step.status], step.duration_ms / 1000)
        counts = GaugeMetricFamily("agnoctl_steps", "Steps by final status.", labels=["status"])
        for status, count in sorted(statuses.items()):
            counts.add_metric([status], count)
        yield from (counts, durations)

    def _budget_families(self) -> Iterator[Metric]:
        used = GaugeMetricFamily("agnoctl_budget_used", "Use of each limit.", labels=["limit"])
        limit = GaugeMetricFamily("agnoctl_budget_limit", "Value of each limit.", labels=["limit"])
        for name, usage in sorted(self._report.limits.items()):
            used.add_metric([name], usage.used)
            if usage.limit is not None:
                limit.add_metric([name], usage.limit)
        yield from (used, limit)

    def _run_families(self) -> Iterator[Metric]:
        report = self._report
        info = GaugeMetricFamily(
            "agnoctl_run_info", "The run (always 1).", labels=["run_id", "workflow", "status"]
        )
        info.add_metric([report.run_id, report.workflow.name, report.status], 1)
        yield info
        yield GaugeMetricFamily(
            "agnoctl_run_passed", "1 when the run passed, else 0.", value=report.status == "passed"
        )
        yield GaugeMetricFamily(
            "agnoctl_run_duration_seconds", "Wall-clock time of the run.", report.duration_ms / 1000
        )
        yield GaugeMetricFamily(
            "agnoctl_run_finished_timestamp_seconds",
            "When the run finished (Unix time).",
            report.finished.timestamp(),
        )


def _call_key(event: Mapping[str, Any]) -> _CallKey:
    return str(event.get("provider")), str(event.get("model")), step_of(str(event.get("step")))


def _calls(events: Iterable[Mapping[str, Any]]) -> dict[_CallKey, _Calls]:
    totals: dict[_CallKey, _Calls] = defaultdict(_Calls)
    for event in events:
        if event.get("type") != "llm_call" or "error" in event or event.get("cached"):
            continue  # failed calls and cache hits are counted in families of their own
        entry = totals[_call_key(event)]
        entry.calls += 1
        entry.tokens_in += int(event.get("tokens_in") or 0)
        entry.tokens_out += int(event.get("tokens_out") or 0)
        entry.cost += float(event.get("cost") or 0.0)
        entry.durations.append(float(event.get("duration_ms") or 0.0) / 1000)
    return totals


def _errors(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str, str], int]:
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for event in events:
        if event.get("type") == "llm_call" and "error" in event:
            counts[(*_call_key(event), str(event["error"]))] += 1
    return counts


def _buckets(durations: list[float]) -> list[tuple[str, float]]:
    buckets = [
        (repr(bound), float(sum(d <= bound for d in durations))) for bound in LATENCY_BUCKETS
    ]
    return [*buckets, ("+Inf", float(len(durations)))]


def _attempts(report: RunReport) -> Iterator[tuple[str, AttemptReport]]:
    for step in report.all_steps():
        for attempt in step.attempts:
            yield step.path, attempt
        for item in step.items or ():
            for attempt in item.attempts:
                yield step.path, attempt


def _gates(report: RunReport) -> Iterator[tuple[str, GateReport]]:
    for step in report.all_steps():
        for gate in step.gates:
            yield step.path, gate
        for item in step.items or ():
            for gate in item.gates:
                yield step.path, gate


def render_metrics(report: RunReport, events: Iterable[Mapping[str, Any]]) -> str:
    """The run's metrics in the Prometheus text exposition format."""
    return generate_latest(RunCollector(report, events)).decode("utf-8")


def run_events(run_dir: Path) -> list[Mapping[str, Any]]:
    """The events of a run directory, or none when it has no journal."""
    path = run_dir / "events.jsonl"
    return list(read_events(path)) if path.is_file() else []


def push_metrics(
    gateway: str,
    report: RunReport,
    events: Iterable[Mapping[str, Any]],
    *,
    timeout: float = 10.0,
) -> None:
    """Push the run's metrics to a Pushgateway (POST: replaces this workflow's previous values).

    Raises ``UsageError`` naming the gateway when it cannot be reached or refuses the push.
    """
    try:
        pushadd_to_gateway(
            gateway,
            job=PUSH_JOB,
            registry=RunCollector(report, events),
            grouping_key={"workflow": report.workflow.name},
            timeout=timeout,
        )
    except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
        raise UsageError(f"could not push metrics to {gateway}: {exc}") from None


__all__ = [
    "LATENCY_BUCKETS",
    "PUSH_JOB",
    "RunCollector",
    "push_metrics",
    "render_metrics",
    "run_events",
    "session_events",
    "step_of",
]
