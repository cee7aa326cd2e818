"""Budgets: each limit, reservations under concurrency, the 80% warning, cost attribution."""

from __future__ import annotations

import json
import random

import anyio
import anyio.lowlevel
import pytest

from agnoctl.engine.budget import (
    Budget,
    BudgetExceeded,
    CostLedger,
    Overrun,
    Reservation,
    tag_labels,
)
from agnoctl.spec.models import LimitsSpec


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def budget(**limits: float) -> tuple[Budget, list[tuple[str, float, float]]]:
    warnings: list[tuple[str, float, float]] = []
    spec = LimitsSpec.model_validate(limits)
    return Budget(spec, on_warning=lambda *args: warnings.append(args)), warnings


# --------------------------------------------------------------------------- each limit


def test_max_llm_calls() -> None:
    calls, _ = budget(max_llm_calls=2)
    for _ in range(2):
        calls.settle(calls.reserve(tokens=10, cost=0.0), tokens=10, cost=0.0)
    with pytest.raises(BudgetExceeded) as caught:
        calls.reserve(tokens=10, cost=0.0)
    error = caught.value.overrun
    assert (error.limit, error.limit_value, error.used, error.requested) == (
        "max_llm_calls",
        2,
        2,
        1,
    )
    assert str(error) == (
        "max_llm_calls 2 reached: 2 calls started; raise limits.max_llm_calls to allow more"
    )


def test_max_tokens() -> None:
    tokens, _ = budget(max_tokens=1000)
    tokens.settle(tokens.reserve(tokens=600, cost=0.0), tokens=550, cost=0.0)
    in_flight = tokens.reserve(tokens=300, cost=0.0)
    with pytest.raises(BudgetExceeded) as caught:
        tokens.reserve(tokens=200, cost=0.0)
    assert str(caught.value) == (
        "max_tokens 1000 reached: 550 used, 300 reserved by calls in flight, "
        "the next call could use up to 200; raise limits.max_tokens to allow more"
    )
    tokens.settle(in_flight, tokens=100, cost=0.0)
    assert tokens.usage()["max_tokens"] == {"limit": 1000, "used": 650}


def test_max_cost_usd() -> None:
    cost, _ = budget(max_cost_usd=2.0)
    cost.settle(cost.reserve(tokens=0, cost=2.0), tokens=0, cost=1.97)
    with pytest.raises(BudgetExceeded) as caught:
        cost.reserve(tokens=0, cost=0.06)
    assert str(caught.value) == (
        "max_cost_usd 2.00 reached: 1.97 spent, the next call could cost up to 0.06; "
        "raise limits.max_cost_usd to allow more"
    )
    assert cost.exhausted is not None and cost.exhausted.limit == "max_cost_usd"


def test_a_call_that_fits_exactly_is_allowed_despite_float_sums() -> None:
    cost, _ = budget(max_cost_usd=0.3)
    for _ in range(3):  # 0.1 + 0.1 + 0.1 == 0.30000000000000004
        cost.settle(cost.reserve(tokens=0, cost=0.1), tokens=0, cost=0.1)
    with pytest.raises(BudgetExceeded):
        cost.reserve(tokens=0, cost=0.0001)


def test_small_amounts_keep_their_digits() -> None:
    error = BudgetExceeded(
        Overrun("max_cost_usd", limit_value=0.001, used=0.0004, requested=0.00075)
    )
    assert str(error).startswith(
        "max_cost_usd 0.001 reached: 0.0004 spent, the next call could cost up to 0.00075"
    )


def test_once_exhausted_every_later_call_is_refused() -> None:
    limited, _ = budget(max_tokens=100)
    with pytest.raises(BudgetExceeded) as first:
        limited.reserve(tokens=150, cost=0.0)
    with pytest.raises(BudgetExceeded) as later:
        limited.reserve(tokens=1, cost=0.0)  # would fit, but the run is stopping
    assert str(later.value) == str(first.value)
    assert later.value is not first.value and limited.exhausted is not None
    assert limited.exhausted.requested == 150


def test_calls_using_more_than_reserved_exhaust_the_budget() -> None:
    limited, _ = budget(max_tokens=100)
    limited.settle(limited.reserve(tokens=90, cost=0.0), tokens=120, cost=0.0)
    assert limited.exhausted is not None
    assert str(limited.exhausted) == (
        "max_tokens 100 exceeded: 120 used, as calls used more than estimated; "
        "raise limits.max_tokens to allow more"
    )
    with pytest.raises(BudgetExceeded):
        limited.reserve(tokens=1, cost=0.0)


def test_no_limits_never_refuse_and_still_count() -> None:
    free, warnings = budget()
    for _ in range(1000):
        free.settle(free.reserve(tokens=10**6, cost=100.0), tokens=10, cost=0.5)
    assert free.usage() == {
        "max_cost_usd": {"limit": None, "used": pytest.approx(500.0)},
        "max_tokens": {"limit": None, "used": 10_000},
        "max_llm_calls": {"limit": None, "used": 1000},
    }
    assert free.exhausted is None and warnings == []


# --------------------------------------------------------------------------- release, settle


def test_release_gives_back_the_call_and_its_reservation() -> None:
    limited, _ = budget(max_llm_calls=1, max_tokens=100)
    cache_hit = limited.reserve(tokens=100, cost=0.0)
    limited.release(cache_hit)
    assert limited.usage()["max_llm_calls"]["used"] == 0
    real = limited.reserve(tokens=100, cost=0.0)  # the released call did not count
    limited.settle(real, tokens=40, cost=0.0)
    assert limited.usage()["max_tokens"]["used"] == 40


def test_settle_replaces_the_worst_case_with_actuals() -> None:
    limited, _ = budget(max_tokens=1000, max_cost_usd=1.0)
    first = limited.reserve(tokens=900, cost=0.9)
    limited.settle(first, tokens=300, cost=0.25)
    assert limited.usage()["max_tokens"]["used"] == 300
    assert limited.usage()["max_cost_usd"]["used"] == 0.25
    limited.reserve(tokens=700, cost=0.75)  # the room the worst case held is back
    assert limited.exhausted is None


@pytest.mark.parametrize("second", ["settle", "release"])
def test_a_reservation_closes_once(second: str) -> None:
    limited, _ = budget(max_tokens=1000)
    reservation = limited.reserve(tokens=10, cost=0.0)
    limited.settle(reservation, tokens=10, cost=0.0)
    with pytest.raises(ValueError, match="already settled or released"):
        if second == "settle":
            limited.settle(reservation, tokens=10, cost=0.0)
        else:
            limited.release(reservation)


# --------------------------------------------------------------------------- concurrency


@pytest.mark.anyio
@pytest.mark.parametrize("seed", range(5))
async def test_concurrent_calls_never_overshoot(seed: int) -> None:
    rng = random.Random(seed)
    limited, _ = budget(max_tokens=20_000, max_cost_usd=1.5, max_llm_calls=400)
    peak = {"tokens": 0.0, "cost": 0.0}
    refused: list[BudgetExceeded] = []

    async def call() -> None:
        worst_tokens, worst_cost = rng.randint(50, 400), rng.uniform(0.001, 0.02)
        await anyio.lowlevel.checkpoint()
        try:
            reservation = limited.reserve(tokens=worst_tokens, cost=worst_cost)
        except BudgetExceeded as error:
            refused.append(error)
            return
        for _ in range(rng.randint(0, 5)):  # the call is in flight while others start
            await anyio.lowlevel.checkpoint()
        if rng.random() < 0.1:
            limited.release(reservation)  # a cache hit
            return
        limited.settle(
            reservation,
            tokens=rng.randint(0, worst_tokens),
            cost=rng.uniform(0, worst_cost),
        )
        usage = limited.usage()
        peak["tokens"] = max(peak["tokens"], usage["max_tokens"]["used"])
        peak["cost"] = max(peak["cost"], usage["max_cost_usd"]["used"])

    async with anyio.create_task_group() as group:
        for _ in range(1000):
            group.start_soon(call)

    assert refused and limited.exhausted is not None
    assert peak["tokens"] <= 20_000 and peak["cost"] <= 1.5 + 1e-9
    usage = limited.usage()
    assert usage["max_llm_calls"]["used"] <= 400
    assert usage["max_tokens"]["used"] == peak["tokens"]


@pytest.mark.anyio
async def test_in_flight_reservations_block_newcomers() -> None:
    limited, _ = budget(max_tokens=1000)
    started, outcomes = anyio.Event(), []

    async def worker(name: str) -> None:
        try:
            reservation = limited.reserve(tokens=400, cost=0.0)
        except BudgetExceeded:
            outcomes.append((name, "refused"))
            return
        outcomes.append((name, "running"))
        await started.wait()
        limited.settle(reservation, tokens=400, cost=0.0)

    async with anyio.create_task_group() as group:
        for name in "abc":
            group.start_soon(worker, name)
        await anyio.wait_all_tasks_blocked()
        started.set()
    assert outcomes == [("a", "running"), ("b", "running"), ("c", "refused")]
    assert limited.usage()["max_tokens"]["used"] == 800


# --------------------------------------------------------------------------- warnings


def test_the_80_percent_warning_fires_once_per_limit() -> None:
    limited, warnings = budget(max_llm_calls=10, max_tokens=1000, max_cost_usd=1.0)
    reservations: list[Reservation] = []
    for _ in range(7):
        reservations.append(limited.reserve(tokens=100, cost=0.1))
    assert warnings == []
    for reservation in reservations:
        limited.settle(reservation, tokens=100, cost=0.1)
    assert warnings == []  # 70% of each
    limited.settle(limited.reserve(tokens=100, cost=0.1), tokens=100, cost=0.1)
    assert sorted(name for name, _, _ in warnings) == [
        "max_cost_usd",
        "max_llm_calls",
        "max_tokens",
    ]
    assert ("max_tokens", 800, 1000) in warnings
    limited.settle(limited.reserve(tokens=100, cost=0.1), tokens=100, cost=0.1)
    assert len(warnings) == 3


def test_the_warning_counts_what_was_used_not_the_worst_case() -> None:
    limited, warnings = budget(max_tokens=1000)
    limited.settle(limited.reserve(tokens=900, cost=0.0), tokens=100, cost=0.0)
    assert warnings == []


# --------------------------------------------------------------------------- cost attribution


def test_tag_labels() -> None:
    assert tag_labels(None) == ()
    assert tag_labels(["research", "q3"]) == ("research", "q3")
    assert tag_labels({"department": "research", "project": "atlas"}) == (
        "department=research",
        "project=atlas",
    )


def test_cost_ledger_totals_by_step_agent_model_and_tag() -> None:
    ledger = CostLedger()
    tags = {"department": "research"}
    ledger.add(
        step="collect",
        agent="collector",
        model="local/gpt-4o-mini",
        tags=tags,
        tokens_in=100,
        tokens_out=50,
        cost=0.01,
    )
    ledger.add(
        step="collect",
        agent="collector",
        model="local/gpt-4o-mini",
        tags=tags,
        tokens_in=120,
        tokens_out=30,
        cost=0.02,
    )
    ledger.add(
        step="analyse",
        agent="analyst",
        model="openai/gpt-4o",
        tags=["q3", "atlas"],
        tokens_in=1000,
        tokens_out=500,
        cost=0.5,
    )
    ledger.add(
        step="analyse",
        agent="critic",
        model="openai/gpt-4o",
        tokens_in=0,
        tokens_out=0,
        cost=0.0,
        calls=0,
        cache_hits=1,
    )
    ledger.add(step="report", agent=None, model="mock/echo", tokens_in=5, tokens_out=5)

    report = ledger.as_dict()
    json.dumps(report)
    assert report["total"] == {
        "calls": 4,
        "cache_hits": 1,
        "tokens_in": 1225,
        "tokens_out": 585,
        "tokens": 1810,
        "cost_usd": 0.53,
    }
    assert list(report["by_step"]) == ["analyse", "collect", "report"]
    assert report["by_step"]["collect"]["cost_usd"] == 0.03
    assert report["by_step"]["collect"]["calls"] == 2
    assert set(report["by_agent"]) == {"analyst", "collector", "critic"}
    assert report["by_agent"]["critic"]["cache_hits"] == 1
    assert report["by_model"]["openai/gpt-4o"]["tokens"] == 1500
    assert report["by_tag"] == {
        "atlas": report["by_step"]["analyse"] | {"cache_hits": 0},
        "department=research": report["by_step"]["collect"],
        "q3": report["by_step"]["analyse"] | {"cache_hits": 0},
    }


def test_without_limits_calls_are_counted_and_nothing_is_held() -> None:
    unlimited, warnings = budget()
    first = unlimited.reserve(tokens=10**9, cost=10.0**6)  # no limit: any worst case goes
    assert first is None
    unlimited.settle(first, tokens=30, cost=0.5)
    unlimited.release(unlimited.reserve(tokens=5, cost=0.1))  # a cache hit: not a call
    unlimited.settle(unlimited.reserve(tokens=0, cost=0.0), tokens=12, cost=0.25)
    assert unlimited.usage() == {
        "max_cost_usd": {"limit": None, "used": 0.75},
        "max_tokens": {"limit": None, "used": 42},
        "max_llm_calls": {"limit": None, "used": 2},
    }
    assert unlimited.exhausted is None and warnings == []
