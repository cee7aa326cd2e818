"""Settings that validated and then decided nothing (SPEC conformance: a setting that would be
ignored where it is written is an error, fail closed):

- `cache` or `tags` on a command step: a program makes no model call, so neither had any
  effect (tags never reached the cost report) unless a judge gate made calls;
- `loop: {on_exhausted: fail}` without `until`: every iteration is spent, so every run failed,
  after paying for all of them;
- `max_tool_calls` on an agent without `tools`: there is no tool-calling loop to bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli

JUDGE = {"type": "judge", "agent": "j", "rubric": "good", "min": 0}


def errors(folder: Path, run_cli: RunCli, steps: dict[str, Any], **agent: Any) -> list[str]:
    flow = {
        "version": 1,
        "name": "t",
        "agents": {"j": {"model": "mock/echo", **agent}},
        "steps": steps,
    }
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    found = json.loads(done.stdout)["diagnostics"]
    said = [f"{d['code']} {d['message']}" for d in found if d["severity"] == "error"]
    assert done.returncode == (2 if said else 0)
    return said


@pytest.mark.parametrize(("name", "value"), [("cache", True), ("tags", ["etl"])])
def test_a_command_step_takes_no_model_call_setting(
    tmp_path: Path, run_cli: RunCli, name: str, value: object
) -> None:
    step = {"run": ["echo", "x"], name: value}
    [error] = errors(tmp_path, run_cli, {"a": step, "u": {"agent": "j", "prompt": "p"}})
    assert error.startswith(f"E206 `steps.a`: `{name}` ")
    assert "a command step makes" in error
    judged = {**step, "gates": [JUDGE]}
    assert errors(tmp_path, run_cli, {"a": judged}) == []


def test_a_loop_that_must_fail_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    group = {"steps": {"x": {"run": ["echo", "x"]}}, "loop": {"max_iterations": 2}}
    use = {"u": {"agent": "j", "prompt": "p"}}
    [error] = errors(
        tmp_path,
        run_cli,
        {"g": {**group, "loop": {**group["loop"], "on_exhausted": "fail"}}, **use},
    )
    assert error.startswith("E206 `steps.g.loop`: `on_exhausted: fail` without `until`")
    ending = {"max_iterations": 2, "until": "true", "on_exhausted": "fail"}
    assert errors(tmp_path, run_cli, {"g": {**group, "loop": ending}, **use}) == []
    assert errors(tmp_path, run_cli, {"g": group, **use}) == []


def test_max_tool_calls_needs_tools(tmp_path: Path, run_cli: RunCli) -> None:
    steps = {"a": {"agent": "j", "prompt": "p"}}
    [error] = errors(tmp_path, run_cli, steps, max_tool_calls=3)
    assert error.startswith("E206 `agents.j`: `max_tool_calls` bounds the tool-calling loop")
