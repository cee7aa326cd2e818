"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

import pytest

from agnoctl.errors import (
    BadRequest,
    CircuitOpen,
    ConnectionFailed,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from agnoctl.providers.breaker import CircuitBreaker, State, signals_outage

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def changes() -> list[tuple[str, State, State]]:
    return []


@pytest.fixture
def breaker(clock: Clock, changes: list[tuple[str, State, State]]) -> CircuitBreaker:
    return CircuitBreaker(
        "local",
        failure_threshold=3,
        recovery_timeout=30.0,
        half_open_max_calls=1,
        clock=clock,
        on_change=lambda *change: changes.append(change),
    )


async def fail(breaker: CircuitBreaker, error: ProviderError | None = None) -> None:
    async def call() -> str:
        raise error or ProviderUnavailable("down")

    with pytest.raises(type(error or ProviderUnavailable("down"))):
        await breaker.call(call)


async def succeed(breaker: CircuitBreaker) -> str:
    async def call() -> str:
        return "ok"

    return await breaker.call(call)


async def test_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker, changes):
    await fail(breaker)
    await fail(breaker)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 2
    await fail(breaker, ProviderTimeout("slow"))
    assert breaker.state == "open"
    assert changes == [("local", "closed", "open")]


async def test_a_success_resets_the_count(breaker: CircuitBreaker):
    await fail(breaker)
    await fail(breaker)
    await succeed(breaker)
    await fail(breaker)
    await fail(breaker)
    assert breaker.state == "closed"


async def test_open_fails_fast_without_calling(breaker: CircuitBreaker, clock: Clock):
    for _ in range(3):
        await fail(breaker)
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1

    clock.now += 10
    with pytest.raises(CircuitOpen) as caught:
        await breaker.call(call)
    assert calls == 0
    assert caught.value.retry_after == pytest.approx(20.0)
    assert caught.value.provider == "local"
    assert "20.0s" in str(caught.value)


async def test_probe_success_closes(breaker: CircuitBreaker, clock: Clock, changes):
    for _ in range(3):
        await fail(breaker)
    clock.now += 30
    assert breaker.state == "half_open"
    assert await succeed(breaker) == "ok"
    assert breaker.state == "closed"
    assert changes == [
        ("local", "closed", "open"),
        ("local", "open", "half_open"),
        ("local", "half_open", "closed"),
    ]


async def test_probe_failure_reopens_for_another_recovery_timeout(
    breaker: CircuitBreaker, clock: Clock, changes
):
    for _ in range(3):
        await fail(breaker)
    clock.now += 31
    await fail(breaker)  # the probe: one failure is enough
    assert breaker.state == "open"
    assert changes[-1] == ("local", "half_open", "open")
    clock.now += 29
    with pytest.raises(CircuitOpen):
        await succeed(breaker)
    clock.now += 1
    assert await succeed(breaker) == "ok"


async def test_half_open_lets_only_the_allowed_probes_through(clock: Clock):
    breaker = CircuitBreaker(
        "p", failure_threshold=1, recovery_timeout=5, half_open_max_calls=2, clock=clock
    )
    await fail(breaker)
    clock.now += 5
    first, second = breaker.admit(), breaker.admit()
    with pytest.raises(CircuitOpen):
        breaker.admit()
    breaker.record_neutral(first)  # gives its slot back
    third = breaker.admit()
    breaker.record_success(second)
    assert breaker.state == "closed"
    breaker.record_failure(third)  # admitted before the close: stale, ignored
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 0


@pytest.mark.parametrize("error", [BadRequest("400"), ValueError("bug")])
async def test_permanent_and_foreign_errors_do_not_count(breaker: CircuitBreaker, error: Exception):
    async def call() -> None:
        raise error

    for _ in range(5):
        with pytest.raises(type(error)):
            await breaker.call(call)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 0


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("429", status=429),
        RateLimited("429 without a status"),
        ProviderUnavailable("409 conflict", status=409),
        BadRequest("404", status=404),
    ],
)
async def test_rate_limits_and_other_4xx_never_count(breaker: CircuitBreaker, error: ProviderError):
    """A burst of 429s is backpressure from a healthy provider: the breaker stays closed, and
    the run of real failures is neither counted up nor reset by them."""
    await fail(breaker)
    for _ in range(10):
        await fail(breaker, error)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 1


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("503", status=503),
        ProviderUnavailable("529 overloaded", status=529),
        ProviderUnavailable("408", status=408),
        ProviderTimeout("slow"),
        ConnectionFailed("reset"),
        MalformedResponse("html from a gateway", status=200),
    ],
)
async def test_what_says_the_provider_is_down_counts(breaker: CircuitBreaker, error: ProviderError):
    for _ in range(3):
        await fail(breaker, error)
    assert breaker.state == "open"


def test_signals_outage_outside_the_provider_tree():
    assert not signals_outage(ValueError("bug"))
    assert not signals_outage(CircuitOpen("open"))


async def test_neutral_probe_outcome_frees_the_slot(breaker: CircuitBreaker, clock: Clock):
    for _ in range(3):
        await fail(breaker)
    clock.now += 30

    async def bad_request() -> None:
        raise BadRequest("400")

    with pytest.raises(BadRequest):
        await breaker.call(bad_request)
    assert breaker.state == "half_open"
    assert await succeed(breaker) == "ok"
    assert breaker.state == "closed"


def test_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        CircuitBreaker("p", failure_threshold=0)
