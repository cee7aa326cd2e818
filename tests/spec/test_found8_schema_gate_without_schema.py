"""A `{type: schema}` gate on a step that no output_schema applies to (neither its own nor its
agent's) validated, then failed every run ("no output_schema applies to this step's output"),
after the step's work was paid for. A gate that can only fail is an error (E206), as a length
gate with min above max already was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli

AGENTS = {"w": {"model": "mock/echo"}, "s": {"model": "mock/echo", "output_schema": {}}}
SCHEMA_GATE = [{"type": "schema"}]


def errors(folder: Path, run_cli: RunCli, step: dict[str, Any]) -> list[str]:
    flow = {"version": 1, "name": "t", "agents": AGENTS, "steps": {"a": step}}
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    found = json.loads(done.stdout)["diagnostics"]
    said = [f"{d['code']} {d['message']}" for d in found if d["severity"] == "error"]
    assert done.returncode == (2 if said else 0)
    return said


@pytest.mark.parametrize(
    "step",
    [
        {"run": ["echo", "x"]},
        {"agent": "w", "prompt": "p"},
        {"steps": {"c": {"run": ["echo", "x"]}}},
    ],
    ids=["command", "agent", "group"],
)
def test_a_schema_gate_without_a_schema_is_an_error(
    tmp_path: Path, run_cli: RunCli, step: dict[str, Any]
) -> None:
    [error] = errors(tmp_path, run_cli, {**step, "gates": SCHEMA_GATE})
    assert error.startswith("E206 `steps.a.gates[0]`: a `schema` gate checks the output")


@pytest.mark.parametrize(
    "step",
    [
        {"run": ["echo", "{}"], "output_schema": {}},
        {"agent": "s", "prompt": "p"},
        {"steps": {"c": {"run": ["echo", "x"]}}, "output_schema": {}},
    ],
    ids=["command", "agent", "group"],
)
def test_a_schema_gate_with_a_schema_is_valid(
    tmp_path: Path, run_cli: RunCli, step: dict[str, Any]
) -> None:
    assert errors(tmp_path, run_cli, {**step, "gates": SCHEMA_GATE}) == []
