"""A collector that answers ``--otlp-endpoint`` with a redirect, through the real CLI.

Found by trying it: the OTLP exporter follows no redirect but counts a 3xx as delivered, so an
``http://`` endpoint that redirects to ``https://`` (or a moved collector) lost every trace of
the run without a word. Now the export fails like any refused one: a warning naming the
redirect, the run's verdict and exit code unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.observability.conftest import Receiver

pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")

WORKFLOW = """\
version: 1
name: traced
agents:
  a: {model: mock/echo}
steps:
  s: {agent: a, prompt: hello}
"""


@pytest.mark.parametrize("status", [301, 307, 308])
def test_a_redirect_is_a_warning_not_a_delivery(
    run_cli: RunCli, tmp_path: Path, receiver: Receiver, status: int
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    receiver.script.append(status)
    result = run_cli("run", "wf.yaml", "-q", "--otlp-endpoint", receiver.url)
    assert result.returncode == 0, result.stderr
    assert [r.path for r in receiver.requests] == ["/v1/traces"]  # tried once, not followed
    assert (
        f"warning: the OTLP collector at {receiver.url} did not accept the run's traces: "
        f"it answered HTTP {status}, a redirect (not followed: give the collector's own URL)"
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_a_collector_that_takes_them_gets_no_warning(
    run_cli: RunCli, tmp_path: Path, receiver: Receiver
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--otlp-endpoint", receiver.url)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert [r.path for r in receiver.requests] == ["/v1/traces"]
