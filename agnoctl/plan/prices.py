"""Which price the plan uses for a model, and where it comes from.

Prices come from `agnoctl.providers.pricing`: the provider entry's `pricing` first, then the
built-in table (matched without dated suffixes). Local protocols (mock, ollama) are free. A
model found nowhere has no price: the plan says so rather than counting it as free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agnoctl.plan.model import PriceSource
from agnoctl.plan.usage import Span, Usage
from agnoctl.providers import pricing
from agnoctl.spec.checks import BUILTIN_PROVIDERS
from agnoctl.spec.models import ProviderSpec


@dataclass(frozen=True, slots=True)
class Price(pricing.Price):
    """A model's price (USD per 1M tokens), and where the plan found it. The plan counts no
    prompt-cache hits (which prompts share a cached prefix is the server's to find), so it
    prices every input token at the input price: its estimate is an upper bound there."""

    source: PriceSource = field(kw_only=True)

    def cost(self, usage: Usage) -> Span:
        """USD of the usage's min and max tokens."""
        sent, produced = usage.input_tokens, usage.output_tokens
        return Span(
            pricing.charge(self, sent.lo, produced.lo), pricing.charge(self, sent.hi, produced.hi)
        )


def protocol_of(providers: Mapping[str, ProviderSpec], provider: str) -> str | None:
    """The wire protocol of a provider name: its entry's type, or a built-in's own name."""
    entry = providers.get(provider)
    if entry is not None:
        return entry.type
    return provider if provider in BUILTIN_PROVIDERS else None


def price_of(providers: Mapping[str, ProviderSpec], model_ref: str) -> Price | None:
    """The price of `<provider>/<model>` under the run's provider entries (every file's:
    a sub-workflow's models are priced by its own), or None when no price is known."""
    provider, _, model = model_ref.partition("/")
    entry = providers.get(provider)
    overrides = entry.pricing if entry else None
    protocol = protocol_of(providers, provider)
    found = pricing.lookup(model, overrides, protocol=protocol)
    if found is None:
        return Price(0.0, 0.0, source="free") if protocol in pricing.FREE_PROTOCOLS else None
    built_in = found is pricing.lookup(model, None, protocol=protocol)
    return Price(found.input, found.output, source="built-in" if built_in else "workflow")


__all__ = ["Price", "price_of", "protocol_of"]
