"""Token figures and prices are defined once: `agnoctl.estimate` holds every token and time
heuristic (plan, budgets, rate limits and the mock use it), `pricing.charge` every USD sum."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl import estimate
from agnoctl.engine.runtime import Route
from agnoctl.plan.prices import Price
from agnoctl.plan.usage import Span, Usage
from agnoctl.providers import pricing
from agnoctl.providers.base import CallContext, Message, ModelRequest
from agnoctl.providers.base import Usage as CallUsage
from agnoctl.providers.fixtures import parse_fixtures
from agnoctl.providers.mock import MockProvider
from agnoctl.providers.ratelimit import estimate_usage

PACKAGE = Path(__file__).resolve().parents[2] / "agnoctl"
_TOKEN_FIGURE = re.compile(r"PER_TOKEN|OUTPUT_ESTIMATE|OUTPUT_TOKENS")


def _module_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names += [target.id for target in targets if isinstance(target, ast.Name)]
    return names


def test_no_module_but_estimate_defines_a_token_figure() -> None:
    found = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "estimate.py"
        for name in _module_constants(path)
        if _TOKEN_FIGURE.search(name)
    }
    assert not found


def test_a_call_without_max_tokens_reserves_the_estimate_module_s_figure() -> None:
    request = ModelRequest(model="m", messages=(Message("user", "x" * 9),))
    assert estimate_usage(request) == CallUsage(
        estimate.chars_tokens(9), estimate.RESERVED_OUTPUT_TOKENS
    )
    # The reservation is a worst case: never below what the plan counts for the same call.
    assert estimate.RESERVED_OUTPUT_TOKENS >= estimate.DEFAULT_OUTPUT_TOKENS
    limited = ModelRequest(model="m", messages=(), max_tokens=7)
    assert estimate_usage(limited).output_tokens == estimate.reserved_output_tokens(7) == 7


@given(st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_the_mock_counts_tokens_by_the_plan_s_rule(texts: list[str]) -> None:
    messages = tuple(Message("user", text) for text in texts)
    request = ModelRequest(model="echo", messages=messages, context=CallContext(step_id="s"))
    reply = anyio.run(MockProvider().request, request)
    assert reply.usage.input_tokens == estimate.chars_tokens(sum(map(len, texts)))
    assert reply.usage.output_tokens == estimate.text_tokens(texts[-1])


def test_a_fixture_reply_counts_its_tokens_by_the_plan_s_rule() -> None:
    fixtures = parse_fixtures({"steps": {"s": {"text": "twelve chars"}}})
    reply = fixtures.script_for(CallContext(step_id="s")).reply(0)  # type: ignore[union-attr]
    assert reply.output_tokens == estimate.text_tokens("twelve chars") == 3


def test_every_price_is_worked_out_by_pricing_charge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "charge", lambda _, sent, produced, *_cache: sent + produced / 10)
    route = Route(provider=None, model="m", label="p/m", price=pricing.Price(1.0, 2.0))  # type: ignore[arg-type]
    assert route.cost(CallUsage(3, 40)) == 7
    assert pricing.cost({"m": pricing.Price(1.0, 2.0)}, "m", CallUsage(3, 40)) == 7
    usage = Usage(Span(1, 1), Span(3, 5), Span(40, 80))
    assert Price(1.0, 2.0, source="workflow").cost(usage) == Span(7, 13)


def test_charge_is_usd_per_million_tokens() -> None:
    assert pricing.charge(pricing.Price(2.5, 10.0), 1_000_000, 500_000) == 7.5
