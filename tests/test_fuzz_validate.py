"""Property: no input makes `agnoctl validate` crash.

Random YAML documents, random text and bytes, and random mutations of valid workflows (data
edits and raw text edits) must each give diagnostics (or none), never a traceback. The
in-process entry point carries the volume; a few examples go through the CLI's main.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.spec import model_errors
from agnoctl.spec.validate import ValidationResult, validate_data, validate_text

REPO = Path(__file__).resolve().parent.parent
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BASE: dict[str, Any] = {
    "version": 1,
    "name": "fuzz",
    "inputs": {"topic": {"type": "string", "default": "x"}},
    "env": {"REGION": "eu"},
    "agents": {
        "writer": {"model": "mock/echo", "tools": ["grep"]},
        "judge": {
            "model": "mock/echo",
            "output_schema": {"type": "object", "properties": {"score": {"type": "number"}}},
        },
    },
    "tools": {"grep": {"run": ["grep", "{{ args.q }}"], "parameters": {"type": "object"}}},
    "steps": {
        "fetch": {"run": ["echo", "{{ inputs.topic }}"], "for_each": ["a", "b"]},
        "review": {
            "needs": ["fetch"],
            "loop": {"max_iterations": 2, "until": "steps.review.check.output == 'ok'"},
            "steps": {
                "draft": {"agent": "writer", "prompt": "{{ steps.fetch.output }}"},
                "check": {"agent": "judge", "prompt": "hi", "needs": ["draft"]},
            },
        },
        "score": {
            "agent": "judge",
            "needs": ["review"],
            "if": "steps.review.status == 'succeeded'",
            "prompt": "{% for x in steps.fetch.results %}{{ x.output }}{% endfor %}",
            "gates": [{"type": "threshold", "field": "score", "min": 0.5}],
        },
    },
    "outputs": {"result": "{{ steps.score.output }}"},
}

FIELD_NAMES = sorted(model_errors._all_field_names() | {"steps", "if", "gates", "loop"})
KEYS = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["{{ steps.x.output }}", "{% if %}", "${HOME}", "30s", "mock/echo", "fetch"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=20,
)
SMALL_VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(KEYS, SCALARS, max_size=3)
)


def no_crash(result: ValidationResult) -> None:
    assert all(d.line >= 1 and d.col >= 1 and d.code for d in result.diagnostics)
    assert (result.workflow is None) == bool(result.errors)


@SETTINGS
@given(VALUES)
def test_random_yaml_documents(data: Any) -> None:
    no_crash(validate_text(yaml.safe_dump(data), "random.yaml"))


@SETTINGS
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_text_and_bytes(text: str | bytes) -> None:
    no_crash(validate_text(text, "random.yaml"))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE)[1:]


def _mutate(data: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[value if isinstance(value, str) else str(value)] = copy.deepcopy(parent[last])
    else:
        parent[last] = value


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add"]), SMALL_VALUES
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_workflows(mutations: list[tuple[tuple[Any, ...], str, Any]]) -> None:
    data = copy.deepcopy(BASE)
    for path, action, value in mutations:
        try:
            _mutate(data, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or reshaped this path
    no_crash(validate_data(data, "mutated.yaml"))
    no_crash(validate_text(yaml.safe_dump(data, sort_keys=False), "mutated.yaml"))


BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False)


@SETTINGS
@given(
    st.integers(min_value=0, max_value=len(BASE_TEXT)),
    st.integers(min_value=0, max_value=20),
    st.text(alphabet="\t\n :-[]{}'\"&*!#%@`|>${}\\ab1", max_size=6),
)
def test_text_edits_of_a_valid_workflow(at: int, cut: int, insert: str) -> None:
    no_crash(validate_text(BASE_TEXT[:at] + insert + BASE_TEXT[at + cut :], "edited.yaml"))


def test_the_base_workflow_is_valid() -> None:
    assert validate_data(BASE).diagnostics == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(VALUES.map(yaml.safe_dump), st.binary(max_size=100)))
def test_the_cli_main_never_shows_a_traceback(document: str | bytes) -> None:
    assume(document)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.yaml"
        path.write_bytes(document if isinstance(document, bytes) else document.encode())
        result = CliRunner().invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code in (0, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
