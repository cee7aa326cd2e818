"""A per-provider circuit breaker (SPEC "Retries, timeouts, circuit breakers").

    closed ──failure_threshold consecutive failures──▶ open
    open ──recovery_timeout elapsed, next call──▶ half_open (lets half_open_max_calls probes in)
    half_open ──a probe succeeds──▶ closed      half_open ──a probe fails──▶ open

While open, a call raises ``CircuitOpen`` at once, so the engine can move on to a fallback model.

What counts is what says the provider is down (``signals_outage``): a 5xx, a 408 (the
server's side of a timeout), a timeout, a refused or reset connection, and a malformed reply.
A malformed reply counts because what sends a body that is not the protocol at all is, in
practice, a gateway, proxy or load balancer in front of a server that is not there (an HTML
error page with a 200): the endpoint is broken for every call, as with a 502, and failing fast
to a fallback is what helps.

A 429 never counts, nor does any other 4xx: the provider answered, and judged *our* calls. A 429
is backpressure (the limiter behind the breaker slows down: ``ratelimit``), not an outage, and
under a burst it comes by the dozen; counting it would open the breaker on a healthy provider
and fail every retry fast. A 409 is a conflict with the state of one request (an idempotency
key in use, a resource being changed): retried, as SPEC says, but it says nothing about the
provider's health. Such outcomes, like a cancellation or an error outside the provider tree,
neither count nor reset the run of failures, and a probe that ends that way just gives its slot
back.

Outcomes of calls admitted before the state last changed are ignored (a slow call that
succeeds after the breaker re-opened proves nothing about the provider now).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal, TypeVar

from agnoctl.errors import CircuitOpen, RateLimited, TransientProviderError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

State = Literal["closed", "open", "half_open"]
T = TypeVar("T")


def signals_outage(error: BaseException) -> bool:
    """Whether ``error`` says the provider is down (what the breaker counts; see above)."""
    if not isinstance(error, TransientProviderError) or isinstance(error, RateLimited):
        return False
    status = error.status  # None for timeouts and connection failures, 200 for malformed
    return status is None or status == 408 or not 400 <= status <= 499


class CircuitBreaker:
    """One provider's breaker. ``clock`` is monotonic seconds; ``on_change(name, old, new)``
    is called on every state change (the engine turns it into an event)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, State, State], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or recovery_timeout < 0:
            raise ValueError(
                "failure_threshold and half_open_max_calls must be >= 1, recovery_timeout >= 0"
            )
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._on_change = on_change
        self._state: State = "closed"
        self._failures = 0  # consecutive, while closed
        self._opened_at = 0.0
        self._probes = 0  # probes in flight, while half-open
        self._generation = 0  # bumped on every state change

    @property
    def state(self) -> State:
        """The state now; an open breaker whose recovery time has passed reads half_open."""
        if self._state == "open" and self._recovered():
            return "half_open"
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def generation(self) -> int:
        """Changes with every state change; a ticket from another generation is stale."""
        return self._generation

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` through the breaker: raise ``CircuitOpen`` or record its outcome."""
        ticket = self.admit()
        try:
            result = await fn()
        except BaseException as exc:
            self.record_outcome(ticket, exc)
            raise
        self.record_success(ticket)
        return result

    def admit(self) -> int:
        """Let a call in or raise ``CircuitOpen``. Returns a ticket to record its outcome with."""
        if self._state == "open":
            if not self._recovered():
                raise self._open_error()
            self._change("half_open")
        if self._state == "half_open":
            if self._probes >= self.half_open_max_calls:
                raise self._open_error()
            self._probes += 1
        return self._generation

    def record_success(self, ticket: int) -> None:
        if self._settle(ticket):
            self._failures = 0
            if self._state == "half_open":
                self._change("closed")

    def record_failure(self, ticket: int) -> None:
        if not self._settle(ticket):
            return
        if self._state == "half_open":
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def record_outcome(self, ticket: int, error: BaseException) -> None:
        """Record a call that raised ``error``: a failure if it signals an outage, else neutral."""
        if signals_outage(error):
            self.record_failure(ticket)
        else:
            self.record_neutral(ticket)

    def record_neutral(self, ticket: int) -> None:
        """The call ended in a way that says nothing about the provider's health."""
        self._settle(ticket)

    def _settle(self, ticket: int) -> bool:
        """Release a probe slot; whether the outcome belongs to the current state."""
        if ticket != self._generation:
            return False
        if self._state == "half_open":
            self._probes -= 1
        return True

    def _recovered(self) -> bool:
        return self._clock() - self._opened_at >= self.recovery_timeout

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._change("open")

    def _change(self, new: State) -> None:
        old, self._state = self._state, new
        self._generation += 1
        self._probes = 0
        self._failures = 0
        if self._on_change is not None:
            self._on_change(self.name, old, new)

    def _open_error(self) -> CircuitOpen:
        wait = max(0.0, self.recovery_timeout - (self._clock() - self._opened_at))
        return CircuitOpen(
            f"provider {self.name!r} keeps failing, so its circuit breaker is open: calls fail "
            f"fast for {wait:.1f}s more, then {self.half_open_max_calls} probe(s) may go through",
            provider=self.name,
            retry_after=wait,
        )
