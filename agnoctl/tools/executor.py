"""Where a program runs: in this process (``LOCAL``), or as a Ray task
(``agnoctl.engine.ray_executor``, ``agnoctl run --executor ray``).

An executor runs one of agnoctl's async functions that run a program (a command step's
``agnoctl.engine.command.execute``, a command tool's ``run_process``) and gives back its value
and the node it ran on. The function is the same either way: on a Ray worker it runs exactly
as it does here, process group, output caps and cleanup included; only its arguments and its
value travel. Everything else (the DAG, limits, budgets, the journal, the cache, the reports)
stays with the run, on the driver. Command tools live one layer below the engine, so the seam
is here, where both can reach it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, Protocol, TypeVar

from agnoctl.spec.models import ResourcesSpec

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ran(Generic[T]):
    """What a function returned, and where it ran."""

    value: T
    node: str | None
    """The Ray node's id; None when it ran in this process."""


class Executor(Protocol):
    async def run(
        self,
        resources: ResourcesSpec | None,
        fn: Callable[P, Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Ran[T]:
        """``await fn(*args, **kwargs)`` where this executor runs programs, with
        ``resources`` reserved there; cancelling the caller stops it there too."""
        ...


class LocalExecutor:
    """Runs the function here: what ``agnoctl run`` does unless told ``--executor ray``."""

    async def run(
        self,
        resources: ResourcesSpec | None,
        fn: Callable[P, Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Ran[T]:
        # `resources` are a cluster's reservation: one process has nothing to reserve.
        return Ran(await fn(*args, **kwargs), None)


LOCAL = LocalExecutor()
