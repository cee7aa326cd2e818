"""An MCP `headers` value holding a control character (a token read with its line ending,
`Bearer ${TOKEN}` with TOKEN ending in a newline) validated, and every step using the server
failed at run time with httpx's "Illegal header value b'***'", retried as a server fault. It
is now E454 at `validate`, without the value (a secret) in the message."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
tools:
  tracker:
    type: mcp
    url: http://127.0.0.1:9/mcp
    headers: {Authorization: "Bearer ${TOKEN}", X-Plain: ok}
agents:
  a: {model: mock/x, tools: [tracker]}
steps:
  s: {agent: a, prompt: p}
"""


def test_a_header_value_with_a_line_ending_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml", env={"TOKEN": "tok-123456789\n"})
    assert done.returncode == 2
    (finding,) = json.loads(done.stdout)["diagnostics"]
    assert (finding["code"], finding["line"]) == ("E454", 7)
    assert finding["message"] == (
        "the value of header `Authorization` holds a control character (often a line ending "
        "copied with it), which no HTTP header can carry"
    )
    assert "tok-123456789" not in done.stdout + done.stderr
