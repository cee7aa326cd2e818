"""Success shares, rounded half up to two decimals before any comparison (SPEC).

2 of 3 is 0.67 and passes ``success_threshold: 0.67``; 1 of 3 is 0.33 and fails it. Rounding is
decimal, not binary: ``round(0.125, 2)`` gives 0.12 in Python, SPEC's half-up gives 0.13.
Nothing to count (0 of 0, e.g. a ``for_each`` over an empty list) is a share of 1.0: no item
failed, so an empty fan-out never fails its step.

A threshold of 1 (the default) means every one: 199 of 200 fails it, though 0.995 rounds to
1.00. Rounding is there so that "2 of 3" can be written 0.67; it must not let a failure
through a threshold that asks for none.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

_HUNDREDTHS = Decimal("0.01")


def _share(succeeded: int, total: int) -> Decimal:
    if total < 0 or not 0 <= succeeded <= total:
        raise ValueError(f"cannot take a share of {succeeded} succeeded out of {total}")
    if total == 0:
        return Decimal(1)
    return (Decimal(succeeded) / Decimal(total)).quantize(_HUNDREDTHS, rounding=ROUND_HALF_UP)


def share(succeeded: int, total: int) -> float:
    """``succeeded / total`` rounded half up to two decimals; 1.0 when ``total`` is 0."""
    return float(_share(succeeded, total))


def share_text(succeeded: int, total: int) -> str:
    """The share as messages print it: two decimals, as it is compared; but a share that
    rounds to 1.00 while one failed is cut to three (199 of 200: "0.995", 9,999 of 10,000:
    "0.999"), never shown as the 1 that a threshold of 1 asks for."""
    rounded = _share(succeeded, total)
    if rounded < 1 or succeeded == total:
        return f"{rounded:.2f}"
    exact = Decimal(succeeded) / Decimal(total)
    return str(exact.quantize(Decimal("0.001"), rounding=ROUND_DOWN))


def meets(succeeded: int, total: int, threshold: float) -> bool:
    """Whether the rounded share reaches ``threshold``, compared exactly in decimal; a
    threshold of 1 or more is met only when every one succeeded."""
    # repr() is the shortest text that reads back as the same float: 0.67 -> "0.67".
    reached = _share(succeeded, total) >= Decimal(repr(float(threshold)))
    return reached and (threshold < 1 or succeeded == total)
