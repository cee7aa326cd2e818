"""On an anthropic model, an output schema travels as the input_schema of a forced tool named
`final_output` (providers/anthropic.py), which Anthropic refuses unless it is an object schema,
and an agent tool of that name collides with it. Both validated without a word, and the step
then failed at run time (`tool name 'final_output' is reserved`) or at Anthropic (a 400), after
the steps before it had run; so did a temperature above Anthropic's 1 (the language takes 2,
OpenAI's bound). Both are W532 now (a warning, as W526: a --mock rehearsal takes
anything)."""

from __future__ import annotations

import json
from pathlib import Path

from agnoctl.providers.anthropic import OUTPUT_TOOL
from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
tools:
  final_output: {run: [echo]}
agents:
  listing: {model: anthropic/claude, output_schema: {type: array}}
  tooled: {model: openai/gpt-4o, fallback_models: [anthropic/claude], tools: [final_output]}
  fine: {model: openai/gpt-4o, output_schema: {type: array}, tools: [final_output]}
  warm: {model: openai/gpt-4o, temperature: 1.5, fallback_models: [anthropic/claude]}
  warm_openai: {model: openai/gpt-4o, temperature: 1.5}
steps:
  a: {agent: listing, prompt: p}
  b: {agent: tooled, prompt: p, output_schema: {type: object}}
  c: {agent: tooled, prompt: p}
  d: {agent: fine, prompt: p}
  e: {agent: warm, prompt: p}
  f: {agent: warm_openai, prompt: p}
"""


def test_what_anthropic_cannot_take_as_output_is_said(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 0, done.stdout
    found = json.loads(done.stdout)["diagnostics"]
    assert [(d["code"], d["line"]) for d in found] == [("W532", 6), ("W532", 9), ("W532", 13)]
    assert "an object schema" in found[0]["message"]
    assert "temperature of at most 1" in found[1]["message"]
    assert f"`{OUTPUT_TOOL}`" in found[2]["message"]  # the name the provider reserves
