"""The plan's JSON Schema: committed, generated from the model, and met by every plan."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from agnoctl.plan import SCHEMA_VERSION, Plan, plan_json_schema, plan_schema_text, render_plan

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schemas" / "plan.schema.json"


def test_the_committed_schema_is_the_generated_one() -> None:
    if os.environ.get("AGNOCTL_UPDATE_GOLDEN") == "1":
        COMMITTED.write_text(plan_schema_text(), encoding="utf-8")
    assert COMMITTED.read_text(encoding="utf-8") == plan_schema_text(), (
        "regenerate with AGNOCTL_UPDATE_GOLDEN=1 pytest tests/plan/test_schema.py"
    )


def test_the_schema_is_valid_and_versioned() -> None:
    schema = plan_json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert str(SCHEMA_VERSION) in schema["title"]


@pytest.mark.parametrize("name", ["market", "branches", "hand_computed"])
def test_plan_json_meets_the_schema(
    name: str, plan_of: Callable[..., Plan], fixtures_dir: Path
) -> None:
    document = json.loads(render_plan(plan_of(fixtures_dir / f"{name}.yaml"), "json"))
    errors = list(Draft202012Validator(plan_json_schema()).iter_errors(document))
    assert not errors, errors[0].message
    assert document["schema_version"] == SCHEMA_VERSION
    assert Plan.model_validate(document) == plan_of(fixtures_dir / f"{name}.yaml")
