"""A step that could not reach its provider said so with aiohttp's own words, Python's repr of
its TLS settings included: `Cannot connect to host 127.0.0.1:9 ssl:<ssl.SSLContext object at
0x7f9e59ae22a0> [Connect call failed ...]` (`ssl:default` over http), a memory address in the
report, junit.xml and the terminal. The message keeps the host and the reason, not that."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli


def test_a_connection_error_holds_no_python_repr(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: t\n"
        "providers:\n"
        "  tls: {type: openai, base_url: 'https://127.0.0.1:9/v1'}\n"
        "  plain: {type: openai, base_url: 'http://127.0.0.1:9/v1'}\n"
        "defaults: {retry: {max_attempts: 1}}\n"
        "agents:\n  a: {model: tls/m}\n  b: {model: plain/m}\n"
        "steps:\n  a: {agent: a, prompt: p}\n  b: {agent: b, prompt: p}\n",
        encoding="utf-8",
    )
    done = run_cli("run", "flow.yaml", "--no-cache", "--report-dir", "out", "-q")
    assert done.returncode == 1
    steps = json.loads((tmp_path / "out" / "report.json").read_text())["steps"]
    for step, scheme in (("a", "https"), ("b", "http")):
        message = steps[step]["error"]["message"]
        assert message.startswith(
            f"could not talk to {'tls' if step == 'a' else 'plain'} at "
            f"{scheme}://127.0.0.1:9/v1/chat/completions: Cannot connect to host 127.0.0.1:9 ["
        ), message
        assert "ssl:" not in message and "object at 0x" not in message
