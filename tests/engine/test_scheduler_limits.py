"""Concurrency caps and priorities: the limiter itself, and whole runs that measure in-flight."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import anyio
import pytest
from engine_flows import Runner, workflow

from agnoctl.engine.limits import PriorityLimiter
from agnoctl.providers.base import ModelReply, ModelRequest
from agnoctl.providers.function import FunctionProvider

# ---------------------------------------------------------------------------- the limiter


@pytest.mark.anyio
async def test_waiters_are_served_by_priority_then_arrival() -> None:
    limiter = PriorityLimiter(1)
    await limiter.acquire()
    served: list[str] = []

    async def wait(name: str, priority: int) -> None:
        await limiter.acquire(priority)
        served.append(name)
        limiter.release()

    async with anyio.create_task_group() as tg:
        for name, priority in [("low", 0), ("high", 5), ("mid", 3), ("high2", 5), ("low2", 0)]:
            tg.start_soon(wait, name, priority)
            await anyio.wait_all_tasks_blocked()
        limiter.release()
    assert served == ["high", "high2", "mid", "low", "low2"]
    assert limiter.in_use == 0 and limiter.peak == 1


@pytest.mark.anyio
async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    limiter = PriorityLimiter(1)
    await limiter.acquire()
    served: list[str] = []

    async def wait(name: str) -> None:
        await limiter.acquire()
        served.append(name)
        limiter.release()

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as doomed:
            tg.start_soon(wait, "first")
            await anyio.wait_all_tasks_blocked()
        async with anyio.create_task_group() as inner:
            inner.start_soon(_cancel_waiter, limiter, doomed)
            await anyio.wait_all_tasks_blocked()
        tg.start_soon(wait, "second")
        await anyio.wait_all_tasks_blocked()
        limiter.release()
    assert served == ["first", "second"]
    assert limiter.in_use == 0 and limiter.waiting == 0


async def _cancel_waiter(limiter: PriorityLimiter, scope: anyio.CancelScope) -> None:
    with anyio.CancelScope() as own:
        own.cancel()
        await limiter.acquire()  # cancelled before it waits: must leave no trace
    scope.cancel()


@pytest.mark.anyio
async def test_a_slot_granted_to_a_cancelled_waiter_passes_on() -> None:
    limiter = PriorityLimiter(1)
    await limiter.acquire()
    got: list[str] = []

    async def wait(name: str) -> None:
        await limiter.acquire()
        got.append(name)
        limiter.release()

    async with anyio.create_task_group() as tg, anyio.create_task_group() as doomed:
        doomed.start_soon(wait, "cancelled")
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(wait, "next")
        await anyio.wait_all_tasks_blocked()
        doomed.cancel_scope.cancel()  # "cancelled" is being cancelled...
        limiter.release()  # ...when the slot is handed to it
    assert got == ["next"]
    assert limiter.in_use == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PriorityLimiter(0)


# ---------------------------------------------------------------------------- whole runs


def test_priorities_order_starts_under_max_concurrency_one(run: Runner) -> None:
    steps = {
        "low": {"agent": "a", "prompt": "x", "priority": 1},
        "high": {"agent": "a", "prompt": "x", "priority": 9},
        "mid": {"agent": "a", "prompt": "x", "priority": 5},
        "default": {"agent": "a", "prompt": "x"},
        "after": {"agent": "a", "prompt": "x", "needs": ["high"], "priority": 7},
    }
    fixtures = {"agents": {"a": {"text": "ok", "delay": "20ms"}}}
    report = run(workflow(steps, limits={"max_concurrency": 1}), fixtures)
    assert report.status == "passed"
    # "after" becomes ready when "high" ends, and "mid" already waits for that slot
    assert run.started() == ["high", "mid", "after", "low", "default"]


class InFlight:
    """A provider that sleeps a little per call and records how many calls overlap."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.provider = FunctionProvider(self.reply)

    async def reply(self, request: ModelRequest) -> ModelReply:
        agent = request.context.agent or "?"
        for key in (agent, "run"):
            self.now[key] += 1
            self.peak[key] = max(self.peak[key], self.now[key])
        await anyio.sleep(0.004)
        for key in (agent, "run"):
            self.now[key] -= 1
        return ModelReply(text="ok")


def random_workflow(rng: random.Random, steps: int) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for i in range(steps):
        needs = rng.sample([f"s{j}" for j in range(i)], k=min(i, rng.randint(0, 3)))
        step: dict[str, Any] = {
            "agent": rng.choice(["x", "y", "z"]),
            "prompt": "p",
            "priority": rng.randint(0, 3),
        }
        if needs:
            step["needs"] = needs
        if rng.random() < 0.3:
            step["for_each"] = list(range(rng.randint(1, 12)))
            step["max_concurrency"] = rng.randint(1, 4)
        spec[f"s{i}"] = step
    return spec


@pytest.mark.parametrize("seed", range(4))
def test_caps_are_never_exceeded_in_random_dags(run: Runner, seed: int) -> None:
    rng = random.Random(seed)
    caps = {"x": 2, "y": 3, "z": 1}
    spec = workflow(
        random_workflow(rng, 25),
        agents={name: {"model": "fn/m", "max_concurrency": cap} for name, cap in caps.items()},
        providers={"fn": {"type": "mock"}},
        limits={"max_concurrency": 4},
    )
    flight = InFlight()
    report = run(spec, providers={"fn": flight.provider})
    assert report.status == "passed"
    assert flight.peak["run"] <= 4
    for agent, cap in caps.items():
        assert flight.peak[agent] <= cap, agent
    assert flight.peak["run"] >= 2  # the caps were actually exercised


def test_for_each_max_concurrency(run: Runner) -> None:
    spec = workflow(
        {
            "fan": {
                "agent": "a",
                "prompt": "{{ item }}",
                "for_each": list(range(20)),
                "max_concurrency": 3,
            }
        },
        agents={"a": {"model": "fn/m"}},
        providers={"fn": {"type": "mock"}},
    )
    flight = InFlight()
    report = run(spec, providers={"fn": flight.provider})
    assert report.steps["fan"].status == "succeeded"
    assert flight.peak["run"] == 3
    assert run.started()[1:4] == ["fan[0]", "fan[1]", "fan[2]"]  # items start in order


def test_groups_hold_no_slot_while_their_children_run(run: Runner) -> None:
    # Two groups under max_concurrency 1: if a group held the only slot, its children could
    # never start and the run would hang.
    child = {"steps": {"inner": {"agent": "a", "prompt": "x"}}}
    report = run(workflow({"g1": child, "g2": child}, limits={"max_concurrency": 1}))
    assert report.status == "passed"
