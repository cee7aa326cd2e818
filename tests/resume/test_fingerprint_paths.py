"""Fingerprints computed the short way say what the general rules say.

- ``digest`` hashes a value's canonical text, with orjson's option for keys that are not
  strings (or the standard encoder) only when a value needs it: the same digest either way;
- ``Reuse.step`` gives the fingerprint ``Fingerprints.step`` gives for the needs' records;
- a step's definition reads the step's fields from its dump and the defaults once: what
  reading the fields gives.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.cache import canonical_json
from agnoctl.engine import resume
from agnoctl.engine.resume import Fingerprints, Reuse, digest
from agnoctl.engine.state import StepRecord
from agnoctl.spec.models import JudgeGate, StepSpec, Workflow

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits: the standard encoder
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
KEYS = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.booleans())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)


def _outcome(compute: Any, value: Any) -> tuple[str, str]:
    try:
        return "digest", compute(value)
    except Exception as exc:  # the standard encoder cannot sort mixed keys: neither path can
        return "error", type(exc).__name__


def _general_digest(value: Any) -> str:
    options = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_NON_STR_KEYS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
    )
    try:
        text = orjson.dumps(value, default=resume._tagged, option=options)
    except orjson.JSONEncodeError:
        text = canonical_json(value).encode()
    return hashlib.sha256(text).hexdigest()


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_digest_is_the_digest_of_the_canonical_text(value: Any) -> None:
    assert _outcome(digest, value) == _outcome(_general_digest, value)


WORKFLOW = Workflow.model_validate(
    {
        "version": 1,
        "name": "w",
        "agents": {"worker": {"model": "mock/echo"}},
        "steps": {
            "a": {"agent": "worker", "prompt": "one"},
            "b": {"agent": "worker", "prompt": "two", "needs": ["a", "c"]},
            "c": {"agent": "worker", "prompt": "three"},
        },
    }
)

PLAN = Reuse(WORKFLOW, {"x": 1})
FINGERPRINTS = Fingerprints(WORKFLOW)


@settings(max_examples=60, deadline=None)
@given(
    status=st.sampled_from(["pending", "succeeded", "failed", "skipped"]),
    output=VALUES,
    loop=st.one_of(st.none(), st.fixed_dictionaries({"iteration": st.integers(1, 3)})),
)
def test_a_plans_step_fingerprint_is_the_fingerprints_one(
    status: str, output: Any, loop: dict[str, Any] | None
) -> None:
    spec: StepSpec = WORKFLOW.steps["b"]
    done = StepRecord(path="a", id="a", spec=WORKFLOW.steps["a"])
    done.status, done.output, done.fingerprint = status, output, "f" * 64  # type: ignore[assignment]
    records = {"a": done}  # `c` has no record yet: pending
    needs: dict[str, tuple[str | None, str, Any]] = {
        "a": ("f" * 64, status, output if status == "succeeded" else None),
        "c": (None, "pending", None),
    }
    expected = _outcome(lambda _: FINGERPRINTS.step(spec, PLAN.top, loop, needs), None)
    assert _outcome(lambda _: PLAN.step(spec, PLAN.top, {"loop": loop}, records), None) == expected


@pytest.mark.parametrize("value", [{1: "a", "b": 2}, {"k": 2**80}, [{True: None}], {"k": 1}])
def test_values_orjson_refuses_without_the_option_still_digest(value: Any) -> None:
    assert digest(value) == _general_digest(value)


def _general_definition(fingerprints: Fingerprints, spec: StepSpec) -> dict[str, Any]:
    """``Fingerprints._definition`` from the step's and the defaults' fields themselves."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    own = {k: v for k, v in data.items() if k not in resume._NOT_IN_DEFINITION}
    own["needs"] = sorted(spec.needs)
    defaults = fingerprints._workflow.defaults
    threshold = spec.success_threshold
    if threshold is None:
        threshold = 1.0 if defaults.success_threshold is None else defaults.success_threshold
    names = {spec.agent} if spec.agent else set()
    names.update(gate.agent for gate in spec.gates or () if isinstance(gate, JudgeGate))
    return {
        "step": own,
        "on_gate_failure": spec.on_gate_failure or defaults.on_gate_failure or "fail",
        "success_threshold": threshold,
        "agents": {name: fingerprints._agent_digest(name) for name in names},
    }


DEFINED_STEPS = {
    "plain": {"agent": "worker", "prompt": "one"},
    "set": {
        "agent": "worker",
        "prompt": "two",
        "needs": ["plain", "cmd"],
        "for_each": ["x", "y"],
        "success_threshold": 0.5,
        "on_gate_failure": "retry",
    },
    "judged": {
        "agent": "worker",
        "prompt": "three",
        "gates": [{"type": "judge", "agent": "judge", "rubric": "good"}],
    },
    "cmd": {"run": ["echo", "x"], "if": "{{ true }}"},
    "group": {"steps": {"in": {"agent": "judge", "prompt": "p"}}, "success_threshold": 0.0},
}


@pytest.mark.parametrize(
    "defaults", [{}, {"on_gate_failure": "warn", "success_threshold": 0.25}, {"timeout": "5s"}]
)
@pytest.mark.parametrize("dumped_first", [False, True])
def test_a_steps_definition_reads_its_dump_as_its_fields(
    defaults: dict[str, Any], dumped_first: bool
) -> None:
    workflow = Workflow.model_validate(
        {
            "version": 1,
            "name": "w",
            "agents": {"worker": {"model": "mock/echo"}, "judge": {"model": "mock/j"}},
            "defaults": defaults,
            "steps": DEFINED_STEPS,
        }
    )
    fingerprints = Fingerprints(workflow)
    if dumped_first:  # the run's dump hands each step its part
        fingerprints.run({})
    group = workflow.steps["group"].steps
    assert group is not None
    for spec in [*workflow.steps.values(), *group.values()]:
        assert fingerprints._definition(spec) == _general_definition(fingerprints, spec)
