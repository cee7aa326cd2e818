"""How every command and report writes an amount of dollars: one formatter, so the plan, the
terminal, summary.md, report.html and `report diff` agree on the same call's cost."""

from __future__ import annotations

import math

_DIGITS = 2  # significant digits kept below a dollar: a call's cost is a fraction of a cent


def usd(amount: float) -> str:
    """``$1,234.50`` from a dollar up; below it two significant digits and never fewer than
    two decimals: ``$0.60``, ``$0.012``, ``$0.0015``, ``$0.0000064``. A small amount never
    reads as ``$0.0000``, and ``$0.6`` is written as prices are, ``$0.60``. Zero is ``$0.00``.
    """
    if amount < 0:
        return "-" + usd(-amount)
    if amount >= 1 or amount == 0 or not math.isfinite(amount):
        return f"${amount:,.2f}"
    decimals = max(2, _DIGITS - 1 - math.floor(math.log10(amount)))
    text = f"{amount:.{decimals}f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def usd_change(amount: float) -> str:
    """A difference of dollars, always signed: ``+$0.0012``, ``-$0.60``."""
    return ("+" if amount >= 0 else "") + usd(amount)


__all__ = ["usd", "usd_change"]
