"""Token buckets and concurrency limits, on a fake clock whose sleep advances time."""

from __future__ import annotations

import anyio
import pytest

from agnoctl.providers.base import Message, ModelRequest, ToolSpec
from agnoctl.providers.ratelimit import ProviderLimiter, TokenBucket, estimate_tokens

pytestmark = pytest.mark.anyio


class FakeTime:
    """A clock; ``sleep`` records the delay, advances the clock and yields once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


async def test_bucket_allows_a_burst_of_its_capacity(time: FakeTime):
    bucket = TokenBucket(60, clock=time.clock, sleep=time.sleep)  # 1 per second
    for _ in range(60):
        assert await bucket.take(1) == 0.0
    assert time.sleeps == []
    assert await bucket.take(1) == pytest.approx(1.0)
    assert time.sleeps == [pytest.approx(1.0)]


async def test_bucket_waits_exactly_for_the_deficit(time: FakeTime):
    bucket = TokenBucket(600, clock=time.clock, sleep=time.sleep)  # 10 per second
    await bucket.take(600)
    waited = await bucket.take(25)
    assert waited == pytest.approx(2.5)
    assert time.now == pytest.approx(2.5)
    assert bucket.level == pytest.approx(0.0)


async def test_bucket_refills_over_time_up_to_capacity(time: FakeTime):
    bucket = TokenBucket(120, clock=time.clock, sleep=time.sleep)
    await bucket.take(120)
    time.now += 15
    assert bucket.level == pytest.approx(30.0)
    time.now += 3600
    assert bucket.level == pytest.approx(120.0)


async def test_more_than_capacity_takes_the_whole_bucket(time: FakeTime):
    bucket = TokenBucket(100, clock=time.clock, sleep=time.sleep)
    assert await bucket.take(10_000) == 0.0
    assert bucket.level == pytest.approx(0.0)


async def test_settle_refunds_and_charges(time: FakeTime):
    bucket = TokenBucket(1000, clock=time.clock, sleep=time.sleep)
    await bucket.take(800)
    bucket.settle(reserved=800, used=300)
    assert bucket.level == pytest.approx(700.0)
    bucket.settle(reserved=0, used=1200)  # under-reserved: the bucket goes into debt
    assert bucket.level == pytest.approx(-500.0)
    assert await bucket.take(100) == pytest.approx(36.0)  # (100 + 500) / (1000 / 60)


async def test_waiters_are_served_in_order(time: FakeTime):
    bucket = TokenBucket(60, clock=time.clock, sleep=time.sleep)
    await bucket.take(60)
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.take(1)
        order.append(i)

    async with anyio.create_task_group() as group:
        for i in range(5):
            group.start_soon(take, i)
    assert order == [0, 1, 2, 3, 4]
    assert time.now == pytest.approx(5.0)


async def test_limiter_uses_tokens_per_minute_and_settles(time: FakeTime):
    limiter = ProviderLimiter(tokens_per_minute=6000, clock=time.clock, sleep=time.sleep)
    async with limiter.slot(5000) as slot:
        slot.settle(1000)
    assert limiter.tokens is not None
    assert limiter.tokens.level == pytest.approx(5000.0)
    async with limiter.slot(5500) as slot:
        pass
    assert slot.waited == pytest.approx(5.0)  # 500 missing at 100 per second


async def test_limiter_requests_per_minute(time: FakeTime):
    limiter = ProviderLimiter(requests_per_minute=2, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        async with limiter.slot():
            pass
    assert time.now == pytest.approx(30.0)


async def test_concurrency_cap_is_never_exceeded():
    limiter = ProviderLimiter(max_concurrency=3)
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with limiter.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await anyio.sleep(0)
            await anyio.sleep(0)
            in_flight -= 1

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(call)
    assert peak == 3


async def test_cancelled_wait_gives_the_slot_back():
    limiter = ProviderLimiter(max_concurrency=1, requests_per_minute=1)
    async with limiter.slot():
        pass
    with anyio.move_on_after(0.05):
        async with limiter.slot():  # waits ~60 s for the bucket: cancelled
            pytest.fail("should not get through")
    assert limiter.semaphore is not None
    assert limiter.semaphore.value == 1


async def test_unlimited_is_a_shared_no_op():
    limiter = ProviderLimiter()
    assert not limiter.limited
    assert limiter.slot(100) is limiter.slot(5)
    async with limiter.slot(100) as slot:
        slot.settle(10)
    assert slot.waited == 0.0


def test_estimate_tokens():
    request = ModelRequest(
        model="m",
        messages=(Message("system", "a" * 40), Message("user", "b" * 40)),
        tools=(ToolSpec("t", "d" * 8, {}),),
        max_tokens=100,
    )
    assert estimate_tokens(request) == 23 + 100  # (80 + 8 + 2) / 4 rounded up, plus max_tokens
    no_limit = ModelRequest(model="m", messages=(Message("user", "abcd"),))
    assert estimate_tokens(no_limit) == 1 + 1024
