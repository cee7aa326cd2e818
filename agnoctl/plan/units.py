"""How plans write numbers: counts, dollars, durations and limit values."""

from __future__ import annotations

from agnoctl.money import usd


def count(value: float) -> str:
    """A whole number with thousands separators: 12,345."""
    return f"{value:,.0f}"


def seconds(value: float) -> str:
    """A duration: 8.5 s, 42 s, 3 m 05 s, 1 h 02 m."""
    if value == 0:
        return "0 s"
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def limit_amount(limit: str, value: float) -> str:
    """A value in the unit of a `limits` entry."""
    if limit == "max_cost_usd":
        return usd(value)
    if limit == "max_duration":
        return seconds(value)
    return count(value)


__all__ = ["count", "limit_amount", "seconds", "usd"]
