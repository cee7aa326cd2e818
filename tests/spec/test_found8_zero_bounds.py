"""A time bound of 0 validated and then failed everything it bounded: `timeout: 0` on a step
timed out every attempt (three of them, with the default retry) and failed the step; a tool's
`timeout: 0` failed every call; `limits.max_duration: 0` stopped the run before its first step.
A bound that nothing can meet is an error (E204), as `approval.timeout: 0` already was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "step": ({"steps": {"a": {"run": ["echo", "x"], "timeout": 0}}}, "steps.a.timeout"),
    "defaults": (
        {"defaults": {"timeout": "0s"}, "steps": {"a": {"run": ["echo", "x"]}}},
        "defaults.timeout",
    ),
    "limits": (
        {"limits": {"max_duration": "0ms"}, "steps": {"a": {"run": ["echo", "x"]}}},
        "limits.max_duration",
    ),
    "tool": (
        {
            "tools": {"t": {"run": ["echo"], "timeout": 0}},
            "agents": {"w": {"model": "mock/echo", "tools": ["t"]}},
            "steps": {"a": {"agent": "w", "prompt": "p"}},
        },
        "tools.t.timeout",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_zero_time_bound_is_an_error(tmp_path: Path, run_cli: RunCli, case: str) -> None:
    flow, where = CASES[case]
    (tmp_path / "flow.yaml").write_text(
        yaml.safe_dump({"version": 1, "name": "t", **flow}), encoding="utf-8"
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["message"].split(" must")[0]) == ("E204", f"`{where}`")
    assert "must be greater than 0" in found["message"]
