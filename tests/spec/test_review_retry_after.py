"""A call already waiting out a provider's pause fails when another reply stretches that
pause past the longest wait agnoctl takes, as a new call does, instead of sleeping it out
(a `Retry-After` of two days arriving while a call waited a minute hung the run for them)."""

from __future__ import annotations

import anyio
import pytest

from agnoctl.errors import MAX_RETRY_AFTER, RetryAfterTooLong
from agnoctl.providers.ratelimit import ProviderLimiter

pytestmark = pytest.mark.anyio

TWO_DAYS = 2 * 86400.0


class StretchedPause:
    """A clock whose first sleep sees another reply pause the provider for two days (the
    limiter is given it after it is made); each sleep advances the clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.limiter: ProviderLimiter | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) == 1 and self.limiter is not None:
            self.limiter.pause(TWO_DAYS, "rate_limited")
        self.now += seconds
        await anyio.lowlevel.checkpoint()


async def test_a_pause_stretched_past_the_cap_fails_the_waiting_call() -> None:
    time = StretchedPause()
    limiter = time.limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    limiter.pause(60.0, "rate_limited")
    with pytest.raises(RetryAfterTooLong):
        async with limiter.slot(1):
            pass
    assert time.sleeps == [60.0]  # the minute, not the two days after it
    assert all(wait <= MAX_RETRY_AFTER for wait in time.sleeps)
