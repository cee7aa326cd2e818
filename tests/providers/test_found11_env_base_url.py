"""A built-in provider's base URL from the environment (OPENAI_BASE_URL, ANTHROPIC_BASE_URL,
OLLAMA_HOST) skipped the checks a `base_url` entry gets (docs/providers.md): the endpoint
pasted whole (`.../v1/chat/completions`) sent every call to `/v1/chat/completions/chat/
completions`, and a value without a scheme failed with "check base_url", a field the workflow
does not have. Such a value now fails the step saying what is wrong, naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
defaults: {retry: {max_attempts: 1}, continue_on_error: true}
agents:
  o: {model: openai/m}
  a: {model: anthropic/m}
steps:
  o: {agent: o, prompt: p}
  a: {agent: a, prompt: p}
"""


def test_a_base_url_variable_is_checked_as_a_base_url_is(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    env = {
        "OPENAI_API_KEY": "sk-x",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/chat/completions",
        "ANTHROPIC_API_KEY": "sk-y",
        "ANTHROPIC_BASE_URL": "127.0.0.1:9?key=sk-123456789",
    }
    done = run_cli("run", "flow.yaml", "--report-dir", "out", "-q", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    errors = {step: report["steps"][step]["error"]["message"] for step in ("o", "a")}
    assert errors["o"].startswith(
        "OPENAI_BASE_URL 'http://127.0.0.1:9/v1/chat/completions' is the endpoint itself: "
        "requests go to {base_url}/chat/completions, so write 'http://127.0.0.1:9/v1'"
    ), errors["o"]
    assert errors["a"].startswith(
        "ANTHROPIC_BASE_URL '127.0.0.1:9?***' is not an http(s) URL with a host"
    ), errors["a"]
    assert "sk-123456789" not in json.dumps(report)
