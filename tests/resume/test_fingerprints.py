"""Fingerprints: any change of what a step computes changes it; how it runs does not."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from agnoctl.engine.resume import Fingerprints, digest
from agnoctl.spec.models import Workflow

BASE: dict[str, Any] = {
    "version": 1,
    "name": "fp",
    "inputs": {"topic": {"default": "x"}},
    "env": {"REGION": "eu"},
    "providers": {
        "local": {"type": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": "k1"}
    },
    "agents": {
        "writer": {"model": "local/m", "instructions": "Write.", "tools": ["grep"]},
        "judge": {"model": "local/j", "instructions": "Judge."},
    },
    "tools": {"grep": {"run": ["grep", "{{ args.q }}"], "parameters": {"type": "object"}}},
    "steps": {
        "write": {
            "agent": "writer",
            "prompt": "Write about {{ inputs.topic }}",
            "gates": [{"type": "judge", "agent": "judge", "rubric": "good"}],
        },
        "group": {
            "steps": {
                "a": {"run": ["echo", "a"]},
                "b": {"run": ["echo", "b"], "needs": ["a"]},
            }
        },
    },
}


def _definitions(changes: dict[str, Any] | None = None) -> dict[str, str]:
    data = copy.deepcopy(BASE)
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        target = data
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    workflow = Workflow.model_validate(data)
    fingerprints = Fingerprints(workflow)
    group = workflow.steps["group"]
    assert group.steps is not None
    return {
        "write": fingerprints.definition(workflow.steps["write"]),
        "group": fingerprints.definition(group),
        "a": fingerprints.definition(group.steps["a"]),
        "b": fingerprints.definition(group.steps["b"]),
    }


ORIGINAL = _definitions()

WRITE_CHANGES = {
    "prompt": {"steps.write.prompt": "Write on {{ inputs.topic }}"},
    "output_schema": {"steps.write.output_schema": {"type": "object"}},
    "gate_rubric": {"steps.write.gates": [{"type": "judge", "agent": "judge", "rubric": "great"}]},
    "on_gate_failure": {"steps.write.on_gate_failure": "retry"},
    "default_on_gate_failure": {"defaults.on_gate_failure": "warn"},
    "if": {"steps.write.if": "true"},
    "model": {"agents.writer.model": "local/other"},
    "fallback": {"agents.writer.fallback_models": ["local/other"]},
    "instructions": {"agents.writer.instructions": "Write well."},
    "temperature": {"agents.writer.temperature": 0.5},
    "agent_schema": {"agents.writer.output_schema": {"type": "string"}},
    "judge_agent": {"agents.judge.model": "local/j2"},
    "provider_url": {"providers.local.base_url": "http://127.0.0.1:2/v1"},
    "provider_type": {"providers.local.type": "ollama"},
    "tool": {"tools.grep.run": ["grep", "-i", "{{ args.q }}"]},
}


@pytest.mark.parametrize("change", sorted(WRITE_CHANGES))
def test_what_a_step_computes_is_in_its_fingerprint(change: str) -> None:
    assert _definitions(WRITE_CHANGES[change])["write"] != ORIGINAL["write"]


HOW_IT_RUNS = {
    "timeout": {"steps.write.timeout": "5m"},
    "retry": {"steps.write.retry": {"max_attempts": 9}},
    "priority": {"steps.write.priority": 3},
    "tags": {"steps.write.tags": ["x"]},
    "cache": {"steps.write.cache": False},
    "continue_on_error": {"steps.write.continue_on_error": True},
    "defaults_timeout": {"defaults.timeout": "1s"},
    "api_key": {"providers.local.api_key": "k2"},
    "agent_concurrency": {"agents.writer.max_concurrency": 2},
    "agent_cache": {"agents.writer.cache": False},
    "other_step": {"steps.other": {"run": ["true"]}},
}


@pytest.mark.parametrize("change", sorted(HOW_IT_RUNS))
def test_how_a_step_runs_is_not(change: str) -> None:
    assert _definitions(HOW_IT_RUNS[change])["write"] == ORIGINAL["write"]


def test_editing_a_child_leaves_its_siblings_and_group_alone() -> None:
    edited = _definitions({"steps.group.steps.b": {"run": ["echo", "B"], "needs": ["a"]}})
    assert edited["b"] != ORIGINAL["b"]
    assert (edited["a"], edited["group"]) == (ORIGINAL["a"], ORIGINAL["group"])


def test_needs_in_any_order_are_the_same_needs() -> None:
    first = _definitions({"steps.c": {"run": ["true"], "needs": ["write", "group"]}})
    second = _definitions({"steps.c": {"run": ["true"], "needs": ["group", "write"]}})
    assert first == second


def _step(**overrides: Any) -> str:
    workflow = Workflow.model_validate(BASE)
    arguments: dict[str, Any] = {
        "scope": "scope",
        "loop": None,
        "needs": {"a": ("fa", "succeeded", {"x": 1})},
    }
    arguments.update(overrides)
    return Fingerprints(workflow).step(workflow.steps["write"], **arguments)


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": "other scope"},
        {"loop": {"iteration": 2, "previous": {"a": None}}},
        {"needs": {"a": ("fa", "succeeded", {"x": 2})}},
        {"needs": {"a": ("fb", "succeeded", {"x": 1})}},
        {"needs": {"a": ("fa", "skipped", {"x": 1})}},
        {"needs": {}},
    ],
)
def test_what_a_step_reads_is_in_its_fingerprint(overrides: dict[str, Any]) -> None:
    assert _step(**overrides) != _step()


def test_output_spelling_does_not_matter() -> None:
    assert _step(needs={"a": ("fa", "succeeded", {"x": 1})}) == _step()
    assert _step(needs={"a": ("fa", "succeeded", [1, 2])}) == _step(
        needs={"a": ("fa", "succeeded", (1, 2))}
    )


def test_items_and_runs() -> None:
    workflow = Workflow.model_validate(BASE)
    fingerprints = Fingerprints(workflow)
    item = Fingerprints.item("step", 0, "a")
    assert item == Fingerprints.item("step", 0, "a")
    assert len({item, Fingerprints.item("step", 1, "a"), Fingerprints.item("step", 0, "b")}) == 3
    assert Fingerprints.item("other", 0, "a") != item
    assert fingerprints.top({"topic": "x"}) != fingerprints.top({"topic": "y"})
    mocked = Fingerprints(workflow, mock=True)
    assert mocked.top({"topic": "x"}) != fingerprints.top({"topic": "x"})
    assert mocked.run({"topic": "x"}) != fingerprints.run({"topic": "x"})
    assert fingerprints.run({"topic": "x"}) != fingerprints.run({"topic": "y"})
    edited = Workflow.model_validate({**BASE, "description": "changed"})
    assert Fingerprints(edited).run({"topic": "x"}) != fingerprints.run({"topic": "x"})
    rotated = copy.deepcopy(BASE)
    rotated["providers"]["local"]["api_key"] = "k2"
    assert Fingerprints(Workflow.model_validate(rotated)).run({"topic": "x"}) == fingerprints.run(
        {"topic": "x"}
    )


# Values computed by the code that wrote the journals in use: a resume reuses a step's work
# only if its fingerprint comes out the same, so a faster digest must not change one of them.
PINNED_DEFINITIONS = {
    "write": "6b4a60209fd845a6c564ae0fe16d09c2dccd151dc723a2bb66fd7ffafe10997f",
    "group": "1abaa3f76841e0dec2288cdf4ac8f4e7d135c297234fc859a0fbbe4fee94480d",
    "a": "5dc8ea3c59a5ece48c75b7b6e9e16bdbdd47a0c6ce4142045ab2b6377474a6ad",
    "b": "496987351ad07f1029707f0d470a5b1ffb5ab5d47f682034964271e7ffc4c1ce",
}


def test_fingerprint_values_are_those_earlier_journals_hold() -> None:
    assert ORIGINAL == PINNED_DEFINITIONS
    workflow = Workflow.model_validate(BASE)
    fingerprints = Fingerprints(workflow)
    assert fingerprints.run({"topic": "x"}) == (
        "991a1c19364deded1367b352b29a640c00cc5cdc52dd2384d8e92e3ce10678dc"
    )
    assert fingerprints.top({"topic": "x"}) == (
        "470cf26afda7d76d1f10e708bb6a0ff5b9b2d2ac1ccac35f70d541da85302ec1"
    )
    assert _step() == "636ec8d246e7a9abb70c4b55f8abe7675f3cb324913562e9ddd1b9737c979dea"
    assert Fingerprints.item("step", 0, {"a": [1, 2.5, None]}) == (
        "4cdace4c7adc152c9aaa8af8a6d95736e5f94782947ace841cf0891aefda6dda"
    )
    odd = {"big": 2**80, "date": datetime.date(2024, 1, 2), "t": (1, "é")}
    assert digest(odd) == "e3d0f7ee99e7f8ce2a052bb4731c9c8c5b5b6c286b969d164ee45ef8d70db3b5"


def test_definitions_from_the_runs_dump_are_those_of_each_steps_own_dump() -> None:
    workflow = Workflow.model_validate(BASE)
    fingerprints = Fingerprints(workflow)
    fingerprints.run({"topic": "x"})  # keeps each step's part of the workflow's dump
    group = workflow.steps["group"]
    assert group.steps is not None
    specs = {"write": workflow.steps["write"], "group": group, **group.steps}
    assert {name: fingerprints.definition(spec) for name, spec in specs.items()} == (
        PINNED_DEFINITIONS
    )
