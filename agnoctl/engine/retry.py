"""The retry policy, in one place: what is retried, how long to wait, and why.

SPEC: retried are timeouts, connection errors, HTTP 408/409/429/5xx, malformed replies (a body
that does not parse, or structured output that does not validate) and gate failures under
``on_gate_failure: retry``; other 4xx are not. The delay before retry ``n`` (0 for the first
retry) is ``min(max_delay, initial_delay * multiplier**n)`` with full jitter, and a provider's
``Retry-After`` / ``retry-after-ms`` wins when it is larger.

Randomness comes from a ``random.Random`` the caller passes in: the engine makes one per run,
seeded by ``--seed``, so a seeded run waits exactly the same delays every time.
"""

from __future__ import annotations

import asyncio
import math
import random

from agnoctl.engine.budget import BudgetExceeded
from agnoctl.errors import (
    MAX_RETRY_AFTER,
    AgnoctlError,
    CacheMiss,
    CircuitOpen,
    ProviderError,
    RetryAfterTooLong,
    StepFailed,
)
from agnoctl.spec.models import RetrySpec
from agnoctl.spec.templates import TemplateError


def retryable_status(status: int) -> bool:
    """Whether an HTTP error status is worth another attempt (408, 409, 429, 5xx)."""
    return status in (408, 409, 429) or 500 <= status <= 599


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt of the same call may succeed, exactly as SPEC lists it.

    An HTTP status, when the error carries one, decides over the error's class: a provider
    that raised a 409 as a bad request is still retried, and so is a used-up quota's 429. An
    open circuit breaker and a wait past the longest agnoctl takes are never retried on the
    same model (the engine goes to the fallback models instead).
    """
    if isinstance(exc, CircuitOpen | RetryAfterTooLong):
        return False
    if isinstance(exc, ProviderError):
        if exc.status is not None and exc.status >= 400:
            return retryable_status(exc.status)
        return exc.retryable
    if isinstance(exc, StepFailed):
        # GateFailed is retryable only under on_gate_failure: retry; OutputInvalid always.
        return exc.retryable
    # anyio's fail_after raises the builtin TimeoutError; resets and refusals are
    # ConnectionError. Anything else (a bug, a cancellation) must not be retried.
    return isinstance(exc, TimeoutError | ConnectionError)


def reason(exc: BaseException) -> str:
    """A stable short reason for events and reports (``rate_limited``, ``timeout``, ...)."""
    if isinstance(exc, RetryAfterTooLong):
        return "retry_after_too_long"
    if isinstance(exc, ProviderError):
        return exc.kind if exc.kind != "provider_error" else _status_reason(exc.status)
    if isinstance(exc, StepFailed):
        return exc.kind
    return _other_reason(exc)


def _status_reason(status: int | None) -> str:
    if status is None:
        return "provider_error"
    if status in (401, 403):
        return "auth"
    if status in (408, 504):
        return "timeout"
    if status == 409:
        return "conflict"
    if status == 429:
        return "rate_limited"
    if 500 <= status <= 599:
        return "unavailable"
    return "bad_request" if 400 <= status <= 499 else "provider_error"


def _other_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "connection_error"
    if isinstance(exc, BudgetExceeded):
        return "budget_exceeded"
    if isinstance(exc, CacheMiss):
        return "cache_miss"
    if isinstance(exc, TemplateError):
        return "template_error"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "agnoctl_error" if isinstance(exc, AgnoctlError) else "internal_error"


class Backoff:
    """Delays between attempts of one call, drawn from the run's seeded random source."""

    def __init__(self, spec: RetrySpec, rng: random.Random) -> None:
        self._initial = float(spec.initial_delay)
        self._max = float(spec.max_delay)
        self._multiplier = float(spec.multiplier)
        self._full_jitter = spec.jitter == "full"
        self._rng = rng

    def computed(self, retry_number: int) -> float:
        """``min(max_delay, initial_delay * multiplier**n)``, the bound before jitter."""
        if retry_number < 0:
            raise ValueError(f"retry_number must be 0 or more, not {retry_number}")
        if self._initial == 0:
            return 0.0  # also avoids 0 * inf = nan below
        try:
            growth = self._multiplier**retry_number
        except OverflowError:  # float ** int raises instead of giving inf
            growth = math.inf
        return min(self._max, self._initial * growth)

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (0 for the first retry).

        Full jitter draws uniformly from ``[0, computed]``. A provider's Retry-After wins when
        larger and is not capped by ``max_delay`` (SPEC: it wins); a negative or NaN value is
        ignored, and one above ``MAX_RETRY_AFTER`` raises ``RetryAfterTooLong``.
        """
        computed = self.computed(retry_number)
        jittered = self._rng.uniform(0.0, computed) if self._full_jitter else computed
        if retry_after is None or math.isnan(retry_after) or retry_after < 0:
            return jittered
        if retry_after > MAX_RETRY_AFTER:
            raise RetryAfterTooLong(retry_after)
        return max(jittered, retry_after)
