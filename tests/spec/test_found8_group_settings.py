"""A group makes no model call of its own but its judge gates': `retry`, `cache` and `tags`
on a group changed nothing for its children (tags did not reach the cost report's by_tag), each
accepted and silently ignored. Without a judge gate each is now E206 (fail closed). A group's
`timeout` bounds the whole group (tests/cli/test_group_timeout.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli

SETTINGS: dict[str, Any] = {
    "retry": {"max_attempts": 3},
    "cache": False,
    "tags": {"department": "research"},
}
JUDGE = {"type": "judge", "agent": "j", "rubric": "good", "min": 0}


def validate(folder: Path, run_cli: RunCli, group: dict[str, Any]) -> list[str]:
    flow = {
        "version": 1,
        "name": "t",
        "agents": {"j": {"model": "mock/echo"}},
        "steps": {"g": {**group, "steps": {"a": {"run": ["echo", "x"]}}}},
    }
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("validate", "--format", "json", "flow.yaml")
    found = json.loads(done.stdout)["diagnostics"]
    errors = [f"{d['code']} {d['message']}" for d in found if d["severity"] == "error"]
    assert done.returncode == (2 if errors else 0)
    return errors


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_a_setting_a_group_would_ignore_is_an_error(
    tmp_path: Path, run_cli: RunCli, name: str
) -> None:
    [error] = validate(tmp_path, run_cli, {name: SETTINGS[name]})
    assert error.startswith(f"E206 `steps.g`: `{name}` ")
    assert "set it on the group's children (or in `defaults`)" in error


@pytest.mark.parametrize("name", ["retry", "cache", "tags"])
def test_a_group_with_a_judge_gate_takes_its_judge_call_settings(
    tmp_path: Path, run_cli: RunCli, name: str
) -> None:
    assert validate(tmp_path, run_cli, {name: SETTINGS[name], "gates": [JUDGE]}) == []


def test_a_timeout_is_no_error_on_a_group(tmp_path: Path, run_cli: RunCli) -> None:
    assert validate(tmp_path, run_cli, {"timeout": "1s"}) == []


def test_the_same_settings_in_defaults_still_reach_a_group_s_children(
    tmp_path: Path, run_cli: RunCli
) -> None:
    flow = {
        "version": 1,
        "name": "t",
        "defaults": {**SETTINGS, "timeout": "1s"},
        "steps": {"g": {"steps": {"a": {"run": ["echo", "x"]}}}},
    }
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    assert run_cli("validate", "flow.yaml").returncode == 0
