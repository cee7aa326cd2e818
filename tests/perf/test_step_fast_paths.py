"""The short paths every agent step takes say exactly what the general ones say.

- ``EventSink.started`` / ``succeeded`` / ``llm_call`` write the line (and hand listeners the
  event) that ``emit`` writes from the same fields as keywords;
- lines and digests are encoded without orjson's option for keys that are not strings, and
  with it (or the standard encoder) when a value holds such a key: the same bytes either way;
- ``ReusePlan.step`` gives the fingerprint ``Fingerprints.step`` gives for the needs' records;
- the cost ledger, which keeps each call's counts as they come, sums its tables from them,
  bit for bit as when it added each call to its row (step, agent, model, tags) at once;
- an agent's ``AgentPlan`` holds what its ``AgentSpec`` says;
- a step's definition (for its fingerprint) reads the step's fields from its dump and the
  defaults once: what reading the fields gives.

No timing is asserted here.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnoctl.cache import canonical_json
from agnoctl.engine import resume
from agnoctl.engine.budget import CostLedger, tag_labels
from agnoctl.engine.resume import Fingerprints, ReusePlan, digest
from agnoctl.engine.runtime import AgentPlan
from agnoctl.engine.state import StepRecord
from agnoctl.events import EventSink, encode_line
from agnoctl.spec.models import AgentSpec, JudgeGate, StepSpec, Workflow

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
MAYBE_INT = st.one_of(st.none(), st.integers(0, 5))


def _lines(tmp_path: Path, name: str, write: Any) -> tuple[bytes, list[dict[str, Any]]]:
    heard: list[dict[str, Any]] = []
    sink = EventSink(tmp_path / name, "r-1", listeners=(heard.append,))
    write(sink)
    sink.close()
    lines = (tmp_path / name).read_bytes()
    (tmp_path / name).unlink()
    return lines, heard


def _same_as_emit(tmp_path: Path, kind: str, fields: dict[str, Any], write: Any) -> None:
    fast, fast_heard = _lines(tmp_path, "fast.jsonl", write)
    slow, slow_heard = _lines(tmp_path, "slow.jsonl", lambda sink: sink.emit(kind, **fields))
    # `ts` is the clock's: compare everything else, and the encoding of the whole event.
    for event in (*fast_heard, *slow_heard):
        event["ts"] = "-"
    assert fast_heard == slow_heard
    assert list(fast_heard[0]) == list(slow_heard[0])  # the same keys in the same order
    assert [encode_line(event) for event in fast_heard] == [
        encode_line(event) for event in slow_heard
    ]
    assert fast.count(b"\n") == slow.count(b"\n") == 1
    assert orjson.loads(fast)["type"] == kind
    assert fast == encode_line(_with_ts(fast_heard[0], fast))


def _with_ts(event: dict[str, Any], line: bytes) -> dict[str, Any]:
    return {**event, "ts": orjson.loads(line)["ts"]}


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(
    kind=st.sampled_from(["step_started", "item_started"]),
    item=MAYBE_INT,
    iteration=MAYBE_INT,
    items=MAYBE_INT,
)
def test_started_writes_what_emit_writes(
    tmp_path: Path, kind: str, item: int | None, iteration: int | None, items: int | None
) -> None:
    fields = {"step": "a.b", "item": item, "iteration": iteration, "items": items}
    _same_as_emit(
        tmp_path, kind, fields, lambda sink: sink.started(kind, "a.b", item, iteration, items)
    )


@_SETTINGS
@given(
    kind=st.sampled_from(["step_succeeded", "item_succeeded"]),
    item=MAYBE_INT,
    iteration=MAYBE_INT,
    output=VALUES,
    fingerprint=st.one_of(st.none(), st.just("f" * 64)),
    duration=st.one_of(st.none(), st.floats(0, 1e6)),
)
def test_succeeded_writes_what_emit_writes(
    tmp_path: Path,
    kind: str,
    item: int | None,
    iteration: int | None,
    output: Any,
    fingerprint: str | None,
    duration: float | None,
) -> None:
    fields = {
        "step": "s",
        "item": item,
        "iteration": iteration,
        "output": output,
        "fingerprint": fingerprint,
        "duration_ms": duration,
    }
    _same_as_emit(
        tmp_path,
        kind,
        fields,
        lambda sink: sink.succeeded(kind, "s", item, iteration, output, fingerprint, duration),
    )


@_SETTINGS
@given(
    item=MAYBE_INT,
    agent=st.one_of(st.none(), st.just("worker")),
    purpose=st.sampled_from(["task", "judge"]),
    text=VALUES,
)
def test_llm_call_writes_what_emit_writes(
    tmp_path: Path, item: int | None, agent: str | None, purpose: str, text: Any
) -> None:
    reply = {"text": text, "tool_calls": []}
    values = ("s", item, 2, purpose, agent, "mock", "echo", 3, 4, 0.5, reply, 1.25)
    fields = {
        "step": "s",
        "item": item,
        "attempt": 2,
        "purpose": purpose,
        "agent": agent,
        "provider": "mock",
        "model": "echo",
        "tokens_in": 3,
        "tokens_out": 4,
        "cost": 0.5,
        "error": None,
        "cached": None,
        "reply": reply,
        "duration_ms": 1.25,
    }
    _same_as_emit(tmp_path, "llm_call", fields, lambda sink: sink.llm_call(*values))


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

PLAN = ReusePlan(WORKFLOW, {"x": 1})
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


# Every call of a run is one ledger row's worth of counts: the tables must be the sums of the
# calls, each call under its step, model, agent and every tag label.
TAGS: list[Any] = [None, ["team-a", "x"], {"env": "ci"}]
CALLS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "fan"]),
        st.sampled_from([None, "worker", "judge"]),
        st.sampled_from(["mock/echo", "openai/gpt"]),
        st.sampled_from(range(len(TAGS))),
        st.integers(0, 50),
        st.integers(0, 50),
        st.integers(0, 64).map(lambda eighths: eighths / 8),  # exact in binary: any order sums
        st.integers(0, 1),
        st.integers(0, 1),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(CALLS)
def test_the_ledgers_tables_are_the_sums_of_its_calls(calls: list[tuple[Any, ...]]) -> None:
    ledger = CostLedger()
    expected: dict[str, dict[str, dict[str, Any]]] = {
        "by_step": {},
        "by_agent": {},
        "by_model": {},
        "by_tag": {},
    }
    total = _totals()
    for step, agent, model, tags, tokens_in, tokens_out, cost, count, hits in calls:
        ledger.add(step, agent, model, TAGS[tags], tokens_in, tokens_out, cost, count, hits)
        names = [("by_step", step), ("by_model", model)]
        names += [("by_agent", agent)] if agent is not None else []
        names += [("by_tag", label) for label in tag_labels(TAGS[tags])]
        for table, name in [*names, ("", "")]:
            row = total if not table else expected[table].setdefault(name, _totals())
            row["calls"] += count
            row["cache_hits"] += hits
            row["tokens_in"] += tokens_in
            row["tokens_out"] += tokens_out
            row["tokens"] += tokens_in + tokens_out
            row["cost_usd"] += cost
    tables = {name: dict(sorted(rows.items())) for name, rows in expected.items()}
    assert ledger.as_dict() == {"total": total, **tables}


# Costs that are not exact in binary: the sums depend on their order. The ledger used to add
# each call to its row when it was made and to sum the tables from the rows, in the order of
# each row's first call; it keeps the calls and sums later, and must give the same floats.
REAL_CALLS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "fan"]),
        st.sampled_from([None, "worker", "judge"]),
        st.sampled_from(["mock/echo", "openai/gpt"]),
        st.sampled_from(range(len(TAGS))),
        st.floats(0, 1e12, allow_nan=False),  # large: rounding to 6 decimals keeps the last bits
    ),
    max_size=16,
)


@settings(max_examples=200, deadline=None)
@given(REAL_CALLS)
def test_the_ledgers_sums_are_those_of_rows_added_to_call_by_call(
    calls: list[tuple[Any, ...]],
) -> None:
    ledger = CostLedger()
    rows: dict[tuple[Any, ...], list[Any]] = {}  # the rows as they were kept before
    for step, agent, model, tags, cost in calls:
        ledger.add(step, agent, model, TAGS[tags], 1, 2, cost)
        row = rows.setdefault((step, agent, model, tags), [0.0, TAGS[tags]])
        row[0] += cost
    expected: dict[str, dict[str, float]] = {"by_step": {}, "by_agent": {}, "by_model": {}}
    expected["by_tag"] = {}
    total = 0.0
    for (step, agent, model, _), (cost, tags) in rows.items():
        total += cost
        names = [("by_step", step), ("by_model", model)]
        names += [("by_agent", agent)] if agent is not None else []
        names += [("by_tag", label) for label in tag_labels(tags)]
        for table, name in names:
            expected[table][name] = expected[table].get(name, 0.0) + cost
    tables = ledger.as_dict()
    assert tables["total"]["cost_usd"] == round(total, 6)
    for table, sums in expected.items():
        assert {name: row["cost_usd"] for name, row in tables[table].items()} == {
            name: round(value, 6) for name, value in sums.items()
        }


def _totals() -> dict[str, Any]:
    return dict.fromkeys(["calls", "cache_hits", "tokens_in", "tokens_out", "tokens"], 0) | {
        "cost_usd": 0.0
    }


# Durations in events are `round(seconds * 1_000_000) / 1000`: what `round(ms, 3)` gives, at
# half the cost. Both round half to even; they could differ only where multiplying by 10**6
# rounds, but a difference of two readings of the clock is a multiple of its resolution, which
# that product holds exactly.
@settings(max_examples=500, deadline=None)
@given(
    start=st.floats(1.7e9, 2.1e9),  # time.time() now and for decades
    seconds=st.one_of(st.floats(0, 1e-3), st.floats(0, 10), st.floats(0, 1e5)),
)
def test_durations_round_as_round_to_three_decimals(start: float, seconds: float) -> None:
    elapsed = (start + seconds) - start  # as two readings of the clock differ
    assert round(elapsed * 1_000_000) / 1000 == round(elapsed * 1000, 3)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**40))
def test_durations_on_the_clocks_grid_round_as_round_to_three_decimals(ticks: int) -> None:
    elapsed = ticks * 2.0**-22  # time.time()'s resolution today
    assert round(elapsed * 1_000_000) / 1000 == round(elapsed * 1000, 3)


@pytest.mark.parametrize(
    "agent",
    [
        {"model": "mock/echo"},
        {
            "model": "openai/gpt-4o",
            "fallback_models": ["anthropic/claude", "mock/echo"],
            "instructions": "Be {{ inputs.tone }}.",
            "temperature": 0.2,
            "max_tokens": 64,
            "tools": ["search"],
            "output_schema": {"type": "object", "required": ["a"]},
        },
    ],
)
def test_an_agents_plan_holds_its_specs_fields(agent: dict[str, Any]) -> None:
    spec = AgentSpec.model_validate(agent)
    plan = AgentPlan.of(spec)
    assert plan.spec is spec
    for field in dataclasses.fields(AgentPlan):
        if field.name != "spec":
            assert getattr(plan, field.name) == getattr(spec, field.name), field.name


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
