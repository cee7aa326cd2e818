"""The workflow JSON Schema: committed, complete, and in agreement with the models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from agnoctl.spec.loader import load_file
from agnoctl.spec.schema import SCHEMA_PATH, SCHEMA_URL, schema_text, workflow_schema
from agnoctl.spec.validate import validate_file, workflow_files

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = workflow_files([REPO / "workflows", REPO / "examples"]).files


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (REPO / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == schema_text(), "run `agnoctl schema > schemas/workflow.schema.json`"


def test_the_schema_names_itself() -> None:
    schema = workflow_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_URL
    assert "version 1" in schema["title"]
    Draft202012Validator.check_schema(schema)


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from schema.get("properties", {}).items()
    for name, definition in schema.get("$defs", {}).items():
        for field, spec in definition.get("properties", {}).items():
            yield f"{name}.{field}", spec


def test_every_property_has_a_description() -> None:
    missing = [name for name, spec in _properties(workflow_schema()) if not spec.get("description")]
    assert missing == []


def test_step_fields_use_their_yaml_names() -> None:
    step = workflow_schema()["$defs"]["StepSpec"]["properties"]
    assert "if" in step and "if_" not in step


@pytest.mark.parametrize("path", WORKFLOWS, ids=[str(p.relative_to(REPO)) for p in WORKFLOWS])
def test_bundled_workflows_pass_both_the_schema_and_validation(path: Path) -> None:
    data, _ = load_file(path, environ={})
    errors = list(Draft202012Validator(workflow_schema()).iter_errors(data))
    assert errors == []
    assert validate_file(path).errors == []


def test_the_schema_refuses_an_unknown_field() -> None:
    data = {"version": 1, "name": "x", "steps": {"a": {"run": ["echo"], "need": ["b"]}}}
    assert not Draft202012Validator(workflow_schema()).is_valid(data)
    assert json.loads(schema_text()) == workflow_schema()
