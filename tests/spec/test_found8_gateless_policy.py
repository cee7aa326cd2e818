"""`on_gate_failure` on a step with no gate to fail (no `gates`, and no `output_schema` of its
own or its agent's implying a schema gate) validated and did nothing: `on_gate_failure: retry`
on a command step that exited 0 with the wrong text never ran it again, and the run passed.
A setting that would be ignored is an error (E206); `defaults` may still set it for every step
that has gates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli

AGENTS = {"w": {"model": "mock/echo"}, "s": {"model": "mock/echo", "output_schema": {}}}


def errors(folder: Path, run_cli: RunCli, steps: dict[str, Any], **more: Any) -> list[str]:
    flow = {"version": 1, "name": "t", "agents": AGENTS, "steps": steps, **more}
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    found = json.loads(done.stdout)["diagnostics"]
    said = [f"{d['code']} {d['message']}" for d in found if d["severity"] == "error"]
    assert done.returncode == (2 if said else 0)
    return said


GATELESS = {
    "command": {"run": ["echo", "x"]},
    "agent": {"agent": "w", "prompt": "hi"},
    "group": {"steps": {"x": {"run": ["echo", "x"]}}},
}


@pytest.mark.parametrize("kind", sorted(GATELESS))
def test_on_gate_failure_without_a_gate_is_an_error(
    tmp_path: Path, run_cli: RunCli, kind: str
) -> None:
    step = {**GATELESS[kind], "on_gate_failure": "warn"}
    [error] = errors(tmp_path, run_cli, {"a": step})
    assert error.startswith("E206 `steps.a`: `on_gate_failure` says what a failed gate does")


def test_a_gate_or_a_schema_gives_it_something_to_decide(tmp_path: Path, run_cli: RunCli) -> None:
    steps = {
        "gated": {
            "run": ["echo", "x"],
            "on_gate_failure": "retry",
            "gates": [{"type": "length", "min": 1}],
        },
        "own_schema": {"run": ["echo", "{}"], "on_gate_failure": "warn", "output_schema": {}},
        "agent_schema": {"agent": "s", "prompt": "hi", "on_gate_failure": "warn"},
    }
    assert errors(tmp_path, run_cli, steps) == []


def test_defaults_may_set_it_for_steps_with_and_without_gates(
    tmp_path: Path, run_cli: RunCli
) -> None:
    steps = {
        "plain": GATELESS["command"],
        "gated": {"run": ["echo", "x"], "gates": [{"type": "length", "min": 1}]},
    }
    assert errors(tmp_path, run_cli, steps, defaults={"on_gate_failure": "retry"}) == []
