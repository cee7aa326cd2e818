"""The output_schema check skips jsonschema only for schemas the metaschema surely accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import SchemaError
from jsonschema.validators import validator_for

from agnoctl.spec.checks import _PLAIN_KEYWORDS, _plainly_valid, _schema_problem

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False, min_value=-3, max_value=3),
    st.sampled_from(["string", "number", "integer", "object", "array", "null", "text", "("]),
    st.lists(st.sampled_from(["string", "number", "a", "a"]), max_size=3),
)
_KEYWORDS = st.sampled_from([*_PLAIN_KEYWORDS, "pattern", "$ref", "x-note"])


def _schemas(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    value = st.one_of(_VALUES, children, st.dictionaries(st.text(max_size=3), children, max_size=3))
    return st.dictionaries(_KEYWORDS, value, max_size=4)


SCHEMAS = st.recursive(st.one_of(st.booleans(), _schemas(_VALUES)), _schemas, max_leaves=12)


def _metaschema_accepts(schema: Any) -> bool:
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(SCHEMAS)
def test_a_plainly_valid_schema_is_valid(schema: Any) -> None:
    if _plainly_valid(schema):
        assert _metaschema_accepts(schema)


def test_common_schemas_take_the_fast_path() -> None:
    schema = {
        "type": "object",
        "properties": {"score": {"type": "number", "minimum": 0}, "tags": {"type": "array"}},
        "required": ["score"],
        "additionalProperties": False,
    }
    assert _plainly_valid(schema)
    assert _schema_problem('{"type": "object"}') is None


def test_anything_unusual_goes_to_jsonschema() -> None:
    assert not _plainly_valid({"type": "text"})
    assert not _plainly_valid({"required": ["a", "a"]})
    assert not _plainly_valid({"minItems": True})
    assert not _plainly_valid({"pattern": "("})
    assert _schema_problem('{"pattern": "("}') is not None
    assert _schema_problem('{"type": "text"}') is not None


def test_validate_of_plain_schemas_does_not_import_jsonschema(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        "version: 1\nname: flow\nagents:\n  w:\n    model: mock/echo\n    output_schema:\n"
        "      type: object\n      properties: {score: {type: number}}\n"
        "steps:\n  a: {agent: w, prompt: hi}\n",
        encoding="utf-8",
    )
    probe = (
        "import sys\nfrom agnoctl.cli import main\n"
        f"sys.argv = ['agnoctl', 'validate', {str(path)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
