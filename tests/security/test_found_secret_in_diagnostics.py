"""A secret's value quoted by a validation error or drawn in a graph, through the real CLI.

Found by trying it: a workflow that reads a secret's variable where another value belongs
(``max_concurrency: ${API_TOKEN}``, a key pasted into the wrong field) was refused with a
message quoting the value it refused, the key in full: on the terminal, in ``--format json``
and in the ``--format github`` annotations a CI log keeps. Every other thing agnoctl prints
masks such a value; now these messages do too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.cli import agnoctl

KEY = "sk-canary-0123456789abcdef"

WORKFLOW = """\
version: 1
name: misplaced-key
providers:
  llm:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: ${DEPLOY_API_TOKEN}
    max_concurrency: ${DEPLOY_API_TOKEN}
agents:
  a: {model: llm/m, max_tokens: "${DEPLOY_API_TOKEN}"}
steps:
  s: {agent: a, prompt: hi}
"""


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "wf.yaml"],
        ["validate", "wf.yaml", "--format", "json"],
        ["validate", "wf.yaml", "--format", "github"],
        ["plan", "wf.yaml"],
        ["run", "wf.yaml", "--format", "github"],
    ],
    ids=" ".join,
)
def test_a_key_where_a_number_belongs_is_masked_in_the_error(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = agnoctl(tmp_path, *command, env={**os.environ, "DEPLOY_API_TOKEN": KEY})
    assert result.returncode == 2
    printed = result.stdout + result.stderr
    assert "max_concurrency" in printed and "max_tokens" in printed  # both still located
    assert "***" in printed
    assert "canary" not in printed


GRAPHED = """\
version: 1
name: graphed
steps:
  deploy: {run: [deploy, --token, "${DEPLOY_API_TOKEN}"]}
"""


@pytest.mark.parametrize("graph_format", ["mermaid", "dot"])
def test_a_key_in_a_commands_arguments_is_masked_in_the_graph(
    tmp_path: Path, graph_format: str
) -> None:
    """Found alike: `agnoctl graph` labels a command step with its arguments, and printed the
    key a `${VAR}` put there; a graph is pasted into docs and pull requests."""
    (tmp_path / "wf.yaml").write_text(GRAPHED, encoding="utf-8")
    env = {**os.environ, "DEPLOY_API_TOKEN": KEY}
    result = agnoctl(tmp_path, "graph", "wf.yaml", "--format", graph_format, env=env)
    assert result.returncode == 0, result.stderr
    assert "deploy --token ***" in result.stdout
    assert "canary" not in result.stdout + result.stderr


LISTED = """\
version: 1
name: listed
tools:
  web:
    type: http_get
    description: "fetch, sending ${DEPLOY_API_TOKEN}"
    allow_hosts: [example.com]
agents:
  a: {model: mock/echo, tools: [web]}
steps:
  s: {agent: a, prompt: hi}
"""


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_key_in_a_tools_description_is_masked_in_tools_list(
    tmp_path: Path, output_format: str
) -> None:
    """Found alike: `agnoctl tools list` printed a tool's description as written, a key a
    `${VAR}` put there included (an MCP server's own descriptions go the same way)."""
    (tmp_path / "wf.yaml").write_text(LISTED, encoding="utf-8")
    env = {**os.environ, "DEPLOY_API_TOKEN": KEY}
    result = agnoctl(tmp_path, "tools", "list", "wf.yaml", "--format", output_format, env=env)
    assert result.returncode == 0, result.stderr
    assert "fetch, sending ***" in result.stdout
    assert "canary" not in result.stdout + result.stderr
