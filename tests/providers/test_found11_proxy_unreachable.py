"""A proxy that cannot be reached (HTTP_PROXY naming a port nothing listens on) failed each call
with "could not talk to local at http://...: Cannot connect to host <the proxy>; check that the
server runs and base_url is right": the provider's URL beside the proxy's address, and advice
about the wrong one. The message now names the proxy and its variable, and what to check."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
providers:
  local: {type: openai, base_url: "http://127.0.0.1:9/v1"}
agents:
  a: {model: local/m}
steps:
  s: {agent: a, prompt: p, retry: {max_attempts: 1}}
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_proxy_is_named(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    proxy = f"http://user:pw-123456789@127.0.0.1:{_closed_port()}"
    env = {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    done = run_cli("run", "flow.yaml", "--report-dir", "out", "-q", env=env)
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    error = report["steps"]["s"]["error"]
    assert error["kind"] == "connection_error"
    assert error["message"].startswith("could not reach the proxy http://***@127.0.0.1:")
    assert "(HTTP_PROXY) for local at http://127.0.0.1:9/v1/chat/completions" in error["message"]
    assert "check that the proxy runs, or list the host in NO_PROXY" in error["message"]
    assert "base_url" not in error["message"]
    assert "pw-123456789" not in (tmp_path / "out" / "report.json").read_text(encoding="utf-8")
