"""What a call costs, in USD, from its token usage.

Built-in list prices (standard tier, USD per 1M tokens, no batch or cache discounts) were taken
on ``PRICES_AS_OF`` from the providers' pricing pages (platform.openai.com/docs/pricing,
docs.anthropic.com/en/docs/about-claude/pricing). They go stale: a provider entry's ``pricing``
overrides them per model, and a model found in neither costs 0 (``lookup`` returns ``None``,
so the engine can say so). Local servers (``ollama``) and ``mock`` cost 0 unless an override
says otherwise.

Model names are matched as given, then without a dated or ``-latest`` suffix, so
``gpt-4o-mini-2024-07-18`` and ``claude-3-5-haiku-20241022`` find their family's price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from agnoctl.providers.base import Usage

PRICES_AS_OF = "2026-03-21"
FREE_PROTOCOLS = frozenset({"ollama", "mock"})
_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


class PriceLike(Protocol):
    """A price per 1M tokens; the spec's ``ModelPrice`` is one."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # USD per 1M input tokens
    output: float  # USD per 1M output tokens


BUILTIN_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-2024-05-13": Price(5.00, 15.00),  # the first gpt-4o snapshot kept its launch price
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "o1": Price(15.00, 60.00),
    "o1-mini": Price(1.10, 4.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    # Anthropic
    "claude-opus-4-5": Price(5.00, 25.00),
    "claude-opus-4-1": Price(15.00, 75.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-opus-4-0": Price(15.00, 75.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-sonnet-4-0": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-opus": Price(15.00, 75.00),
    "claude-3-haiku": Price(0.25, 1.25),
}


def lookup(
    model: str, overrides: Mapping[str, PriceLike] | None = None, *, protocol: str | None = None
) -> PriceLike | None:
    """The price of ``model``: an override first, then (unless the protocol is free) the table."""
    tables: list[Mapping[str, PriceLike]] = [overrides or {}]
    if protocol not in FREE_PROTOCOLS:
        tables.append(BUILTIN_PRICES)
    for table in tables:
        for name in (model, _SUFFIX.sub("", model)):
            if name in table:
                return table[name]
    return None


def charge(price: PriceLike, input_tokens: float, output_tokens: float) -> float:
    """USD for these tokens at ``price`` (USD per 1M tokens)."""
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def cost(
    overrides: Mapping[str, PriceLike] | None,
    model: str,
    usage: Usage,
    *,
    protocol: str | None = None,
) -> float:
    """USD for ``usage`` on ``model``; 0 for free protocols and models without a price."""
    price = lookup(model, overrides, protocol=protocol)
    if price is None:
        return 0.0
    return charge(price, usage.input_tokens, usage.output_tokens)
