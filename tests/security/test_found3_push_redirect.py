"""A Pushgateway that answers ``--metrics-push`` with a redirect, through the real CLI.

Found by trying it: urllib followed a 301, 302 or 303 as a GET without the metrics, which the
gateway (or whatever the redirect named) answered 200, so the push counted as done: a moved
gateway (an ``http://`` one sent to ``https://``) lost every run's metrics without a word,
exit 0. Now a redirect is not followed, as a provider's, a webhook's and an OTLP collector's
are not: a warning names where the gateway pointed, the run's verdict unchanged.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.cli import agnoctl

WORKFLOW = """\
version: 1
name: pushed
steps:
  s: {run: [python3, -c, "print('done')"]}
"""


class Gateway:
    """A loopback server that redirects every push to ``/moved`` (answered 200); records the
    method and path of each request."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[str, str]] = []
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gateway.requests.append((self.command, self.path))
                self.send_response(200 if self.path == "/moved" else status)
                self.send_header("Location", "/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads ``requests`` instead."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))


@pytest.fixture(params=[301, 302, 303])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    running = Gateway(request.param)
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()
        running.thread.join(timeout=5)


def test_a_redirect_is_a_warning_not_a_push(tmp_path: Path, gateway: Gateway) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--metrics-push", gateway.url)
    assert result.returncode == 0, result.stderr
    assert gateway.requests == [("POST", "/metrics/job/agnoctl/workflow/pushed")]  # not followed
    assert (
        f"warning: could not push metrics to {gateway.url}: it answered HTTP {gateway.status}, "
        f"a redirect to '{gateway.url}/moved' (not followed: give the Pushgateway's own URL)"
    ) in result.stderr
