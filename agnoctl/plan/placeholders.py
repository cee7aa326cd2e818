"""Stand-ins for values a run learns only as it goes, so templates render before any call.

A `Placeholder` renders as ``<steps.collect.output>``. Any attribute, item or call on it gives
another placeholder; iterating it gives one (so a ``{% for %}`` over a step's output renders its
body once); its length is 1, arithmetic gives a placeholder and ordering comparisons are false.
That is enough for the templates people write around step outputs to render through the shared
sandbox with the same size as a typical one-item output, which is what token estimates need.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class Placeholder:
    """A value known only at run time."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        self._path = path

    def __str__(self) -> str:
        return f"<{self._path}>"

    __repr__ = __str__

    # The sandbox reads `x.name` as getattr, then item access: only dunders and the dict-like
    # methods below are real attributes, so every other name falls through to __getitem__.
    def __getitem__(self, key: object) -> Placeholder:
        if isinstance(key, str):
            return Placeholder(f"{self._path}.{key}")
        return Placeholder(f"{self._path}[{key!r}]")

    def __call__(self, *args: object, **kwargs: object) -> Placeholder:
        return Placeholder(f"{self._path}()")

    def __iter__(self) -> Iterator[Placeholder]:
        yield self[0]

    def __len__(self) -> int:
        return 1

    def __bool__(self) -> bool:
        return True

    def __contains__(self, item: object) -> bool:
        return False

    # dict-like methods, as `output.items()` and the dictsort filter call them on a mapping.
    def items(self) -> list[tuple[Placeholder, Placeholder]]:
        return [(self["key"], self["value"])]

    def keys(self) -> list[Placeholder]:
        return [self["key"]]

    def values(self) -> list[Placeholder]:
        return [self["value"]]

    def _same(self, *other: object) -> Placeholder:
        return self

    def _false(self, other: object) -> bool:
        return False

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _same
    __mod__ = __rmod__ = __pow__ = __rpow__ = _same
    __neg__ = __pos__ = __abs__ = __round__ = _same
    __lt__ = __le__ = __gt__ = __ge__ = _false


def contains_placeholder(value: Any) -> bool:
    """Whether a value is, or holds in a list or mapping, a placeholder."""
    if isinstance(value, Placeholder):
        return True
    if isinstance(value, list | tuple):
        return any(contains_placeholder(item) for item in value)
    if isinstance(value, dict):
        return any(contains_placeholder(item) for item in value.values())
    return False


__all__ = ["Placeholder", "contains_placeholder"]
