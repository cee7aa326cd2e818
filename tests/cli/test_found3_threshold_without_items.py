"""`success_threshold` on an agent or command step without `for_each` was silently ignored
(SPEC: the field is "for `for_each` and groups"): a workflow that set 0.5 on such a step, meaning
"this step may fail", ran it as any other and failed the run when it failed. A setting that
would be ignored is an error, as `max_concurrency` without `for_each` already was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests import forkcli

KINDS = {
    "agent": {"agent": "w", "prompt": "hi"},
    "command": {"run": ["echo", "hi"]},
}


def validate(folder: Path, step: dict[str, object]) -> tuple[int, list[dict[str, object]]]:
    flow = {
        "version": 1,
        "name": "t",
        "agents": {"w": {"model": "mock/echo"}},
        "steps": {"a": step},
    }
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = forkcli.run(["validate", "--format", "json", "flow.yaml"], cwd=folder)
    diagnostics = json.loads(done.stdout)["diagnostics"]
    return done.returncode, [d for d in diagnostics if d["severity"] == "error"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_threshold_on_a_step_without_items_is_an_error(tmp_path: Path, kind: str) -> None:
    code, diagnostics = validate(tmp_path, {**KINDS[kind], "success_threshold": 0.5})
    assert code == 2
    [found] = diagnostics
    assert found["code"] == "E206"
    assert "share of for_each items" in str(found["message"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_threshold_on_a_fan_out_or_a_group_is_valid(tmp_path: Path, kind: str) -> None:
    fan_out = {**KINDS[kind], "for_each": ["x", "y"], "success_threshold": 0.5}
    assert validate(tmp_path, fan_out) == (0, [])
    group = {"steps": {"inner": KINDS[kind]}, "success_threshold": 0.5}
    assert validate(tmp_path, group) == (0, [])
