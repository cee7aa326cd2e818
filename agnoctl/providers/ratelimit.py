"""Per-provider limits: a window of calls in flight that adapts to the provider's 429s, the
pauses the provider asks for, and token buckets for ``rate_limit.requests_per_minute`` and
``rate_limit.tokens_per_minute``.

A call first takes a place in the provider's window (``Window``), then waits out any pause of
the whole provider, then takes one request from the request bucket (and from the provider's own
request limit, once learned) and its estimated tokens (``estimate_usage``: the request's
characters in tokens, and its reply budget) from the token bucket; waiting callers are served
first come, first served. When the reply tells the real usage, ``settle`` gives back what was
over-reserved or charges what was under-reserved (the bucket may go into debt, which later
callers wait out), and wakes the caller waiting for tokens at once: it does not sleep out a
delay computed before tokens came back. Buckets hold one minute's worth, so an idle provider
accepts a burst of up to its per-minute rate, as the providers' own limiters do.

A 429 is backpressure, not an outage (the breaker ignores it). The window answers it as TCP
answers a lost packet (AIMD): it halves (floor 1), from the calls actually in flight when those
were fewer, once per burst (429s of calls that went out before the last cut are of the same
burst); each success then adds a fraction 1/window, so it grows back by one per window of
successes (about one per round trip) up to its ceiling: the provider's ``max_concurrency``, or
else the run's concurrency (``limits.max_concurrency``, else 100: the HTTP pool's size). Growing
by one per success would double the window every round trip and run into the limit again at
once. Until the first 429 a provider without ``max_concurrency`` has no window to wait for.

A pause holds every new call of the provider until it ends: ``Retry-After`` on a 429 or a 503,
or a reply (a 200 too) whose rate-limit headers say a limit is used up, until it is whole again
(``http.rate_limit_hint``). Waiting out the pause inside the window, a paused provider sends at
most a window of calls when it ends.

When replies describe the provider's request limit whole (what it holds, what remains, when it
is whole again), the limiter follows it (``learned``): a bucket refilled at the rate those imply,
whose level is never above what the provider last said remained, less the calls sent since.
The window alone cannot keep to a rate: a 429 comes back at once while answers take the model's
time, so by the time a limit shows used up a window of calls is on its way into it.

A limiter with nothing configured that was never throttled costs a counter and a shared no-op
context manager per request.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from agnoctl import estimate
from agnoctl.errors import MAX_RETRY_AFTER, ProviderError, RateLimited, RetryAfterTooLong
from agnoctl.providers.base import Usage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agnoctl.providers.base import ModelReply, ModelRequest, RateLimitHint

DEFAULT_CEILING = 100  # a window's ceiling without max_concurrency nor a run concurrency


class LimiterWatch(Protocol):
    """What a limiter tells the run (its ``provider_throttled`` and ``provider_paused``
    events)."""

    def throttled(self, provider: str, window: int, in_flight: int, reason: str) -> None:
        """The window narrowed after a 429 (``rate_limited``), or grew back to its ceiling
        (``recovered``)."""

    def paused(self, provider: str, seconds: float, reason: str) -> None:
        """The provider asked every call to wait ``seconds``."""


def estimate_usage(request: ModelRequest) -> Usage:
    """The most a call may use, before it is sent: as input, everything the request sends
    (messages, tool definitions, the output schema), and as output its reply budget
    (``agnoctl.estimate``'s rules). Rate limits and budgets both hold this."""
    chars = sum(len(m.content) for m in request.messages)
    chars += sum(len(t.description) + len(str(t.parameters)) for t in request.tools)
    if request.output_schema is not None:
        chars += len(str(request.output_schema))
    files = sum(
        estimate.attachment_tokens(a.media_type, a.size)
        for m in request.messages
        for a in m.attachments
    )
    return Usage(
        estimate.chars_tokens(chars) + files, estimate.reserved_output_tokens(request.max_tokens)
    )


def estimate_tokens(request: ModelRequest) -> int:
    """Tokens a call may use in all (``estimate_usage``)."""
    return estimate_usage(request).total


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
        self._returned = anyio.Event()  # set by settle: the head waiter looks again

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
        if not self._lock.locked() and self._take_now(amount):
            return 0.0
        started = self._clock()
        async with self._lock:
            while not self._take_now(amount):
                await self._wait_for(amount)
        return self._clock() - started

    def settle(self, reserved: float, used: float) -> None:
        """Give back ``reserved - used`` (or charge it, if negative); the waiting caller looks
        again at once."""
        self._refill()
        self._level = min(self.capacity, self._level + reserved - used)
        self._returned.set()

    def set_level(self, level: float) -> None:
        """What the bucket holds now, as someone who knows better said (it may be in debt)."""
        self._refill()
        self._level = min(self.capacity, level)

    def _take_now(self, amount: float) -> bool:
        self._refill()
        if self._level < amount:
            return False
        self._level -= amount
        return True

    async def _wait_for(self, amount: float) -> None:
        """Until the refill brings ``amount`` or a ``settle`` changes the level, whichever first."""
        delay = (amount - self._level) / self.rate
        returned = self._returned = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(self._sleep_then_cancel, delay, group.cancel_scope)
            await returned.wait()
            group.cancel_scope.cancel()

    async def _sleep_then_cancel(self, delay: float, scope: anyio.CancelScope) -> None:
        await self._sleep(delay)
        scope.cancel()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now


class Window:
    """How many calls may be in flight to one provider, adapted to its 429s (AIMD, see above).

    ``acquire`` waits, first come first served, until a call fits; ``release`` lets the next
    one in. ``cuts`` counts the decreases: a call that went out before the last one has an
    older ticket, and its 429 belongs to a burst already answered.
    """

    def __init__(
        self, ceiling: int, *, bounded: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = ceiling
        self.size = ceiling
        self.bounded = bounded  # False: no call waits (no max_concurrency, no 429 yet)
        self.in_flight = 0
        self.cuts = 0
        self._growth = 0.0  # successes since the last step up, in 1/size
        self._clock = clock
        self._waiters: deque[anyio.Event] = deque()

    async def acquire(self) -> float:
        """Take a place in the window; returns the seconds waited for it."""
        if not self._waiters and (not self.bounded or self.in_flight < self.size):
            self.in_flight += 1
            return 0.0
        started = self._clock()
        admitted = anyio.Event()
        self._waiters.append(admitted)
        try:
            await admitted.wait()
        except BaseException:
            if admitted.is_set():  # let in, then cancelled: pass the place on
                self.release()
            else:
                self._waiters.remove(admitted)
            raise
        return self._clock() - started

    def release(self) -> None:
        self.in_flight -= 1
        self._admit()

    def cut(self, ticket: int) -> bool:
        """Halve the window for a 429 of a call admitted with ``ticket`` (``cuts`` then);
        whether it changed."""
        if ticket != self.cuts:
            return False
        self.cuts += 1
        size = max(1, min(self.size, self.in_flight) // 2)
        changed = not self.bounded or size != self.size
        self.size, self.bounded, self._growth = size, True, 0.0
        return changed

    def grow(self) -> bool:
        """One success: a step of 1/size toward the ceiling; whether the ceiling was reached."""
        if self.size >= self.ceiling:
            return False
        self._growth += 1.0 / self.size
        if self._growth < 1.0:
            return False
        self._growth -= 1.0
        self.size += 1
        self._admit()
        return self.size == self.ceiling

    def _admit(self) -> None:
        waiters = self._waiters
        while waiters and (not self.bounded or self.in_flight < self.size):
            self.in_flight += 1
            waiters.popleft().set()


@dataclass(slots=True)
class Throttling:
    """What a provider's limits did over a run, for the report (``throttling``)."""

    rate_limited: int = 0  # 429 replies
    min_window: int | None = None  # the smallest window; None: never narrowed
    paused: float = 0.0  # seconds the whole provider was paused
    waited: float = 0.0  # seconds calls waited for the window, pauses and buckets, summed

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate_limited": self.rate_limited,
            "min_window": self.min_window,
            "paused_seconds": round(self.paused, 3),
            "waited_seconds": round(self.waited, 3),
        }

    def __bool__(self) -> bool:
        return bool(self.rate_limited or self.paused or self.waited)


class Slot:
    """One call's hold on its provider's limits, as an async context manager; tell it how the
    call ended with ``answered`` or ``failed`` before leaving it."""

    def __init__(self, limiter: ProviderLimiter, tokens: int) -> None:
        self._limiter = limiter
        self.tokens = tokens  # reserved from the token bucket
        self.waited = 0.0  # seconds spent waiting for the window, a pause and the buckets
        self.ticket = 0  # the window's cuts when the call went out
        self.number = 0  # the calls sent through the limiter's slots, this one included

    async def __aenter__(self) -> Slot:
        limiter = self._limiter
        window = limiter.window
        waited = await window.acquire()
        try:
            waited += await limiter.pause_over()
            if limiter.requests is not None:
                waited += await limiter.requests.take(1)
            if limiter.learned is not None:
                waited += await limiter.learned.take(1)
            if limiter.tokens is not None:
                waited += await limiter.tokens.take(self.tokens)
        except BaseException:
            window.release()
            raise
        self.ticket = window.cuts
        self.waited = waited
        limiter.sent += 1
        self.number = limiter.sent
        limiter.throttling.waited += waited
        return self

    async def __aexit__(self, *_: object) -> None:
        self._limiter.window.release()

    def answered(self, reply: ModelReply) -> None:
        """The call was answered: correct the token bucket with the tokens it really used
        (a server that reports no usage keeps the estimate), grow the window, and pause if
        the reply says a limit is used up."""
        limiter = self._limiter
        if limiter.tokens is not None and reply.usage.total:
            limiter.tokens.settle(min(self.tokens, limiter.tokens.capacity), reply.usage.total)
        limiter.answered(reply, sent_since=limiter.sent - self.number)

    def failed(self, error: BaseException) -> None:
        self._limiter.failed(self.ticket, error)


class _Open(Slot):
    """The slot of a provider with nothing to wait for: counts calls in flight, so that a
    first 429 knows how many there were; shared by every call (nothing in it is per call)."""

    async def __aenter__(self) -> Slot:
        self._limiter.window.in_flight += 1
        return self

    def answered(self, reply: ModelReply) -> None:
        # Unnumbered: the calls sent since this one are at most the others in flight.
        self._limiter.answered(reply, sent_since=self._limiter.window.in_flight - 1)


class ProviderLimiter:
    """The limits of one provider; ``async with limiter.slot(tokens) as slot: ...``.

    ``watch`` is told when the window narrows or recovers and when the provider pauses.
    """

    def __init__(
        self,
        *,
        name: str = "",
        max_concurrency: int | None = None,
        ceiling: int = DEFAULT_CEILING,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        watch: LimiterWatch | None = None,
    ) -> None:
        self.name = name
        self.window = Window(
            max_concurrency or ceiling, bounded=max_concurrency is not None, clock=clock
        )
        self.requests = (
            TokenBucket(requests_per_minute, clock=clock, sleep=sleep)
            if requests_per_minute
            else None
        )
        self.tokens = (
            TokenBucket(tokens_per_minute, clock=clock, sleep=sleep) if tokens_per_minute else None
        )
        self.learned: TokenBucket | None = None  # the provider's own request limit (_learn)
        self.sent = 0  # calls sent through numbered slots
        self.throttling = Throttling()
        self.paused_until = 0.0  # on ``clock``
        self._clock = clock
        self._sleep = sleep
        self._watch = watch
        self._open = _Open(self, 0)
        self.limited = False
        self._update_limited()

    def slot(self, tokens: int = 0) -> Slot:
        """Hold for one call estimated at ``tokens`` (see ``estimate_tokens``)."""
        return Slot(self, tokens) if self.limited else self._open

    async def pause_over(self) -> float:
        """Wait until no pause holds the provider; returns the seconds waited.

        A pause longer than any wait agnoctl takes fails the call at once, as it fails the
        call whose reply asked for it: waiting it out would hang the run (a ``Retry-After``
        of days), while failing lets the step go to its fallback models. So does a pause
        another reply stretches that far while the call waits.
        """
        if self.paused_until <= self._clock():
            return 0.0
        started = self._clock()
        while (left := self.paused_until - self._clock()) > 0:
            if left > MAX_RETRY_AFTER:
                raise RetryAfterTooLong(left)
            await self._sleep(left)  # a pause may be extended meanwhile
        return self._clock() - started

    def pause(self, seconds: float, reason: str) -> None:
        """Hold every new call for ``seconds`` from now (a longer pause already set stays)."""
        now = self._clock()
        until = now + seconds
        if until <= self.paused_until:
            return
        extended = self.paused_until > now  # the same pause, longer: no new event
        self.throttling.paused += until - max(now, self.paused_until)
        self.paused_until = until
        self._update_limited()
        if self._watch is not None and not extended:
            self._watch.paused(self.name, round(seconds, 3), reason)

    def answered(self, reply: ModelReply, *, sent_since: int) -> None:
        """A call was answered; ``sent_since`` calls went out after it (for ``_learn``)."""
        if self.window.grow():
            self._window_event("recovered")
        hint = reply.rate_limit
        if hint is None:
            return
        if not self._learn(hint, sent_since) and hint.remaining == 0 and hint.full_in:
            self.pause(hint.full_in, "limit_reached")  # a request limit whose rate is unknown
        if hint.wait:
            self.pause(hint.wait, "limit_reached")

    def _learn(self, hint: RateLimitHint, sent_since: int) -> bool:
        """Keep to the request limit the provider's headers describe; whether it could.

        A bucket of ``limit``, refilled at ``(limit - remaining) / full_in`` a second (the
        time until it is whole again), made at the first reply that tells all three; its rate
        follows every later one. What the provider said remained when a call arrived, less the
        calls sent since, is at most what the bucket holds: a used-up limit is waited out call
        by call, not by a pause until it is whole again.
        """
        limit, remaining, full_in = hint.limit, hint.remaining, hint.full_in
        if limit is None or remaining is None:
            return False
        learned = self.learned
        if full_in and remaining < limit:  # a whole limit says nothing of its rate
            per_minute = (limit - remaining) / full_in * 60
            if learned is None:
                learned = self.learned = TokenBucket(
                    per_minute, capacity=limit, clock=self._clock, sleep=self._sleep
                )
                self._update_limited()
            else:
                learned.rate, learned.capacity = per_minute / 60.0, float(limit)
        if learned is None:
            return False
        learned.set_level(min(learned.level, remaining - sent_since))
        return True

    def failed(self, ticket: int, error: BaseException) -> None:
        """A call of ``ticket`` raised ``error``: a 429 narrows the window; a 429 or 503 that
        says how long to wait pauses the provider."""
        if not isinstance(error, ProviderError):
            return
        if isinstance(error, RateLimited):
            self.throttling.rate_limited += 1
            if self.window.cut(ticket):
                self._narrowed()
        if error.retry_after and (isinstance(error, RateLimited) or error.status == 503):
            self.pause(error.retry_after, error.kind)

    def _narrowed(self) -> None:
        size = self.window.size
        smallest = self.throttling.min_window
        self.throttling.min_window = size if smallest is None else min(smallest, size)
        self._update_limited()
        self._window_event("rate_limited")

    def _window_event(self, reason: str) -> None:
        if self._watch is not None:
            self._watch.throttled(self.name, self.window.size, self.window.in_flight, reason)

    def _update_limited(self) -> None:
        # Once anything was limited or throttled, every call takes a slot of its own.
        self.limited = (
            self.window.bounded
            or self.paused_until > 0
            or self.requests is not None
            or self.tokens is not None
            or self.learned is not None
        )
