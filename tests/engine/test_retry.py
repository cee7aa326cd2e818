"""The retry policy: classification exactly as SPEC, the backoff formula, Retry-After."""

from __future__ import annotations

import asyncio
import inspect
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl import errors
from agnoctl.engine.budget import BudgetExceeded, Overrun
from agnoctl.engine.gates import GateFailed
from agnoctl.engine.retry import (
    MAX_RETRY_AFTER,
    Backoff,
    RetryAfterTooLong,
    is_retryable,
    reason,
    retryable_status,
)
from agnoctl.spec.models import RetrySpec
from agnoctl.spec.templates import TemplateError

# (error, retried?, reason): every error kind agnoctl raises, and the builtins an attempt can
# end with. SPEC: timeouts, connection errors, 408/409/429/5xx, malformed replies and gate
# failures under on_gate_failure: retry are retried; other 4xx are not.
CLASSIFICATION: list[tuple[BaseException, bool, str]] = [
    (errors.RateLimited("slow down", status=429), True, "rate_limited"),
    (errors.RateLimited("slow down"), True, "rate_limited"),
    (errors.ProviderUnavailable("down", status=503), True, "unavailable"),
    (errors.ProviderTimeout("took too long"), True, "timeout"),
    (errors.ConnectionFailed("reset by peer"), True, "connection_error"),
    (errors.MalformedResponse("not JSON", status=200), True, "malformed_response"),
    (errors.TransientProviderError("flaky"), True, "provider_error"),
    (errors.AuthenticationFailed("set OPENAI_API_KEY", status=401), False, "auth"),
    (errors.BadRequest("bad field", status=400), False, "bad_request"),
    (errors.PermanentProviderError("gone", status=404), False, "bad_request"),
    (errors.CircuitOpen("breaker open"), False, "circuit_open"),
    (errors.CircuitOpen("breaker open", status=503), False, "circuit_open"),
    (errors.ProviderError("unknown"), False, "provider_error"),
    (RetryAfterTooLong(7200), False, "retry_after_too_long"),
    # OpenAI's insufficient_quota: a 429, retried as SPEC says, under a reason of its own.
    (errors.QuotaExhausted("billing", status=429), True, "quota_exhausted"),
    (errors.OutputInvalid("confidence missing"), True, "output_invalid"),
    (GateFailed([], retryable=True), True, "gate_failed"),
    (GateFailed([], retryable=False), False, "gate_failed"),
    (errors.StepFailed("exit 3", kind="command_failed"), False, "command_failed"),
    (errors.StepFailed("tool said no"), False, "step_error"),
    # An MCP server: crashed or stopped answering (retried, started again), not on PATH (not).
    (errors.ToolServerFailed("crashed", kind="tool_server", retryable=True), True, "tool_server"),
    (errors.ToolServerFailed("no call answered", kind="timeout", retryable=True), True, "timeout"),
    (errors.ToolServerFailed("not on PATH", kind="tool_server"), False, "tool_server"),
    (errors.SpecError("bad", file="w.yaml"), False, "agnoctl_error"),
    (errors.SpecInvalid([]), False, "agnoctl_error"),
    (errors.UsageError("bad -i"), False, "agnoctl_error"),
    (errors.CacheDamaged(".agnoctl/cache", "file is not a database"), False, "agnoctl_error"),
    (errors.CacheMiss("no reply cached for step a"), False, "cache_miss"),
    (errors.RunLocked("busy"), False, "agnoctl_error"),
    (errors.RunDirUnwritable("cannot write the journal: disk full"), False, "agnoctl_error"),
    (errors.NothingToResume("already passed"), False, "agnoctl_error"),
    (errors.AgnoctlError("other"), False, "agnoctl_error"),
    (TemplateError("undefined value"), False, "template_error"),
    (
        BudgetExceeded(Overrun("max_llm_calls", limit_value=1, used=1, requested=1)),
        False,
        "budget_exceeded",
    ),
    (TimeoutError(), True, "timeout"),
    (ConnectionResetError(), True, "connection_error"),
    (ConnectionRefusedError(), True, "connection_error"),
    (asyncio.CancelledError(), False, "cancelled"),
    (KeyboardInterrupt(), False, "interrupted"),
    (ValueError("a bug"), False, "internal_error"),
    (KeyError("a bug"), False, "internal_error"),
]


@pytest.mark.parametrize(("error", "retried", "why"), CLASSIFICATION, ids=repr)
def test_classification(error: BaseException, retried: bool, why: str) -> None:
    assert is_retryable(error) is retried
    assert reason(error) == why


def test_the_table_covers_every_error_class() -> None:
    declared = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.AgnoctlError) and cls.__module__ == errors.__name__
    }
    covered = {type(error) for error, _, _ in CLASSIFICATION}
    assert declared - covered == set()


@pytest.mark.parametrize("status", range(100, 600))
def test_http_status_classes(status: int) -> None:
    expected = status in (408, 409, 429) or 500 <= status <= 599
    assert retryable_status(status) is expected
    if status >= 400:
        # The status decides even when a provider picked the other class for it.
        assert is_retryable(errors.BadRequest("x", status=status)) is expected
        assert is_retryable(errors.ProviderUnavailable("x", status=status)) is expected


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (401, "auth"),
        (403, "auth"),
        (408, "timeout"),
        (504, "timeout"),
        (409, "conflict"),
        (429, "rate_limited"),
        (500, "unavailable"),
        (422, "bad_request"),
        (None, "provider_error"),
    ],
)
def test_reason_of_a_bare_provider_error_comes_from_its_status(
    status: int | None, why: str
) -> None:
    assert reason(errors.ProviderError("x", status=status)) == why


# --------------------------------------------------------------------------- backoff

SPECS = [
    RetrySpec(),
    RetrySpec(initial_delay=0.25, max_delay=60, multiplier=3),
    RetrySpec(initial_delay=2, max_delay=5, multiplier=1.5),
    RetrySpec(initial_delay=1, max_delay=1, multiplier=1),
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_full_jitter_stays_within_the_formula(spec: RetrySpec) -> None:
    for seed in range(50):
        backoff = Backoff(spec, random.Random(seed))
        for n in range(21):
            bound = min(spec.max_delay, spec.initial_delay * spec.multiplier**n)
            assert backoff.computed(n) == pytest.approx(bound)
            assert 0.0 <= backoff.delay(n) <= bound


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_no_jitter_is_exactly_the_formula(spec: RetrySpec) -> None:
    backoff = Backoff(spec.model_copy(update={"jitter": "none"}), random.Random(0))
    for n in range(21):
        assert backoff.delay(n) == min(spec.max_delay, spec.initial_delay * spec.multiplier**n)


def test_full_jitter_covers_the_whole_range_uniformly() -> None:
    backoff = Backoff(RetrySpec(initial_delay=1, max_delay=100, multiplier=2), random.Random(7))
    draws = [backoff.delay(3) for _ in range(20_000)]  # computed = 8
    assert min(draws) < 0.01 * 8 and max(draws) > 0.99 * 8
    assert sum(draws) / len(draws) == pytest.approx(4.0, rel=0.02)
    bins = [0] * 10
    for draw in draws:
        bins[min(int(draw / 0.8), 9)] += 1
    assert all(1800 <= count <= 2200 for count in bins), bins


def test_the_seed_decides_the_schedule() -> None:
    def schedule(seed: int) -> list[float]:
        backoff = Backoff(RetrySpec(), random.Random(seed))
        return [backoff.delay(n) for n in range(10)]

    assert schedule(42) == schedule(42)
    assert schedule(42) != schedule(43)


def test_a_larger_retry_after_wins_even_above_max_delay() -> None:
    spec = RetrySpec(initial_delay=1, max_delay=20, multiplier=2)
    assert Backoff(spec, random.Random(1)).delay(0, retry_after=30.0) == 30.0
    exact = Backoff(spec.model_copy(update={"jitter": "none"}), random.Random(1))
    assert exact.delay(2, retry_after=4.5) == 4.5


def test_a_smaller_retry_after_does_not_shorten_the_delay() -> None:
    exact = Backoff(RetrySpec(initial_delay=1, multiplier=2, jitter="none"), random.Random(1))
    assert exact.delay(3, retry_after=1.0) == 8.0
    jittered, twin = random.Random(5), random.Random(5)
    drawn = Backoff(RetrySpec(), twin).delay(4)
    assert Backoff(RetrySpec(), jittered).delay(4, retry_after=drawn / 2) == drawn


@pytest.mark.parametrize("nonsense", [-1.0, math.nan])
def test_a_nonsense_retry_after_is_ignored(nonsense: float) -> None:
    exact = Backoff(RetrySpec(initial_delay=1, multiplier=2, jitter="none"), random.Random(1))
    assert exact.delay(1, retry_after=nonsense) == 2.0


def test_an_absurd_retry_after_is_an_error() -> None:
    backoff = Backoff(RetrySpec(), random.Random(1))
    assert backoff.delay(0, retry_after=MAX_RETRY_AFTER) == MAX_RETRY_AFTER
    for absurd in (MAX_RETRY_AFTER + 1, math.inf):
        with pytest.raises(RetryAfterTooLong, match="asked to wait") as caught:
            backoff.delay(0, retry_after=absurd)
        assert not is_retryable(caught.value)


def test_huge_retry_numbers_do_not_overflow() -> None:
    fast = Backoff(RetrySpec(initial_delay=1, max_delay=20, multiplier=10), random.Random(1))
    assert fast.computed(10_000) == 20.0
    assert 0.0 <= fast.delay(10_000) <= 20.0
    zero = Backoff(RetrySpec(initial_delay=0, multiplier=10, jitter="none"), random.Random(1))
    assert zero.delay(10_000) == 0.0  # not 0 * inf = nan
    flat = Backoff(RetrySpec(initial_delay=3, multiplier=1, jitter="none"), random.Random(1))
    assert flat.delay(10**9) == 3.0


def test_a_negative_retry_number_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        Backoff(RetrySpec(), random.Random(1)).delay(-1)


@settings(max_examples=300, deadline=None)
@given(
    initial=st.floats(0, 100),
    maximum=st.floats(0, 1000),
    multiplier=st.floats(1, 50),
    n=st.integers(0, 5000),
    seed=st.integers(0, 2**32),
)
def test_any_delay_is_within_bounds(
    initial: float, maximum: float, multiplier: float, n: int, seed: int
) -> None:
    spec = RetrySpec(initial_delay=initial, max_delay=maximum, multiplier=multiplier)
    delay = Backoff(spec, random.Random(seed)).delay(n)
    assert 0.0 <= delay <= min(maximum, initial * _power(multiplier, n))


def _power(base: float, exponent: int) -> float:
    try:
        return base**exponent
    except OverflowError:
        return math.inf
