"""Price lookup (dated names, overrides, free protocols) and cost arithmetic."""

from __future__ import annotations

import pytest

from agnoctl.providers.base import Usage
from agnoctl.providers.pricing import BUILTIN_PRICES, Price, cost, lookup
from agnoctl.spec.models import ModelPrice


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
    ],
)
def test_dated_names_find_their_family(model: str, family: str):
    assert lookup(model) == BUILTIN_PRICES[family]


def test_an_exact_snapshot_price_wins_over_its_family():
    assert lookup("gpt-4o-2024-05-13") == Price(5.00, 15.00)


def test_unknown_models_have_no_price():
    assert lookup("gpt-4o-mini-search-preview") is None
    assert cost(None, "my-finetune", Usage(1000, 1000)) == 0.0


def test_cost_arithmetic():
    assert cost(None, "gpt-4o-mini", Usage(1_000_000, 2_000_000)) == pytest.approx(0.15 + 1.20)
    assert cost(None, "claude-sonnet-4-20250514", Usage(1000, 500)) == pytest.approx(0.0105)


def test_override_wins_and_tolerates_dates():
    overrides = {"gpt-4o-mini": ModelPrice(input=1.0, output=2.0)}
    assert cost(overrides, "gpt-4o-mini-2024-07-18", Usage(1_000_000, 1_000_000)) == 3.0
    assert cost(overrides, "gpt-4o", Usage(1_000_000, 0)) == 2.50  # others: the table


def test_local_protocols_are_free_unless_priced():
    assert cost(None, "gpt-4o", Usage(1_000_000, 1_000_000), protocol="ollama") == 0.0
    assert lookup("gpt-4o", protocol="mock") is None
    overrides = {"llama3.1": ModelPrice(input=0.1, output=0.1)}
    assert cost(overrides, "llama3.1", Usage(1_000_000, 0), protocol="ollama") == 0.1
