"""Min/max arithmetic for plans: spans of numbers and the model usage they add up to.

A `Span` is a (lo, hi) pair added and multiplied element-wise, so "3 items of 1 to 9 calls
each" is ``Span(3, 3) * Span(1, 9) == Span(3, 27)``. A `Bill` maps each model reference
(`<provider>/<model>`) to the calls and tokens planned for it.

Both are values: operations return new objects and never change their operands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(slots=True)
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


@dataclass(slots=True)
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
    # A map of thousands of steps adds thousands of bills: each model's calls and tokens are
    # kept as six running sums (low and high), added in the bills' order.
    sums: dict[str, list[float]] = {}
    for bill in bills:
        for model, usage in bill.items():
            acc = sums.get(model)
            if acc is None:
                acc = sums[model] = [0, 0, 0, 0, 0, 0]
            calls, sent, produced = usage.calls, usage.input_tokens, usage.output_tokens
            acc[0] += calls.lo
            acc[1] += calls.hi
            acc[2] += sent.lo
            acc[3] += sent.hi
            acc[4] += produced.lo
            acc[5] += produced.hi
    return {
        model: Usage(Span(a[0], a[1]), Span(a[2], a[3]), Span(a[4], a[5]))
        for model, a in sums.items()
    }


def scale_bill(bill: Bill, factor: Span) -> Bill:
    if factor.lo == 1 and factor.hi == 1:  # once per run of the map: the bill as it is
        return bill
    return {model: usage.times(factor) for model, usage in bill.items()}


def bill_usage(bill: Bill) -> Usage:
    """Everything in a bill, whatever the model."""
    if len(bill) == 1:
        return next(iter(bill.values()))
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
