"""Token buckets and concurrency limits, on a fake clock whose sleep advances time."""

from __future__ import annotations

import anyio
import pytest

from agnoctl.errors import ProviderUnavailable, RateLimited
from agnoctl.providers.base import (
    Message,
    ModelReply,
    ModelRequest,
    RateLimitHint,
    ToolSpec,
    Usage,
)
from agnoctl.providers.http import limit_wait, rate_limit_hint
from agnoctl.providers.ratelimit import ProviderLimiter, TokenBucket, Window, estimate_tokens

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


class ManualTime:
    """A clock that moves only when told to: ``sleep`` blocks until ``advance`` passes its
    deadline (or the sleeper is cancelled). ``sleeping`` is set once someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[tuple[float, anyio.Event]] = []
        self.sleeping = anyio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = anyio.Event()
        self.sleepers.append((self.now + seconds, wake))
        self.sleeping.set()
        await wake.wait()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, wake in self.sleepers:
            if deadline <= self.now:
                wake.set()


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
        slot.answered(ModelReply("ok", usage=Usage(400, 600)))
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
    assert limiter.window.in_flight == 0


async def test_unlimited_is_a_shared_no_op():
    limiter = ProviderLimiter()
    assert not limiter.limited
    assert limiter.slot(100) is limiter.slot(5)
    async with limiter.slot(100) as slot:
        slot.answered(ModelReply("ok", usage=Usage(5, 5)))
    assert slot.waited == 0.0
    assert limiter.window.in_flight == 0


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


# ----------------------------------------------------------------- tokens come back (settle)


async def test_settle_wakes_the_caller_waiting_for_tokens():
    """tokens_per_minute 3000 (50 a second), calls reserving ~1,025 tokens: the third and fourth
    wait. When the first two hand back what they did not use, both go at once: no clock time
    passes (before, the waiter slept its whole computed delay, then the next one its own)."""
    clock = ManualTime()
    bucket = TokenBucket(3000, clock=clock.clock, sleep=clock.sleep)
    assert await bucket.take(1025) == 0.0
    assert await bucket.take(1025) == 0.0  # 950 left
    waited: list[float] = []

    async def take() -> None:
        waited.append(await bucket.take(1025))

    with anyio.fail_after(5):  # real seconds: the old limiter sleeps here for ever
        async with anyio.create_task_group() as group:
            group.start_soon(take)
            group.start_soon(take)
            await clock.sleeping.wait()  # the first waiter sleeps for the refill
            bucket.settle(1025, 8)  # the first two calls used 8 tokens each
            bucket.settle(1025, 8)
    assert waited == [0.0, 0.0]
    assert clock.now == 0.0
    assert bucket.level == pytest.approx(3000 - 4 * 1025 + 2 * (1025 - 8))


async def test_the_four_item_case_finishes_without_sleeping():
    """The issue's case through the provider's limiter: four calls, 16 tokens in all."""
    clock = ManualTime()
    limiter = ProviderLimiter(tokens_per_minute=3000, clock=clock.clock, sleep=clock.sleep)
    request = ModelRequest(model="m", messages=(Message("user", "hi"),))
    release = anyio.Event()
    done: list[int] = []

    async def item(i: int) -> None:
        async with limiter.slot(estimate_tokens(request)) as slot:
            await release.wait()
            slot.answered(ModelReply("ok", usage=Usage(2, 2)))
        done.append(i)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for i in range(4):
                group.start_soon(item, i)
            await clock.sleeping.wait()
            release.set()
    assert sorted(done) == [0, 1, 2, 3]
    assert clock.now == 0.0


async def test_a_settle_that_does_not_free_enough_keeps_the_waiter_waiting(time: FakeTime):
    bucket = TokenBucket(600, clock=time.clock, sleep=time.sleep)  # 10 a second
    await bucket.take(600)
    bucket.settle(0, 0)  # nothing came back: the waiter still waits for the refill
    assert await bucket.take(20) == pytest.approx(2.0)


# ----------------------------------------------------------------- the adaptive window


async def test_window_halves_on_a_429_and_grows_back_to_its_ceiling():
    window = Window(8, bounded=True)
    for _ in range(8):
        await window.acquire()
    assert window.cut(0)
    assert (window.size, window.cuts) == (4, 1)
    assert not window.cut(0)  # another 429 of the same burst: answered already
    for _ in range(4):
        window.release()  # four left in flight
    assert window.cut(1) and window.size == 2  # a 429 of a call sent since: cut again
    reached = [window.grow() for _ in range(100)]
    assert window.size == 8
    assert reached.count(True) == 1  # said once, when it got back to the ceiling


async def test_window_cut_starts_from_the_calls_in_flight_and_never_below_one():
    window = Window(100, bounded=False)  # no max_concurrency: nothing waits until a 429
    for _ in range(6):
        await window.acquire()
    assert window.cut(0)
    assert (window.bounded, window.size) == (True, 3)
    for _ in range(6):
        window.release()
    await window.acquire()
    assert window.cut(1) and window.size == 1
    assert not window.cut(2) and window.size == 1  # nothing left to halve


async def test_window_grows_by_one_per_window_of_successes():
    window = Window(10, bounded=True)
    window.size = 4
    for _ in range(3):
        window.grow()
    assert window.size == 4
    window.grow()
    assert window.size == 5  # 4 successes at size 4


async def test_window_waiters_are_served_in_order_and_a_wider_window_admits_them():
    window = Window(4, bounded=True)
    window.size = 1
    await window.acquire()
    order: list[int] = []

    async def call(i: int) -> None:
        await window.acquire()
        order.append(i)

    async with anyio.create_task_group() as group:
        for i in range(3):
            group.start_soon(call, i)
        await anyio.wait_all_tasks_blocked()
        assert order == []
        window.size = 2
        window.release()  # one leaves, the window is 2: two come in
        await anyio.wait_all_tasks_blocked()
        assert order == [0, 1]
        window.release()
    assert order == [0, 1, 2]


async def test_a_cancelled_window_waiter_gives_its_place_back():
    window = Window(1, bounded=True)
    await window.acquire()
    with anyio.move_on_after(0.01):
        await window.acquire()
    window.release()
    assert window.in_flight == 0
    assert await window.acquire() == 0.0


class Heard(list[tuple[str, dict[str, object]]]):
    """What a limiter told its watch, as the run's events hold it."""

    def throttled(self, provider: str, window: int, in_flight: int, reason: str) -> None:
        fields = {"provider": provider, "window": window, "in_flight": in_flight, "reason": reason}
        self.append(("provider_throttled", fields))

    def paused(self, provider: str, seconds: float, reason: str) -> None:
        fields = {"provider": provider, "seconds": seconds, "reason": reason}
        self.append(("provider_paused", fields))


async def test_429s_narrow_the_window_and_are_counted():
    events = Heard()
    limiter = ProviderLimiter(name="p", max_concurrency=8, watch=events)
    slots = [await limiter.slot().__aenter__() for _ in range(8)]
    for slot in slots:  # one burst: the window is cut once
        slot.failed(RateLimited("429", status=429))
    for slot in slots:
        await slot.__aexit__(None, None, None)
    assert limiter.window.size == 4
    assert limiter.throttling.as_dict() == {
        "rate_limited": 8,
        "min_window": 4,
        "paused_seconds": 0.0,
        "waited_seconds": 0.0,
    }
    assert events == [
        (
            "provider_throttled",
            {"provider": "p", "window": 4, "in_flight": 8, "reason": "rate_limited"},
        )
    ]


async def test_other_errors_leave_the_window_alone():
    limiter = ProviderLimiter(max_concurrency=4)
    async with limiter.slot() as slot:
        slot.failed(ProviderUnavailable("500", status=500, retry_after=3))
        slot.failed(ValueError("bug"))
    assert limiter.window.size == 4
    assert limiter.paused_until == 0.0  # Retry-After pauses on a 429 or a 503 only
    assert not limiter.throttling


# ----------------------------------------------------------------- pauses


async def test_retry_after_on_a_429_pauses_every_call_of_the_provider(time: FakeTime):
    events = Heard()
    limiter = ProviderLimiter(name="p", clock=time.clock, sleep=time.sleep, watch=events)
    async with limiter.slot() as slot:
        slot.failed(RateLimited("429", status=429, retry_after=2.5))
    async with limiter.slot() as other:
        pass
    assert other.waited == pytest.approx(2.5)
    assert time.now == pytest.approx(2.5)
    assert (
        "provider_paused",
        {"provider": "p", "seconds": 2.5, "reason": "rate_limited"},
    ) in events
    assert limiter.throttling.paused == pytest.approx(2.5)
    assert limiter.throttling.waited == pytest.approx(2.5)


async def test_a_503_with_retry_after_pauses_too(time: FakeTime):
    limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    async with limiter.slot() as slot:
        slot.failed(ProviderUnavailable("503", status=503, retry_after=1.0))
    assert limiter.paused_until == pytest.approx(1.0)


async def test_a_reply_that_used_the_last_request_pauses_until_the_reset(time: FakeTime):
    limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    async with limiter.slot() as slot:  # no limit header: the rate is unknown, so a pause
        slot.answered(ModelReply("ok", rate_limit=RateLimitHint(remaining=0, full_in=0.75)))
    async with limiter.slot() as slot:
        pass
    assert slot.waited == pytest.approx(0.75)


async def test_a_used_up_token_limit_pauses(time: FakeTime):
    limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    async with limiter.slot() as slot:
        slot.answered(ModelReply("ok", rate_limit=RateLimitHint(wait=2.0)))
    assert limiter.paused_until == pytest.approx(2.0)


async def test_a_request_limit_the_headers_describe_is_followed_call_by_call(time: FakeTime):
    """limit 20, 15 left, whole again in 0.25 s: 20 a second. The limiter keeps to it with a
    bucket of its own instead of pausing until the limit is whole again."""
    limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    hint = RateLimitHint(remaining=15, limit=20, full_in=0.25)
    async with limiter.slot() as slot:
        slot.answered(ModelReply("ok", rate_limit=hint))
    learned = limiter.learned
    assert learned is not None
    assert (learned.rate, learned.capacity) == (pytest.approx(20.0), 20.0)
    assert learned.level == pytest.approx(15.0)
    used_up = RateLimitHint(remaining=0, limit=20, full_in=1.0)
    async with limiter.slot() as slot:
        slot.answered(ModelReply("ok", rate_limit=used_up))
    assert limiter.paused_until == 0.0  # no pause: the next call waits for one request
    async with limiter.slot() as slot:
        pass
    assert slot.waited == pytest.approx(0.05)


async def test_the_learned_limit_counts_the_calls_sent_since(time: FakeTime):
    limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    limiter.pause(0.001, "rate_limited")  # numbered slots from here on
    time.now += 1
    first = await limiter.slot().__aenter__()
    later = [await limiter.slot().__aenter__() for _ in range(4)]
    first.answered(ModelReply("ok", rate_limit=RateLimitHint(remaining=10, limit=20, full_in=1)))
    assert limiter.learned is not None
    assert limiter.learned.level == pytest.approx(6.0)  # 10 then, 4 sent since
    for slot in (first, *later):
        await slot.__aexit__(None, None, None)


async def test_overlapping_pauses_count_once(time: FakeTime):
    limiter = ProviderLimiter(clock=time.clock, sleep=time.sleep)
    limiter.pause(2.0, "rate_limited")
    limiter.pause(1.0, "rate_limited")  # inside the first: nothing changes
    time.now += 1.0
    limiter.pause(3.0, "rate_limited")  # to 4.0: one second more
    assert limiter.paused_until == pytest.approx(4.0)
    assert limiter.throttling.paused == pytest.approx(4.0)


# ----------------------------------------------------------------- rate-limit headers


NOW = 1_900_000_000.0


@pytest.mark.parametrize(
    ("headers", "status", "wait"),
    [
        ({"Retry-After": "3"}, 429, 3.0),
        ({"retry-after-ms": "250", "Retry-After": "1"}, 429, 0.25),
        ({"Retry-After": "3"}, 503, 3.0),
        ({"Retry-After": "3"}, 200, None),  # Retry-After means nothing on an answer
        ({"Retry-After": "3"}, 500, None),
        # OpenAI: a limit at 0 and a Go duration until it is whole again
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}, 200, 1.0),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20ms"}, 200, 0.02),
        ({"X-RateLimit-Remaining-Tokens": "0", "X-RateLimit-Reset-Tokens": "6m0s"}, 200, 360.0),
        (
            {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1h2m3.5s"},
            200,
            3723.5,
        ),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "7"}, 200, 7.0),
        ({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s"}, 200, None),
        # Anthropic: a limit at 0 and an RFC 3339 time
        (
            {
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2030-03-17T17:46:50Z",
            },
            200,
            10.0,
        ),
        (
            {
                "anthropic-ratelimit-output-tokens-remaining": "0",
                "anthropic-ratelimit-output-tokens-reset": "2030-03-17T18:46:42+01:00",
            },
            200,
            2.0,
        ),
        # the longest wait wins
        (
            {
                "retry-after": "1",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "4s",
            },
            429,
            4.0,
        ),
    ],
)
def test_limit_wait_reads_every_format(headers: dict[str, str], status: int, wait: float | None):
    assert limit_wait(headers, status=status, now=NOW) == pytest.approx(wait)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "soon"},
        {"Retry-After": "-4"},
        {"retry-after-ms": "nan"},
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1parsec"},
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "s1"},
        {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": ""},
        {"x-ratelimit-remaining-requests": "none", "x-ratelimit-reset-requests": "1s"},
        {"x-ratelimit-remaining-tokens": "-1", "x-ratelimit-reset-tokens": "1s"},  # Azure: n/a
        {"x-ratelimit-remaining-tokens": "0"},  # no reset: no wait to honour
        {
            "anthropic-ratelimit-tokens-remaining": "0",
            "anthropic-ratelimit-tokens-reset": "2030-03-17 17:46",  # no offset
        },
        {
            "anthropic-ratelimit-tokens-remaining": "0",
            "anthropic-ratelimit-tokens-reset": "tomorrow",
        },
    ],
)
def test_limit_wait_ignores_garbage(headers: dict[str, str]):
    assert limit_wait(headers, status=429, now=NOW) is None


def test_rate_limit_hint_tells_the_request_limit():
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert rate_limit_hint(headers, now=NOW) == RateLimitHint(
        wait=360.0, remaining=499, limit=500, full_in=0.12
    )
    assert rate_limit_hint({"content-type": "application/json"}) is None


def test_a_reset_in_the_past_is_no_wait():
    headers = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2020-01-01T00:00:00Z",
    }
    assert limit_wait(headers, now=NOW) == 0.0
