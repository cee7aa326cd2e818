"""Fixtures for the plan tests: plan a workflow file in-process, from the repository root."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from agnoctl.plan import Plan, build_plan
from agnoctl.spec.validate import validate_file

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

PlanOf = Callable[..., Plan]


def _plan_file(path: Path, inputs: Mapping[str, Any] | None = None, **options: Any) -> Plan:
    result = validate_file(path)
    assert result.workflow is not None, result.diagnostics
    return build_plan(
        result.workflow, inputs or {}, workflow_path=path, source=result.source, **options
    )


@pytest.fixture(scope="session")
def plan_of() -> PlanOf:
    """`plan_of(path, inputs=None, **build_plan options)`: the plan of a valid workflow file."""
    return _plan_file


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, so plans name their files by stable relative paths."""
    monkeypatch.chdir(REPO)
    return REPO
