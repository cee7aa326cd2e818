"""The shortcuts on the checks' hot path find exactly what the general code finds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.spec.checks import STEP_ATTRIBUTES, _Checker, _Read, _Scope, _Spec
from agnoctl.spec.loader import SourceMap
from agnoctl.spec.models import Workflow
from agnoctl.spec.refs import Access, _dotted, reads
from agnoctl.spec.validate import validate_text

WORKFLOW = """
version: 1
name: t
agents: {a: {model: mock/echo}}
steps:
  one: {agent: a, prompt: x}
  two: {agent: a, prompt: x, needs: [one]}
  group:
    needs: [two]
    steps:
      inner: {agent: a, prompt: x}
      after: {agent: a, prompt: x, needs: [inner]}
"""
_KEYS = st.lists(
    st.one_of(
        st.sampled_from(
            ["one", "two", "self", "group", "inner", "after", "nope", *STEP_ATTRIBUTES]
        ),
        st.integers(0, 2),
        st.none(),
    ),
    max_size=4,
).map(tuple)
_READERS = st.sampled_from(["one", "two", "group", "group.inner", "group.after", "nope"])


def _checker() -> _Checker:
    workflow = validate_text(WORKFLOW).workflow
    assert workflow is not None
    return _Checker(_Spec(workflow), SourceMap.empty("t.yaml"))


@given(_KEYS)
def test_a_step_read_resolves_as_the_walk_does(keys: tuple[Any, ...]) -> None:
    checker = _checker()
    assert checker._resolve(keys) == checker._walk_keys(keys)


@given(_READERS, _READERS, st.booleans())
def test_top_level_reads_are_allowed_as_may_read_allows_them(
    reader: str, target: str, own_children: bool
) -> None:
    checker = _checker()
    scope = _Scope(reader=reader, reads_own_children=own_children)
    expected = (own_children and target.startswith(reader + ".")) or checker.may_read(
        reader, target
    )
    assert checker._allowed(scope, target) == expected


_NAMES = st.sampled_from(["steps.a.output", "inputs.topic", "item", "x.y.z", "true", "none.x"])


@given(st.lists(st.one_of(_NAMES.map(lambda n: "{{ " + n + " }}"), st.just(" text ")), max_size=6))
def test_one_line_templates_give_the_accesses_of_the_general_path(parts: list[str]) -> None:
    template = "".join(parts)
    found = reads.__wrapped__(template, False).accesses
    # The same template on two lines goes through the general path (line numbers aside).
    general = reads.__wrapped__(template + "\n", False).accesses
    assert found == general
    assert all(type(access) is Access for access in found)
    for access in found:
        assert access == _dotted(access.text if access.keys else access.root, 1)


def _reported(general: _Checker, reader: str, keys: tuple[Any, ...]) -> bool:
    """Whether the general path reports a read: an unknown step, one not among the
    reader's needs, or the `results` of a step without for_each (no step here has one)."""
    target, unknown = general._resolve(keys)
    if unknown is not None:
        return True
    if target is None:
        return False
    if not general._allowed(_Scope(reader=reader), target):
        return True
    return keys[target.count(".") + 1 :][:1] == ("results",)


@given(_READERS, _KEYS)
def test_a_direct_need_read_is_allowed_by_the_general_path(
    reader: str, keys: tuple[Any, ...]
) -> None:
    """_check_step_read's shortcut reports nothing only where _resolve and _allowed agree."""
    checker = _checker()
    access = Access("steps", keys, 1)
    checker._check_step_read(_Read(("steps", reader, "prompt"), access), _Scope(reader=reader))
    assert bool(checker.diagnostics) == _reported(_checker(), reader, keys)


# Needs the model accepts but the graph check rejects: a step needing itself, and a need of
# a step that does not exist. The checks still run on such a workflow.
_ODD_NEEDS = Workflow.model_validate(
    {
        "version": 1,
        "name": "t",
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {
            "one": {"agent": "a", "prompt": "x"},
            "self": {"agent": "a", "prompt": "x", "needs": ["self", "one", "nope"]},
        },
    }
)


@settings(deadline=None)  # the first example imports networkx to read the cycle's needs
@given(
    st.sampled_from(["one", "self", "nope"]),
    st.one_of(
        _KEYS,  # and, often, the shortcut's own shape: `steps.<id>.<attribute>`
        st.tuples(
            st.sampled_from(["one", "self", "nope"]), st.sampled_from(sorted(STEP_ATTRIBUTES))
        ),
    ),
)
def test_odd_needs_are_read_as_the_general_path_reads_them(
    reader: str, keys: tuple[Any, ...]
) -> None:
    def checker() -> _Checker:
        return _Checker(_Spec(_ODD_NEEDS), SourceMap.empty("t.yaml"))

    fast = checker()
    fast._check_step_read(
        _Read(("steps", reader, "prompt"), Access("steps", keys, 1)), _Scope(reader)
    )
    assert bool(fast.diagnostics) == _reported(checker(), reader, keys)
