"""Concurrency limits where waiting work is served by priority (higher first, FIFO among equals).

``anyio.CapacityLimiter`` serves waiters in arrival order only; SPEC wants ``priority`` to
decide who runs first when concurrency is short, so this is a small heap of waiters, each with
its own ``anyio.Event``. A slot is handed straight to the next waiter on release, so a freed
slot is never stolen by a task that arrives later with a lower priority.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

import anyio


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.granted = False


class PriorityLimiter:
    """At most ``capacity`` holders at once; waiters ordered by (-priority, arrival)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0  # most holders seen at once (tests and benchmarks read it)
        self._waiters: list[tuple[int, int, _Waiter]] = []
        self._arrival = itertools.count()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, priority: int = 0) -> None:
        if self.in_use < self.capacity and not self._waiters:
            self._take()
            return
        waiter = _Waiter()
        entry = (-priority, next(self._arrival), waiter)
        heapq.heappush(self._waiters, entry)
        try:
            await waiter.event.wait()
        except BaseException:
            if waiter.granted:
                # Cancelled after the slot was handed over: pass it on, nobody holds it.
                self.release()
            else:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            raise

    def release(self) -> None:
        if self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            waiter.granted = True
            waiter.event.set()  # the slot moves to the waiter: in_use is unchanged
            return
        self.in_use -= 1

    def _take(self) -> None:
        self.in_use += 1
        if self.in_use > self.peak:
            self.peak = self.in_use


_NOTHING_TO_HOLD: AbstractAsyncContextManager[None] = nullcontext()


def hold(limiters: Sequence[PriorityLimiter], priority: int) -> AbstractAsyncContextManager[None]:
    """Hold a slot of every limiter, taken in the given order (one fixed order: no deadlock).

    Without limiters this is a shared no-op: most tasks of most runs have none to take.
    """
    return _held(limiters, priority) if limiters else _NOTHING_TO_HOLD


@asynccontextmanager
async def _held(limiters: Sequence[PriorityLimiter], priority: int) -> AsyncIterator[None]:
    taken: list[PriorityLimiter] = []
    try:
        for limiter in limiters:
            await limiter.acquire(priority)
            taken.append(limiter)
        yield
    finally:
        for limiter in reversed(taken):
            limiter.release()
