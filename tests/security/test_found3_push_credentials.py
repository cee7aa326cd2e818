"""A password or a token in the URL of `--metrics-push` or `--otlp-endpoint`, through the real
CLI.

Found by trying it: when the push or the export failed, the warning quoted the URL as given,
`http://user:s3cret@host` or `...?token=s3cret`, on stderr (a CI job's log). requests, the
OTLP exporter's client, sends a URL's user and password as its basic authentication, so such
a URL is a working setting there (urllib, the Pushgateway's, reads `user:s3cret@host` as a
host name, and the warning said so, quoting it). The exporter also logged each failed try
itself, quoting the URL's query. The URL is now shown as a provider's `base_url` is: its user
name and password as `***`, and its query as `***`; the exporter's own lines are kept off
stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.observability.conftest import Receiver, receiver
from tests.security.cli import agnoctl

__all__ = ["receiver"]  # the fixture

SECRET = "s3cret-push-password"

WORKFLOW = """\
version: 1
name: pushed
steps:
  s: {run: [python3, -c, "print('done')"]}
"""


@pytest.mark.parametrize("option", ["--metrics-push", "--otlp-endpoint"])
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"http://user:{SECRET}@{{host}}", "http://***@{host}"),
        (f"http://{{host}}/v1/traces?token={SECRET}", "http://{host}/v1/traces?***"),
    ],
    ids=["password", "query"],
)
def test_a_failed_push_shows_no_credential(
    tmp_path: Path, receiver: Receiver, option: str, url: str, shown: str
) -> None:
    if option == "--otlp-endpoint":
        pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    receiver.script.append(400)  # a refusal, not retried
    host = receiver.url.removeprefix("http://")
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", option, url.format(host=host))
    assert result.returncode == 0, result.stderr  # a warning, never the verdict
    assert "warning: " in result.stderr and shown.format(host=host) in result.stderr
    assert SECRET not in result.stderr + result.stdout
