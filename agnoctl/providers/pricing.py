"""What a call costs, in USD, from its token usage.

Built-in list prices (standard tier, USD per 1M tokens, no batch discounts) were taken on
``PRICES_AS_OF`` from the providers' pricing pages (platform.openai.com/docs/pricing,
docs.anthropic.com/en/docs/about-claude/pricing). They go stale: a provider entry's ``pricing``
overrides them per model, and a model found in neither costs 0 (``lookup`` returns ``None``,
so the engine can say so). Local servers (``ollama``) and ``mock`` cost 0 unless an override
says otherwise.

Input the provider's prompt cache served (``Usage.cache_read_tokens``) is billed at the
model's cached-input price, input written to it (``cache_write_tokens``) at its cache-write
price; a price without one bills those tokens at the input price. OpenAI lists a cached-input
price per model (models without one have no cache discount) and charges nothing more for
writes; Anthropic bills reads at 0.1 times and (5-minute) writes at 1.25 times the input price.

Model names are matched as given, then without a dated or ``-latest`` suffix, so
``gpt-4o-mini-2024-07-18`` and ``claude-3-5-haiku-20241022`` find their family's price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from agnoctl.spec.models import price_names

if TYPE_CHECKING:
    from collections.abc import Mapping

    from agnoctl.providers.base import Usage

PRICES_AS_OF = "2026-03-21"
FREE_PROTOCOLS = frozenset({"ollama", "mock"})


class PriceLike(Protocol):
    """A price per 1M tokens; the spec's ``ModelPrice`` is one."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...

    @property
    def cached_input(self) -> float | None: ...

    @property
    def cache_write(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # USD per 1M input tokens
    output: float  # USD per 1M output tokens
    cached_input: float | None = None  # per 1M read from the prompt cache (None: input's)
    cache_write: float | None = None  # per 1M written to the prompt cache (None: input's)


def _claude(input_price: float, output_price: float) -> Price:
    """An Anthropic model's price: cache reads at 0.1 and (5-minute) writes at 1.25 times
    the input price, as Anthropic lists them."""
    return Price(input_price, output_price, input_price * 0.1, input_price * 1.25)


BUILTIN_PRICES: dict[str, Price] = {
    # OpenAI (input, output, cached input): a tenth of input on gpt-5, a quarter on gpt-4.1,
    # o3 and o4-mini, half on gpt-4o and the older o-series; no cache discount on the rest.
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-2024-05-13": Price(5.00, 15.00),  # the first gpt-4o snapshot kept its launch price
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    # Anthropic
    "claude-opus-4-5": _claude(5.00, 25.00),
    "claude-opus-4-1": _claude(15.00, 75.00),
    "claude-opus-4": _claude(15.00, 75.00),
    "claude-opus-4-0": _claude(15.00, 75.00),
    "claude-sonnet-4-5": _claude(3.00, 15.00),
    "claude-sonnet-4": _claude(3.00, 15.00),
    "claude-sonnet-4-0": _claude(3.00, 15.00),
    "claude-3-7-sonnet": _claude(3.00, 15.00),
    "claude-3-5-sonnet": _claude(3.00, 15.00),
    "claude-haiku-4-5": _claude(1.00, 5.00),
    "claude-3-5-haiku": _claude(0.80, 4.00),
    "claude-3-opus": _claude(15.00, 75.00),
    "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.30),  # the one Anthropic lists rounded
}


def lookup(
    model: str, overrides: Mapping[str, PriceLike] | None = None, *, protocol: str | None = None
) -> PriceLike | None:
    """The price of ``model``: an override first, then (unless the protocol is free) the table."""
    tables: list[Mapping[str, PriceLike]] = [overrides or {}]
    if protocol not in FREE_PROTOCOLS:
        tables.append(BUILTIN_PRICES)
    for table in tables:
        for name in price_names(model):
            if name in table:
                return table[name]
    return None


def charge(
    price: PriceLike,
    input_tokens: float,
    output_tokens: float,
    cache_read: float = 0,
    cache_write: float = 0,
) -> float:
    """USD for these tokens at ``price`` (USD per 1M tokens): ``input_tokens`` are all the
    input tokens billed, of which ``cache_read`` were read from the prompt cache and
    ``cache_write`` written to it, each billed at its own price (the input price when the
    price has none)."""
    fresh = input_tokens - cache_read - cache_write
    read_price = price.input if price.cached_input is None else price.cached_input
    write_price = price.input if price.cache_write is None else price.cache_write
    billed = fresh * price.input + cache_read * read_price + cache_write * write_price
    return (billed + output_tokens * price.output) / 1_000_000


def cost(
    overrides: Mapping[str, PriceLike] | None,
    model: str,
    usage: Usage,
    *,
    protocol: str | None = None,
) -> float:
    """USD for ``usage`` on ``model``; 0 for free protocols and models without a price."""
    price = lookup(model, overrides, protocol=protocol)
    return 0.0 if price is None else charge_usage(price, usage)


def charge_usage(price: PriceLike, usage: Usage) -> float:
    """``charge`` for a call's ``usage``."""
    return charge(
        price,
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
