"""A command tool with `run: []` validated, and each call then failed with Python's own words
(`TypeError: BaseEventLoop.subprocess_exec() missing 1 required positional argument`); a tool
whose `parameters` is not an object schema validated too, though the model's arguments are a
JSON object (every call refused) and OpenAI and Anthropic refuse such a tool (a 400 failing
the step). Both are validation errors now, as a command step's `run: []` already was."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
tools:
  empty: {run: []}
  text: {run: [echo], parameters: {type: string}}
  untyped: {run: [echo], parameters: {properties: {q: {type: string}}}}
  fine: {run: [echo, "{{ args.q }}"], parameters: {type: object, properties: {q: {type: string}}}}
agents:
  w: {model: mock/echo, tools: [empty, text, untyped, fine]}
steps:
  a: {agent: w, prompt: p}
"""


def test_a_tool_that_no_call_can_use_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    found = [(d["line"], d["code"], d["message"]) for d in json.loads(done.stdout)["diagnostics"]]
    assert [(line, code) for line, code, _ in found] == [(4, "E206"), (5, "E415"), (6, "E415")]
    assert "`run` needs at least the program to run" in found[0][2]
    for _, _, message in found[1:]:
        assert "an object schema (`type: object`)" in message
