"""The template context of SPEC: ``inputs``, ``env``, ``steps``, ``item``, ``index``, ``loop``,
``run``, ``workflow``.

Templates read steps by full path from the top: ``steps.review.draft.output`` is the child
``draft`` of the group ``review``, also from inside that group. An entry exposes ``output``,
``status``, ``error`` (what went wrong, null unless it failed or was skipped for a reason
worth saying) and, for ``for_each`` steps, ``results``; a group's entry also exposes its children,
and does so while the group runs, so a child reads the siblings it needs and a loop's ``until``
reads the iteration's outputs. Inside one item of a ``for_each`` group the group's path reads
that item's children: ``overlay`` gives each item its own view without copying anything else.

Neither class defines other public attributes, so a step named ``items`` or ``keys`` is never
shadowed by a dict method (Jinja tries attributes before keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Results = list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
"""A ``for_each`` step's results, or what lists them when they are first read."""


class StepEntry:
    """What templates see of one finished step as ``steps.<id>``."""

    __slots__ = ("_children", "_results", "error", "output", "status")

    def __init__(
        self,
        status: str,
        output: Any,
        results: Results | None = None,
        children: StepsView | None = None,
        error: str | None = None,
    ) -> None:
        self.status = status
        self.output = output
        self.error = error
        self._results = results
        self._children = children

    @property
    def results(self) -> list[dict[str, Any]] | None:
        """A ``for_each`` step's ``{item, status, output, error}`` per item, listed when a
        template first reads them (most never do: a million-item fan-out lists none)."""
        results = self._results
        if callable(results):
            results = self._results = results()
        return results

    def __getattr__(self, name: str) -> StepEntry:
        children = self._children
        if children is not None and name in children:
            return children[name]
        raise AttributeError(name)

    def __getitem__(self, name: str) -> Any:
        if name in ("output", "status", "error", "results"):
            return getattr(self, name)
        try:
            return self.__getattr__(name)
        except AttributeError:
            raise KeyError(name) from None

    def __repr__(self) -> str:
        return f"StepEntry(status={self.status!r}, output={self.output!r})"


class StepsView:
    """Entries by step id: its own, then (for ids it lacks) those of the view it shadows."""

    __slots__ = ("_own", "_parent")

    def __init__(
        self, own: dict[str, StepEntry] | None = None, parent: StepsView | None = None
    ) -> None:
        self._own = {} if own is None else own
        self._parent = parent

    def set(self, step_id: str, entry: StepEntry) -> None:
        self._own[step_id] = entry

    def own(self) -> dict[str, StepEntry]:
        return self._own

    def __getitem__(self, name: str) -> StepEntry:
        view: StepsView | None = self
        while view is not None:
            entry = view._own.get(name)
            if entry is not None:
                return entry
            view = view._parent
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        view: StepsView | None = self
        while view is not None:
            for name in view._own:
                if name not in seen:
                    seen.add(name)
                    yield name
            view = view._parent

    def __len__(self) -> int:
        return sum(1 for _ in self)


def overlay(view: StepsView, ids: tuple[str, ...], entry: StepEntry) -> StepsView:
    """A view where the step at path ``ids`` reads as ``entry`` and all else as in ``view``."""
    head = ids[0]
    replacement = entry
    if len(ids) > 1:
        original = view[head]
        inner = original._children if original._children is not None else StepsView()
        replacement = StepEntry(
            original.status,
            original.output,
            original._results,
            overlay(inner, ids[1:], entry),
            original.error,
        )
    return StepsView({head: replacement}, view)


def base_context(
    *,
    inputs: Mapping[str, Any],
    env: Mapping[str, str],
    run_id: str,
    workflow_name: str,
    workflow_dir: str,
    steps: StepsView,
) -> dict[str, Any]:
    """The context every template of the run starts from."""
    return {
        "inputs": dict(inputs),
        "env": dict(env),
        "steps": steps,
        "run": {"id": run_id},
        "workflow": {"name": workflow_name, "dir": workflow_dir},
    }
