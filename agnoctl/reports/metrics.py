"""``metrics.prom``: a finished run in the Prometheus text format, and an optional push.

The metrics are built from ``report.json`` and the run's events: a run tallies the few
events they read (model calls, breaker changes) as it emits them (``JournalTally``, told of
those alone), and a run directory's metrics are made again from its ``events.jsonl`` (the
same tally, read back). A run is a batch job, so every value is the run's own:
counters start at zero and end at what the run did. Pushed to a Pushgateway they replace the
previous run's values for the same workflow (``job="agnoctl"``, grouped by ``workflow``), which
is what alerts on batch jobs read (``agnoctl_run_passed == 0``,
``time() - agnoctl_run_finished_timestamp_seconds > 86400``).

Families (labels in braces):

- ``agnoctl_llm_calls_total``, ``agnoctl_llm_tokens_total`` (+ ``type`` input|output),
  ``agnoctl_llm_cost_usd_total``, ``agnoctl_llm_call_duration_seconds`` (histogram):
  {provider, model, step}, from the ``llm_call`` events of calls sent, answered or failed (the
  calls the report and the ``max_llm_calls`` budget count: not cache hits; a judge's calls
  count under the step it judged, as in the report's cost). A failed call adds no tokens.
- ``agnoctl_llm_time_to_first_token_seconds`` (histogram) {provider, model, step}: the
  streamed replies' time to first token (a provider with ``stream: false``, the mock and cache
  hits have none, and no row).
- ``agnoctl_llm_call_errors_total`` {provider, model, step, reason}: the calls that failed,
  among those.
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

A 10,000-step run has a quarter of a million samples (a latency histogram per step). The text
is written here, exactly as prometheus-client's ``generate_latest`` writes it (a test compares
the two byte for byte), in a fraction of its time. prometheus-client itself (with its HTTP
server and exposition modules) is loaded only for ``--metrics-push``: every run writes
metrics.prom, few push it.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agnoctl import events
from agnoctl.engine.budget import Totals
from agnoctl.engine.resume import step_of
from agnoctl.errors import UsageError
from agnoctl.events import Entry, read_events
from agnoctl.reports.model import ExecutionTally, RunReport

if TYPE_CHECKING:
    from prometheus_client.core import Metric

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Upper bounds (seconds) of the model-call latency histogram; +Inf is added."""
PUSH_JOB = "agnoctl"
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

_CallKey = tuple[str, str, str]  # provider, model, step


def session_events(entries: Iterable[Entry], run_id: str) -> list[Entry]:
    """The entries of the run's last session: ``--resume`` appends a new session (from its
    ``run_resumed`` event) to the same journal; the report's last ``segments`` entry is it."""
    own = [entry for entry in entries if entry.run_id == run_id]
    starts = [i for i, e in enumerate(own) if isinstance(e.event, events.SegmentStarted)]
    return own[starts[-1] :] if starts else own


@dataclass(slots=True)
class _Histogram:
    """Observations counted into ``LATENCY_BUCKETS`` as they come: a million calls are a
    few counts, not a million durations."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the last: +Inf only
        self.total += seconds

    def cumulative(self) -> list[int]:
        """The count at or under each bound, then +Inf, as the text format gives them."""
        return list(itertools.accumulate(self.counts))


@dataclass
class _Calls:
    """The model calls of one (provider, model, step): their counts and their latencies."""

    totals: Totals = field(default_factory=Totals)
    latency: _Histogram = field(default_factory=_Histogram)
    ttft: _Histogram | None = None  # the streamed replies' only


class _Family:
    """One metric family as plain data: rendered by ``render_metrics`` directly, and turned
    into prometheus-client's objects only for a push (``RunCollector.collect``).

    A 10,000-step run has a quarter of a million samples; building a prometheus-client
    ``Sample`` (a dict of labels each) for each and escaping every label of every line again
    took seconds. Here a row's label text is escaped once and shared by its samples.
    """

    __slots__ = ("help", "histogram_rows", "kind", "labels", "name", "rows")

    def __init__(self, name: str, kind: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name = name  # without the "_total" a counter's samples carry
        self.kind = kind  # counter | gauge | histogram
        self.help = help
        self.labels = tuple(labels)
        self.rows: list[tuple[tuple[str, ...], float]] = []
        self.histogram_rows: list[tuple[tuple[str, ...], list[int], float]] = []

    def add(self, values: Sequence[str], value: float) -> None:
        self.rows.append((tuple(values), value))

    def add_histogram(self, values: Sequence[str], histogram: _Histogram) -> None:
        """One row of a histogram: cumulative counts per ``LATENCY_BUCKETS`` bound, then +Inf."""
        self.histogram_rows.append((tuple(values), histogram.cumulative(), histogram.total))

    def metric(self) -> Metric:
        """The family as prometheus-client's collector API wants it."""
        # Only a push (``push_metrics``) asks for these.
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        if self.kind == "histogram":
            histogram = HistogramMetricFamily(self.name, self.help, labels=list(self.labels))
            for values, counts, total in self.histogram_rows:
                bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
                buckets = [(b, float(c)) for b, c in zip(bounds, counts, strict=True)]
                histogram.add_metric(list(values), buckets, total)
            return histogram
        family_type = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        family = family_type(self.name, self.help, labels=list(self.labels))
        for values, value in self.rows:
            family.add_metric(list(values), value)
        return family


def _escape_value(value: str) -> str:
    # The text format's escaping of label values (prometheus-client's, for UTF-8 values).
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class _Writer:
    """Writes families in the text format 0.0.4 exactly as prometheus-client's
    ``generate_latest`` does (a test compares the two): HELP and TYPE lines, then every
    sample with its labels sorted by name and its value as Go prints a float."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self._escaped: dict[str, str] = {}  # step names repeat in every family
        self._ints: dict[int, str] = {}  # counts repeat too

    def text(self) -> str:
        return "".join(self.out)

    def family(self, family: _Family) -> None:
        name = family.name + ("_total" if family.kind == "counter" else "")
        help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
        self.out.append(f"# HELP {name} {help_text}\n# TYPE {name} {family.kind}\n")
        order = sorted(range(len(family.labels)), key=family.labels.__getitem__)
        heads = [f'{family.labels[i]}="' for i in order]
        for values, value in family.rows:
            labels = self._labels(heads, [values[i] for i in order])
            braced = f"{{{','.join(labels)}}}" if labels else ""
            self.out.append(f"{name}{braced} {self._number(value)}\n")
        if family.histogram_rows:
            self._histogram(family, order, heads)

    def _histogram(self, family: _Family, order: list[int], heads: list[str]) -> None:
        bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]  # as the push's buckets name them
        # Where `le` sorts among the row's own labels: every bucket line is the row's label
        # text with `le="<bound>"` put in there.
        position = sorted([*family.labels, "le"]).index("le")
        name, out = family.name, self.out
        for values, counts, total in family.histogram_rows:
            labels = self._labels(heads, [values[i] for i in order])
            before = "".join(f"{label}," for label in labels[:position])
            after = "".join(f",{label}" for label in labels[position:])
            braced = f"{{{','.join(labels)}}}" if labels else ""
            head, tail = f'{name}_bucket{{{before}le="', f'"{after}}} '
            for bound, count in zip(bounds, counts, strict=True):
                out.append(f"{head}{bound}{tail}{self._number(count)}\n")
            out.append(f"{name}_count{braced} {self._number(counts[-1])}\n")
            out.append(f"{name}_sum{braced} {self._number(total)}\n")

    def _labels(self, heads: list[str], values: list[str]) -> list[str]:
        escaped = self._escaped
        labels = []
        for head, value in zip(heads, values, strict=True):
            text = escaped.get(value)
            if text is None:
                text = escaped[value] = _escape_value(value)
            labels.append(f'{head}{text}"')
        return labels

    def _number(self, value: float) -> str:
        if type(value) is not int:
            return _go_float(value)
        text = self._ints.get(value)
        if text is None:
            text = self._ints[value] = _go_float(value)
        return text


def _go_float(value: float) -> str:
    """A sample's value as the text format writes it: Go's float formatting, as
    prometheus-client's ``floatToGoString`` gives it (Python's repr, with Go's earlier switch
    to an exponent for large numbers, and Go's names for the infinities and NaN)."""
    number = float(value)
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if math.isnan(number):
        return "NaN"
    text = repr(number)
    dot = text.find(".")
    if number > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


class RunCollector:
    """The metric families of one finished run (a prometheus-client ``Collector`` for a
    push, which only asks it to ``collect``), from its report and its journal: the entries,
    or the run's own ``JournalTally`` of them."""

    def __init__(self, report: RunReport, journal: Iterable[Entry] | JournalTally) -> None:
        tally = journal if isinstance(journal, JournalTally) else JournalTally.of(report, journal)
        self._report = report
        self._calls = tally.calls
        self._errors = tally.errors
        self._breakers = tally.breakers

    def collect(self) -> Iterator[Metric]:
        for family in self.families():
            yield family.metric()

    def families(self) -> list[_Family]:
        return [
            *self._llm_families(),
            self._cache_hits(),
            *self._execution_families(),
            *self._breaker_families(),
            *self._step_families(),
            *self._budget_families(),
            *self._run_families(),
        ]

    def _llm_families(self) -> list[_Family]:
        labels = ["provider", "model", "step"]
        calls = _Family("agnoctl_llm_calls", "counter", "Model calls made.", labels)
        tokens = _Family(
            "agnoctl_llm_tokens", "counter", "Tokens used by model calls.", [*labels, "type"]
        )
        cost = _Family("agnoctl_llm_cost_usd", "counter", "Cost of model calls in USD.", labels)
        latency = _Family(
            "agnoctl_llm_call_duration_seconds", "histogram", "Latency of one model call.", labels
        )
        ttft = _Family(
            "agnoctl_llm_time_to_first_token_seconds",
            "histogram",
            "Seconds from sending a streamed model call to its first text or tool call.",
            labels,
        )
        for key, made in sorted(self._calls.items()):
            totals = made.totals
            calls.add(key, totals.calls)
            tokens.add([*key, "input"], totals.tokens_in)
            tokens.add([*key, "output"], totals.tokens_out)
            cost.add(key, totals.cost_usd)
            latency.add_histogram(key, made.latency)
            if made.ttft is not None:
                ttft.add_histogram(key, made.ttft)
        errors = _Family(
            "agnoctl_llm_call_errors",
            "counter",
            "Model calls that failed, by reason.",
            [*labels, "reason"],
        )
        for error_key, count in sorted(self._errors.items()):
            errors.add(error_key, count)
        return [calls, tokens, cost, latency, ttft, errors]

    def _cache_hits(self) -> _Family:
        family = _Family(
            "agnoctl_cache_hits", "counter", "Replies served from the response cache.", ["step"]
        )
        for step, totals in sorted(self._report.cost.by_step.items()):
            family.add([step], totals.cache_hits)
        return family

    def _tallies(self) -> Iterator[tuple[str, ExecutionTally]]:
        """Every step's tally by its metric label, a loop's iterations before its last
        included (their attempts and gate checks happened too)."""
        for report_step in self._report.all_steps():
            yield step_of(report_step.path), self._report.tally(report_step)
        for earlier in self._report.earlier_iterations():
            tally = ExecutionTally()
            tally.add(earlier)
            tally.add_items(earlier.items or ())
            yield step_of(earlier.path), tally

    def _execution_families(self) -> list[_Family]:
        """Attempts, retries and gate checks of every step and item (``RunReport.tally``: a
        big fan-out's items file is read once for junit.xml and these)."""
        attempts: dict[tuple[str, str], int] = defaultdict(int)
        retries: dict[str, int] = defaultdict(int)
        gates: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
        for step, tally in self._tallies():
            for outcome, count in tally.attempts.items():
                attempts[step, outcome] += count
            if tally.retries:
                retries[step] += tally.retries
            for (name, kind, passed, severity), count in tally.gates.items():
                gates[step, name, kind, "passed" if passed else "failed", severity] += count
        by_outcome = _Family(
            "agnoctl_attempts", "counter", "Attempts of steps and items.", ["step", "outcome"]
        )
        for key, count in sorted(attempts.items()):
            by_outcome.add(key, count)
        retried = _Family(
            "agnoctl_retries", "counter", "Attempts followed by another one.", ["step"]
        )
        for step, count in sorted(retries.items()):
            retried.add([step], count)
        checks = _Family(
            "agnoctl_gate_results",
            "counter",
            "Gate checks, by outcome.",
            ["step", "gate", "type", "result", "severity"],
        )
        for gate_key, count in sorted(gates.items()):
            checks.add(gate_key, count)
        return [by_outcome, retried, checks]

    def _breaker_families(self) -> list[_Family]:
        final: dict[str, str] = {}
        transitions: dict[tuple[str, str], int] = defaultdict(int)
        for event in self._breakers:
            final[event.provider] = event.new
            transitions[event.provider, event.new] += 1
        state_family = _Family(
            "agnoctl_breaker_state",
            "gauge",
            "Circuit breaker state at the end of the run: 0 closed, 1 half_open, 2 open.",
            ["provider"],
        )
        for provider, state in sorted(final.items()):
            state_family.add([provider], BREAKER_STATES.get(state, 0))
        changes = _Family(
            "agnoctl_breaker_transitions",
            "counter",
            "Circuit breaker state changes, by the state entered.",
            ["provider", "state"],
        )
        for key, count in sorted(transitions.items()):
            changes.add(key, count)
        return [state_family, changes]

    def _step_families(self) -> list[_Family]:
        statuses: dict[str, int] = defaultdict(int)
        durations = _Family(
            "agnoctl_step_duration_seconds",
            "gauge",
            "Wall-clock time of each step.",
            ["step", "status"],
        )
        for step in self._report.all_steps():
            statuses[step.status] += 1
            if step.duration_ms is not None and "[" not in step.path:
                durations.add([step.path, step.status], step.duration_ms / 1000)
        counts = _Family("agnoctl_steps", "gauge", "Steps by final status.", ["status"])
        for status, count in sorted(statuses.items()):
            counts.add([status], count)
        return [counts, durations]

    def _budget_families(self) -> list[_Family]:
        used = _Family("agnoctl_budget_used", "gauge", "Use of each limit.", ["limit"])
        limit = _Family("agnoctl_budget_limit", "gauge", "Value of each limit.", ["limit"])
        for name, usage in sorted(self._report.limits.items()):
            used.add([name], usage.used)
            if usage.limit is not None:
                limit.add([name], usage.limit)
        return [used, limit]

    def _run_families(self) -> list[_Family]:
        report = self._report
        info = _Family(
            "agnoctl_run_info",
            "gauge",
            "The run (always 1).",
            ["run_id", "workflow", "status"],
        )
        info.add([report.run_id, report.workflow.name, report.status], 1)
        passed = _Family("agnoctl_run_passed", "gauge", "1 when the run passed, else 0.")
        passed.add((), report.status == "passed")
        duration = _Family("agnoctl_run_duration_seconds", "gauge", "Wall-clock time of the run.")
        duration.add((), report.duration_ms / 1000)
        finished = _Family(
            "agnoctl_run_finished_timestamp_seconds", "gauge", "When the run finished (Unix time)."
        )
        finished.add((), report.finished.timestamp())
        return [info, passed, duration, finished]


def _call_key(call: events.LlmCall) -> _CallKey:
    return call.provider, call.model, step_of(call.step)


class JournalTally:
    """The journal's share of the metrics, one entry at a time, keeping running totals only:
    model calls by key, their errors, and the breakers' state changes. Only the run's last
    session counts (see ``session_events``): a segment's start begins the tally again.

    A run tallies its events as it emits them (``subscription``, told of ``EVENTS`` alone), so
    its metrics.prom does not read the journal back; ``of`` tallies a journal read back.
    """

    EVENTS: tuple[type[events.Event], ...] = (
        events.LlmCall,
        events.BreakerState,
        events.SegmentStarted,
    )

    calls: dict[_CallKey, _Calls]
    errors: dict[tuple[str, str, str, str], int]
    breakers: list[events.BreakerState]

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._begin()

    def _begin(self) -> None:
        self.calls = defaultdict(_Calls)
        self.errors = defaultdict(int)
        self.breakers = []

    @classmethod
    def of(cls, report: RunReport, entries: Iterable[Entry]) -> JournalTally:
        """The tally of a journal's ``entries`` for the run ``report`` is of."""
        tally = cls(report.run_id)
        for entry in entries:
            tally(entry)
        return tally

    def subscription(self) -> events.Subscription:
        """This tally as a listener of the run's events."""
        return events.Subscription(self.EVENTS, self)

    def __call__(self, entry: Entry) -> None:
        event = entry.event
        if entry.run_id != self.run_id:
            return
        if isinstance(event, events.SegmentStarted):
            self._begin()
        elif isinstance(event, events.BreakerState):
            self.breakers.append(event)
        elif isinstance(event, events.LlmCall):
            self._call(event)

    def _call(self, call: events.LlmCall) -> None:
        if call.error is not None:
            self.errors[(*_call_key(call), call.error)] += 1
        if call.cached:
            return  # cache hits are counted in a family of their own
        entry = self.calls[_call_key(call)]
        entry.totals.count(1, 0, call.tokens_in or 0, call.tokens_out or 0, call.cost or 0.0)
        entry.latency.observe(call.duration_ms / 1000)
        if call.ttft_ms is not None:
            if entry.ttft is None:
                entry.ttft = _Histogram()
            entry.ttft.observe(call.ttft_ms / 1000)


def render_metrics(report: RunReport, journal: Iterable[Entry] | JournalTally) -> str:
    """The run's metrics in the Prometheus text exposition format."""
    writer = _Writer()
    for family in RunCollector(report, journal).families():
        writer.family(family)
    return writer.text()


def run_events(run_dir: Path) -> list[Entry]:
    """The journal entries of a run directory, or none when it has no journal."""
    return list(journal(run_dir))


def journal(run_dir: Path) -> Iterator[Entry]:
    """The journal entries of a run directory, read as they are used (none when it has no
    journal)."""
    path = run_dir / "events.jsonl"
    return read_events(path) if path.is_file() else iter(())


def push_metrics(
    gateway: str,
    report: RunReport,
    journal: Iterable[Entry] | JournalTally,
    *,
    timeout: float = 10.0,
) -> None:
    """Push the run's metrics to a Pushgateway (POST: replaces this workflow's previous values).

    Raises ``UsageError`` naming the gateway when it cannot be reached, refuses the push or
    answers with a redirect (``pushgateway.send``).
    """
    from prometheus_client.exposition import pushadd_to_gateway

    from agnoctl.providers.http import shown_address
    from agnoctl.reports import pushgateway

    try:
        pushadd_to_gateway(
            gateway,
            job=PUSH_JOB,
            registry=RunCollector(report, journal),
            grouping_key={"workflow": report.workflow.name},
            timeout=timeout,
            handler=pushgateway.send,
        )
    except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
        raise UsageError(f"could not push metrics to {shown_address(gateway)}: {exc}") from None


__all__ = [
    "LATENCY_BUCKETS",
    "PUSH_JOB",
    "JournalTally",
    "RunCollector",
    "journal",
    "push_metrics",
    "render_metrics",
    "run_events",
    "session_events",
]
