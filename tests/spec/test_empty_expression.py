"""An empty expression (`for_each: ""`, `if: " "`, a loop's `until: ""`) is E405. The checks
parsed it wrapped in parentheses, as `()` (an empty tuple, a literal), while a run evaluates it
bare and fails: `for_each: ""` ended validate in a traceback (found by the validate fuzzer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli

STEPS: dict[str, dict[str, Any]] = {
    "for_each": {"a": {"run": ["echo", "{{ item }}"], "for_each": ""}},
    "if": {"a": {"run": ["echo", "x"], "if": "  "}},
    "until": {"a": {"loop": {"max_iterations": 2, "until": ""}, "steps": {"b": {"run": ["echo"]}}}},
}


@pytest.mark.parametrize("field", sorted(STEPS))
def test_an_empty_expression_is_an_error(tmp_path: Path, run_cli: RunCli, field: str) -> None:
    flow = {"version": 1, "name": "empty", "steps": STEPS[field]}
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("validate", "flow.yaml")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "E405" in done.stdout and "the expression is empty" in done.stdout, done.stdout
