"""A `pricing` entry that names no model the run uses (a typo: `gpt-4o-mni`; the provider in
the key: `local/gpt-4o`) validated without a word, and the run then costed the model at the
built-in price, or at none, against `max_cost_usd`: a setting silently ignored. It is a
warning (W531) naming the closest model; a dated model (`gpt-4o-mini-2024-07-18`) still
counts as priced by `gpt-4o-mini`, as the run prices it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
providers:
  local:
    type: openai
    base_url: http://127.0.0.1:9/v1
    pricing:
      gpt-4o-mni: {input: 0.15, output: 0.6}
      local/gpt-4o: {input: 2.5, output: 10}
      gpt-4o-mini: {input: 0.15, output: 0.6}
      big: {input: 1, output: 1}
agents:
  w: {model: local/gpt-4o-mini-2024-07-18, fallback_models: [local/big]}
  j: {model: local/gpt-4o}
steps:
  a: {agent: w, prompt: p, gates: [{type: judge, agent: j, rubric: r, min: 0.5}]}
"""


def test_a_price_for_no_model_of_the_run_is_said(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 0, done.stdout
    found = json.loads(done.stdout)["diagnostics"]
    assert [(d["code"], d["line"], d["severity"]) for d in found] == [
        ("W531", 8, "warning"),
        ("W531", 9, "warning"),
    ]
    assert "`gpt-4o-mni`" in found[0]["message"]
    assert "local/" in found[0]["message"]
    assert "`gpt-4o-mini`" in found[0]["hint"]
    assert "`gpt-4o`" in found[1]["hint"]
