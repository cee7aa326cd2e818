"""OpenTelemetry: spans run -> step -> attempt -> call with GenAI attribute names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agnoctl.errors import UsageError
from agnoctl.reports.metrics import run_events
from agnoctl.reports.otel import INSTALL_HINT, traces_url
from tests.conftest import REPO
from tests.observability.conftest import SECRET, ObsRuns, Receiver, invoke_run

otel = pytest.importorskip(
    "opentelemetry.sdk.trace",
    reason="the otel extra is not installed (pip install '.[otel]'); the test extra has it",
)


def test_span_tree_and_genai_attributes(obs_runs: ObsRuns) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    from agnoctl.reports.otel import export_traces

    exporter = InMemorySpanExporter()
    run = obs_runs.a
    sent = export_traces(None, run.report, run_events(run.run_dir), exporter=exporter)
    spans = exporter.get_finished_spans() or ()
    assert sent > 0
    by_id = {span.context.span_id: span for span in spans}

    def parent(span: object) -> str | None:
        ref = span.parent  # type: ignore[attr-defined]
        return None if ref is None else by_id[ref.span_id].name

    [root] = [s for s in spans if s.parent is None]
    assert root.name == "agnoctl.run obs-demo"
    assert root.attributes["agnoctl.run.id"] == run.report.run_id
    names = {s.name: parent(s) for s in spans}
    assert names["step collect"] == root.name
    assert names["item collect[1]"] == "step collect"
    assert names["step publish"] == root.name
    chats = [s for s in spans if s.name == "chat m"]
    ok = [s for s in chats if s.status.status_code is not StatusCode.ERROR]
    assert len(chats) == run.report.cost.total.calls  # every call sent, answered or failed
    for span in chats:
        assert parent(span) in {"invoke_agent writer", "invoke_agent scorer"}
        assert span.kind is SpanKind.CLIENT
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == "mock"
        assert span.attributes["gen_ai.request.model"] == "m"
        outer = by_id[span.parent.span_id]  # type: ignore[union-attr]
        assert outer.start_time <= span.start_time <= span.end_time <= outer.end_time
    assert (
        sum(s.attributes["gen_ai.usage.input_tokens"] for s in ok)
        == run.report.cost.total.tokens_in
    )
    assert (
        sum(s.attributes["gen_ai.usage.output_tokens"] for s in ok)
        == run.report.cost.total.tokens_out
    )
    # The 503 on collect[1]: a failed call inside a failed attempt, then a retry.
    failed = [s for s in chats if s.status.status_code is StatusCode.ERROR]
    assert [s.attributes["error.type"] for s in failed] == ["unavailable"]
    attempts = [s for s in spans if parent(s) == "item collect[1]"]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.UNSET]
    assert all(SECRET not in str(dict(s.attributes or {})) for s in spans)


def test_cli_exports_to_a_collector(
    obs_runs: ObsRuns, receiver: Receiver, cli: CliRunner, in_tmp: Path
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    result = invoke_run(cli, obs_runs, "-q", "--otlp-endpoint", receiver.url)
    assert result.exit_code == 0, result.output
    [request] = receiver.requests
    assert request.path == "/v1/traces"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert SECRET.encode() not in request.body
    exported = ExportTraceServiceRequest.FromString(request.body)
    spans = [s for r in exported.resource_spans for scope in r.scope_spans for s in scope.spans]
    calls = [s for s in spans if s.name == "chat m"]
    keys = {a.key for s in calls for a in s.attributes}
    assert {"gen_ai.usage.input_tokens", "gen_ai.provider.name", "gen_ai.request.model"} <= keys
    assert any(s.name == "agnoctl.run obs-demo" for s in spans)


def test_traces_url() -> None:
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("https://c.example/otlp/v1/traces") == "https://c.example/otlp/v1/traces"
    with pytest.raises(UsageError, match="not an http"):
        traces_url("127.0.0.1:4318")


def test_missing_extra_fails_closed_before_the_run(obs_runs: ObsRuns, tmp_path: Path) -> None:
    # A Python where `opentelemetry` cannot be imported, as without the extra.
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from agnoctl.cli import main; sys.argv = ['agnoctl', *sys.argv[1:]]; main()"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "run",
            str(obs_runs.root / "workflow.yaml"),
            "--mock",
            "--report-dir",
            str(tmp_path),
            "--otlp-endpoint",
            "http://127.0.0.1:4318",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "OBS_API_KEY": SECRET},
    )
    assert result.returncode == 2
    assert f"needs OpenTelemetry, which is not installed: {INSTALL_HINT}" in result.stderr
    assert not (tmp_path / "report.json").exists()


def test_no_import_cost_without_the_flag() -> None:
    code = (
        "import sys\n"
        "import agnoctl.cli, agnoctl.session\n"
        "assert 'opentelemetry' not in sys.modules, 'imported opentelemetry'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
