"""Per-provider limits: calls in flight (``max_concurrency``) and token buckets for
``rate_limit.requests_per_minute`` and ``rate_limit.tokens_per_minute``.

A call first takes a concurrency slot, then one request from the request bucket, then its
estimated tokens (prompt characters / 4 + ``max_tokens``) from the token bucket; waiting
callers are served first come, first served. When the reply tells the real usage, ``settle``
gives back what was over-reserved or charges what was under-reserved (the bucket may go into
debt, which later callers wait out). Buckets hold one minute's worth, so an idle provider
accepts a burst of up to its per-minute rate, as the providers' own limiters do.

A limiter with nothing configured costs one call and a no-op context manager per request.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agnoctl.providers.base import ModelRequest

DEFAULT_OUTPUT_ESTIMATE = 1024  # tokens reserved for the reply when max_tokens is not set
CHARS_PER_TOKEN = 4


def estimate_tokens(request: ModelRequest) -> int:
    """Tokens a call may use: its prompt (about 4 characters a token) plus its reply budget."""
    chars = sum(len(m.content) for m in request.messages)
    chars += sum(len(t.description) + len(str(t.parameters)) for t in request.tools)
    output = request.max_tokens if request.max_tokens is not None else DEFAULT_OUTPUT_ESTIMATE
    return math.ceil(chars / CHARS_PER_TOKEN) + output


class TokenBucket:
    """``per_minute`` tokens a minute, refilled continuously, holding at most ``capacity``."""

    def __init__(
        self,
        per_minute: float,
        *,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate must be positive")
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(capacity if capacity is not None else per_minute)
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._updated = clock()
        self._lock = anyio.Lock()  # fair: waiters are served in arrival order

    @property
    def level(self) -> float:
        """Tokens available now (negative while in debt)."""
        self._refill()
        return self._level

    async def take(self, amount: float) -> float:
        """Wait until ``amount`` tokens are there and take them; returns the seconds waited.

        More than the capacity is taken as the whole capacity: it could never be there.
        """
        amount = min(amount, self.capacity)
        waited = 0.0
        async with self._lock:
            while True:
                self._refill()
                if self._level >= amount:
                    self._level -= amount
                    return waited
                delay = (amount - self._level) / self.rate
                await self._sleep(delay)
                waited += delay

    def settle(self, reserved: float, used: float) -> None:
        """Give back ``reserved - used`` (or charge it, if negative)."""
        self._refill()
        self._level = min(self.capacity, self._level + reserved - used)

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now


class Slot:
    """One call's hold on a provider's limits, as an async context manager."""

    def __init__(self, limiter: ProviderLimiter, tokens: int) -> None:
        self._limiter = limiter
        self.tokens = tokens  # reserved from the token bucket
        self.waited = 0.0  # seconds spent waiting for the rate limits

    async def __aenter__(self) -> Slot:
        limiter = self._limiter
        if limiter.semaphore is not None:
            await limiter.semaphore.acquire()
        try:
            if limiter.requests is not None:
                self.waited += await limiter.requests.take(1)
            if limiter.tokens is not None:
                self.waited += await limiter.tokens.take(self.tokens)
        except BaseException:
            if limiter.semaphore is not None:
                limiter.semaphore.release()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._limiter.semaphore is not None:
            self._limiter.semaphore.release()

    def settle(self, used_tokens: int) -> None:
        """Correct the token bucket with the tokens the call really used."""
        if self._limiter.tokens is not None:
            self._limiter.tokens.settle(
                min(self.tokens, self._limiter.tokens.capacity), used_tokens
            )


class _Unlimited(Slot):
    async def __aenter__(self) -> Slot:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def settle(self, used_tokens: int) -> None:
        return None


class ProviderLimiter:
    """The limits of one provider; ``async with limiter.slot(tokens) as slot: ...``."""

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.semaphore = anyio.Semaphore(max_concurrency) if max_concurrency else None
        self.requests = (
            TokenBucket(requests_per_minute, clock=clock, sleep=sleep)
            if requests_per_minute
            else None
        )
        self.tokens = (
            TokenBucket(tokens_per_minute, clock=clock, sleep=sleep) if tokens_per_minute else None
        )
        self.limited = any(x is not None for x in (self.semaphore, self.requests, self.tokens))
        self._unlimited = _Unlimited(self, 0)

    def slot(self, tokens: int = 0) -> Slot:
        """Hold for one call estimated at ``tokens`` (see ``estimate_tokens``)."""
        return Slot(self, tokens) if self.limited else self._unlimited
