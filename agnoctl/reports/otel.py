"""OpenTelemetry traces of a finished run (``--otlp-endpoint``; the ``otel`` extra).

The spans are built after the run from ``report.json`` and ``events.jsonl``, with the times they
recorded, so tracing costs the run nothing while it runs and a trace is complete even when the
collector was down during the run. The tree:

    agnoctl.run <workflow>                      the run
    └── step <path>                             each step; group children nest under the group
        ├── item <path>[<index>]                for_each items
        └── invoke_agent <agent> | attempt <n>  each attempt of an agent or command step
            └── chat <model>                    each model call (``llm_call`` events), CLIENT

Model calls follow the OpenTelemetry GenAI semantic conventions: span name
``{gen_ai.operation.name} {gen_ai.request.model}``, ``gen_ai.operation.name`` (``chat``,
``invoke_agent``), ``gen_ai.provider.name`` (and the older ``gen_ai.system``, still what many
backends read), ``gen_ai.request.model``, ``gen_ai.response.model``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens`` and ``gen_ai.agent.name``.
agnoctl's own attributes are under ``agnoctl.*`` (run id, step path, status, cost).

The SDK is imported only by this module, which only ``--otlp-endpoint`` imports: without the
extra installed, ``require_otel`` fails before the run starts (fail closed) and nothing else
pays for it. Headers the collector needs (an API key) come from the exporter's own
``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` environment variables.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agnoctl.errors import UsageError
from agnoctl.events import Entry, LlmCall
from agnoctl.providers.http import shown_address
from agnoctl.reports.metrics import session_events
from agnoctl.reports.model import AttemptReport, ItemReport, RunReport, StepReport
from agnoctl.version import __version__

if TYPE_CHECKING:
    import requests
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

# The extra's packages, not `agnoctl[otel]`: PyPI's `agnoctl` is another project.
INSTALL_HINT = (
    "pip install 'opentelemetry-sdk>=1.25' 'opentelemetry-exporter-otlp-proto-http>=1.25' "
    "(agnoctl's otel extra)"
)
TRACES_PATH = "/v1/traces"
_SLACK = timedelta(milliseconds=2)  # event times are kept to the millisecond

_AttemptKey = tuple[str, int | None, int]  # step path, item index, attempt number


def require_otel() -> None:
    """Fail with a clear message when the ``otel`` extra is not installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise UsageError(
            f"--otlp-endpoint needs OpenTelemetry, which is not installed: {INSTALL_HINT}"
        ) from None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: ``http://host:4318`` gets ``/v1/traces``; a full URL stays."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"--otlp-endpoint {endpoint!r} is not an http(s) URL; use e.g. http://127.0.0.1:4318"
        )
    return endpoint if parts.path.strip("/") else endpoint.rstrip("/") + TRACES_PATH


def export_traces(
    endpoint: str | None,
    report: RunReport,
    entries: Iterable[Entry],
    *,
    exporter: SpanExporter | None = None,
) -> int:
    """Build the run's spans and export them; returns how many were sent.

    ``exporter`` replaces the OTLP/HTTP exporter to ``endpoint`` (tests pass an in-memory one).
    Raises ``UsageError`` when the collector does not accept them.
    """
    require_otel()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    redirect = _Redirect()
    if exporter is None:
        if endpoint is None:
            raise UsageError("no OTLP endpoint given")
        exporter = OTLPSpanExporter(
            endpoint=traces_url(endpoint), timeout=10, session=redirect.refusing_session()
        )
    spans = build_spans(report, entries)
    _quiet_exporter()
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise UsageError(
            f"the OTLP collector at {shown_address(endpoint or '')} did not accept the run's "
            f"traces{redirect.said}"
        )
    return len(spans)


def _quiet_exporter() -> None:
    """Keep the exporter's own log lines off stderr: each failed try is logged quoting the
    URL with its query (which may hold a token) and the collector's words, unmasked and
    unescaped; the warning of ``export_traces`` says what failed instead."""
    logger = logging.getLogger("opentelemetry.exporter.otlp")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


class _Redirect:
    """What a collector answered with a redirect. The exporter follows none, yet counts a 3xx
    as delivered: an http:// endpoint that redirects to https:// (a common mistake) would lose
    every trace without a word. Like a provider's or a webhook's, a redirect is not followed:
    the export fails, naming where the collector sent it."""

    def __init__(self) -> None:
        self.answer: str | None = None

    @property
    def said(self) -> str:
        """The redirect, as the end of the export's warning ("" when there was none)."""
        return f": {self.answer}" if self.answer is not None else ""

    def refusing_session(self) -> requests.Session:
        """A session of ``requests`` (the exporter's HTTP library) that fails on a redirect and
        reads no reply's body (``_unread``)."""
        import requests

        session = requests.Session()
        session.hooks["response"] += [self._check, _unread]
        return session

    def _check(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        status = response.status_code
        if 300 <= status <= 399:
            location = response.headers.get("location")
            to = f" to {location!r}" if location else ""
            self.answer = (
                f"it answered HTTP {status}, a redirect{to} (not followed: give the "
                "collector's own URL)"
            )
            raise _Redirected(self.answer)


def _unread(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Close a collector's reply before its body is read: its status is the answer, and the
    exporter would read the body whole, decompressed (a 3 MB gzip reply that decodes to 3 GB
    took a minute and 6.2 GB of memory), for as long as it kept coming."""
    response.close()


class _Redirected(Exception):
    """Raised in the exporter's request, which it then counts as a failed export."""


def build_spans(report: RunReport, entries: Iterable[Entry]) -> list[ReadableSpan]:
    """The run's spans, finished, parents before children."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "agnoctl", "service.version": __version__})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    own = session_events(entries, report.run_id)
    calls = [(entry.ts, entry.event) for entry in own if isinstance(entry.event, LlmCall)]
    _Builder(provider.get_tracer("agnoctl", __version__), report, calls).build()
    provider.shutdown()
    finished = memory.get_finished_spans()
    # Parents first: by start, and at the same start the longer (enclosing) span first.
    return sorted(finished, key=lambda span: (span.start_time or 0, -(span.end_time or 0)))


@dataclass
class _Open:
    """An attempt span, kept open until the calls inside it are added."""

    span: Span
    start: datetime
    end: datetime


class _Builder:
    def __init__(
        self, tracer: Tracer, report: RunReport, calls: Sequence[tuple[str, LlmCall]]
    ) -> None:
        self.tracer = tracer
        self.report = report
        self.calls = calls
        self.attempts: dict[_AttemptKey, list[_Open]] = defaultdict(list)
        self.executions: dict[tuple[str, int | None], Span] = {}
        self.ends: dict[int, int] = {}  # id(span) -> end time (ns), applied once all is built

    def build(self) -> None:
        from opentelemetry import trace

        report = self.report
        root = self.tracer.start_span(
            f"agnoctl.run {report.workflow.name}",
            start_time=_ns(report.started),
            attributes={
                "agnoctl.run.id": report.run_id,
                "agnoctl.workflow": report.workflow.name,
                "agnoctl.run.status": report.status,
                "agnoctl.cost_usd": report.cost.total.cost_usd,
                "gen_ai.usage.input_tokens": report.cost.total.tokens_in,
                "gen_ai.usage.output_tokens": report.cost.total.tokens_out,
            },
        )
        _set_status(root, report.status != "passed", report.reason)
        context = trace.set_span_in_context(root)
        for step in report.steps.values():
            self._step(step, context)
        for ts, call in self.calls:
            self._call(ts, call, root)
        for opened in (o for group in self.attempts.values() for o in group):
            opened.span.end(end_time=_ns(opened.end))
        for span in self.executions.values():
            span.end(end_time=self.ends[id(span)])
        root.end(end_time=_ns(report.finished))

    def _step(self, step: StepReport, parent: Any) -> None:
        span = self._execution(f"step {step.path}", step, step.path, None, parent)
        if span is None:
            return
        self.executions[step.path, None] = span
        from opentelemetry import trace

        context = trace.set_span_in_context(span)
        for item in self.report.items_of(step):
            item_span = self._execution(
                f"item {step.path}[{item.index}]", item, step.path, item.index, context
            )
            if item_span is not None:
                self.executions[step.path, item.index] = item_span
        for child in (step.steps or {}).values():
            self._step(child, context)

    def _execution(
        self,
        name: str,
        execution: StepReport | ItemReport,
        path: str,
        index: int | None,
        parent: Any,
    ) -> Span | None:
        if execution.started is None:  # skipped before it started: nothing to time
            return None
        from opentelemetry import trace

        attributes: dict[str, Any] = {
            "agnoctl.step.path": path,
            "agnoctl.step.status": execution.status,
            "agnoctl.cost_usd": execution.cost_usd,
        }
        if index is not None:
            attributes["agnoctl.item.index"] = index
        if execution.model:
            attributes["gen_ai.request.model"] = execution.model.partition("/")[2]
        span = self.tracer.start_span(
            name, context=parent, start_time=_ns(execution.started), attributes=attributes
        )
        error = execution.error.message if execution.error else None
        _set_status(span, execution.status == "failed", error or execution.status)
        self.ends[id(span)] = _ns(execution.finished or execution.started)
        context = trace.set_span_in_context(span)
        for attempt in execution.attempts:
            self._attempt(attempt, path, index, context)
        return span

    def _attempt(self, attempt: AttemptReport, path: str, index: int | None, parent: Any) -> None:
        agent = self._agent(path, index, attempt.number)
        name = f"invoke_agent {agent}" if agent else f"attempt {attempt.number}"
        attributes: dict[str, Any] = {
            "agnoctl.step.path": path,
            "agnoctl.attempt": attempt.number,
            "agnoctl.cost_usd": attempt.cost_usd,
        }
        if agent:
            attributes["gen_ai.operation.name"] = "invoke_agent"
            attributes["gen_ai.agent.name"] = agent
        if attempt.delay is not None:
            attributes["agnoctl.retry_delay_s"] = attempt.delay
        span = self.tracer.start_span(
            name, context=parent, start_time=_ns(attempt.started), attributes=attributes
        )
        if attempt.error is not None:
            _set_status(span, True, f"{attempt.error.kind}: {attempt.error.message}")
            span.set_attribute("error.type", attempt.error.kind)
        end = attempt.finished or attempt.started
        self.attempts[path, index, attempt.number].append(_Open(span, attempt.started, end))

    def _agent(self, path: str, index: int | None, number: int) -> str | None:
        for _, call in self.calls:
            if (call.step, call.item, call.attempt) == (path, index, number):
                return call.agent or None
        return None

    def _call(self, ts: str, call: LlmCall, root: Span) -> None:
        """A model call's span; the call's event was written when it ended, at ``ts``."""
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        end = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        start = end - timedelta(milliseconds=call.duration_ms)
        path, index = call.step, call.item
        opened = self._attempt_of(path, index, call.attempt, end)
        if opened is not None:
            # Event times are cut to the millisecond: keep the call inside its attempt.
            duration = end - start
            start = min(max(start, opened.start), opened.end)
            end = min(max(end, start + duration), opened.end)
            parent = opened.span
        else:
            parent = self.executions.get((path, index), root)
        model, provider = call.model, call.provider
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.system": provider,
            "gen_ai.request.model": model,
            "gen_ai.response.model": model,
            "gen_ai.usage.input_tokens": call.tokens_in or 0,
            "gen_ai.usage.output_tokens": call.tokens_out or 0,
            "agnoctl.step.path": path,
            "agnoctl.cost_usd": call.cost or 0.0,
        }
        if call.agent:
            attributes["gen_ai.agent.name"] = call.agent
        if call.purpose:
            attributes["agnoctl.call.purpose"] = call.purpose
        if call.cached:
            attributes["agnoctl.cache_hit"] = True
        span = self.tracer.start_span(
            f"chat {model}",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.CLIENT,
            start_time=_ns(start),
            attributes=attributes,
        )
        if call.error is not None:  # the call got no reply
            span.set_attribute("error.type", call.error)
            _set_status(span, True, call.error)
        span.end(end_time=_ns(end))

    def _attempt_of(self, path: str, index: int | None, number: int, at: datetime) -> _Open | None:
        """The attempt the call happened in (a loop runs the same attempt number again)."""
        for opened in self.attempts.get((path, index, number), ()):
            if opened.start - _SLACK <= at <= opened.end + _SLACK:
                return opened
        return None


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _set_status(span: Span, failed: bool, description: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    if failed:
        span.set_status(Status(StatusCode.ERROR, description[:500]))


__all__ = ["INSTALL_HINT", "build_spans", "export_traces", "require_otel", "traces_url"]
