"""Every number of the spec is a YAML number: a boolean (`true`, `yes`) is never 1, a quoted
number is a string, a count is an integer (pydantic's lax mode read `memory: true` as 1 byte)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agnoctl.spec import models
from tests.spec.conftest import Check, codes

HEAD = "version: 1\nname: t\n"


def _models(base: type[models.Strict] = models.Strict) -> Iterator[type[models.Strict]]:
    for model in base.__subclasses__():
        yield model
        yield from _models(model)


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for branch in schema.get("anyOf", []) + schema.get("allOf", []):
        found |= _types(branch)
    return found


def _numeric_fields() -> list[tuple[type[models.Strict], str]]:
    """Every field of every spec model that takes a number and no boolean."""
    fields = []
    for model in sorted(set(_models()), key=lambda model: model.__name__):
        schema = model.model_json_schema()
        if "$ref" in schema:  # a recursive model (StepSpec): its own schema is among $defs
            schema = schema["$defs"][schema["$ref"].rpartition("/")[2]]
        properties = schema["properties"]
        for name, schema in properties.items():
            types = _types(schema)
            if types & {"integer", "number"} and "boolean" not in types:
                fields.append((model, name))
    return fields


NUMERIC = _numeric_fields()


def test_the_spec_has_numeric_fields_to_check() -> None:
    names = {f"{model.__name__}.{name}" for model, name in NUMERIC}
    assert {"ResourcesSpec.memory", "ResourcesSpec.cpus", "RetrySpec.max_attempts"} <= names
    assert len(NUMERIC) >= 30


@pytest.mark.parametrize(
    ("model", "field"), NUMERIC, ids=[f"{model.__name__}.{name}" for model, name in NUMERIC]
)
@pytest.mark.parametrize("value", [True, False])
def test_no_numeric_field_reads_a_boolean(
    model: type[models.Strict], field: str, value: bool
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        model.model_validate({field: value})
    assert any(error["loc"][:1] == (field,) for error in caught.value.errors()), (
        f"{model.__name__}.{field} read {value} as a number"
    )


def test_numbers_written_as_numbers_still_validate(check: Check, monkeypatch: Any) -> None:
    monkeypatch.setenv("N", "4")
    diagnostics = check(
        HEAD + "limits:\n  max_concurrency: ${N}\n  max_cost_usd: 2\n"
        "steps:\n  s:\n    run: [echo]\n"
        "    resources: {cpus: 1, gpus: 0.5, memory: '512', custom: {ssd: 1}}\n"
        "    retry: {max_attempts: 3, multiplier: 2}\n"
    )
    assert diagnostics == [], diagnostics


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("true", "write a number: YAML's true is a boolean, not 1"),
        ("yes", "write a number: YAML's yes is a boolean, not 1"),
        ("'8'", "write the number without quotes: `max_concurrency: 8`"),
        ("8.0", "write it without a fraction: `max_concurrency: 8`"),
        # YAML 1.1 reads an exponent without a sign or a dot as text: dropping quotes is no fix.
        ("1e3", "YAML reads `1e3` as text, not a number: write `max_concurrency: 1000`"),
    ],
)
def test_a_value_yaml_did_not_read_as_an_integer_is_refused(
    check: Check, value: str, hint: str
) -> None:
    diagnostics = check(
        HEAD + f"limits: {{max_concurrency: {value}}}\nsteps:\n  s: {{run: [echo]}}\n"
    )
    assert codes(diagnostics) == ["E203"]
    assert (diagnostics[0].line, diagnostics[0].col) == (3, 27)
    assert diagnostics[0].hint == hint


def test_an_exponent_yaml_reads_as_text_gets_the_number_it_meant(check: Check) -> None:
    diagnostics = check(HEAD + "limits: {max_cost_usd: 1.5e3}\nsteps:\n  s: {run: [echo]}\n")
    assert codes(diagnostics) == ["E203"]
    assert diagnostics[0].hint == (
        "YAML reads `1.5e3` as text, not a number: write `max_cost_usd: 1500`"
    )
