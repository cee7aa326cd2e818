"""Min/max arithmetic for plans: spans of numbers and the model usage they add up to.

A `Span` is a (lo, hi) pair added and multiplied element-wise, so "3 items of 1 to 9 calls
each" is ``Span(3, 3) * Span(1, 9) == Span(3, 27)``. A `Bill` maps each model reference
(`<provider>/<model>`) to the calls and tokens planned for it.

Both are values: operations return new objects and never change their operands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    lo: float
    hi: float

    def __add__(self, other: Span) -> Span:
        return Span(self.lo + other.lo, self.hi + other.hi)

    def __mul__(self, other: Span) -> Span:
        return Span(self.lo * other.lo, self.hi * other.hi)

    def floor_zero(self) -> Span:
        """The same span with its low end at zero (for work that may be skipped)."""
        return Span(0, self.hi)


ZERO = Span(0, 0)
ONE = Span(1, 1)


@dataclass(frozen=True, slots=True)
class Usage:
    """Model calls and their tokens, each as a span."""

    calls: Span
    input_tokens: Span
    output_tokens: Span

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )

    def times(self, factor: Span) -> Usage:
        return Usage(self.calls * factor, self.input_tokens * factor, self.output_tokens * factor)


NO_USAGE = Usage(ZERO, ZERO, ZERO)

Bill = dict[str, Usage]
"""Model reference → its usage."""


def add_bills(bills: Iterable[Bill]) -> Bill:
    """Each model's usage summed over the bills, models in the order they first appear."""
    total: Bill = {}
    for bill in bills:
        for model, usage in bill.items():
            total[model] = total.get(model, NO_USAGE) + usage
    return total


def scale_bill(bill: Bill, factor: Span) -> Bill:
    return {model: usage.times(factor) for model, usage in bill.items()}


def bill_usage(bill: Bill) -> Usage:
    """Everything in a bill, whatever the model."""
    total = NO_USAGE
    for usage in bill.values():
        total = total + usage
    return total


__all__ = [
    "NO_USAGE",
    "ONE",
    "ZERO",
    "Bill",
    "Span",
    "Usage",
    "add_bills",
    "bill_usage",
    "scale_bill",
]
