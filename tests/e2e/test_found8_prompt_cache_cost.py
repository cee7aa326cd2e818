"""Prompt-cache tokens are counted and priced as the providers bill them, through the real CLI
against the fake server, whole replies and streams alike.

Found by the cost pass: agnoctl priced every input token at the input price and read no cache
field. OpenAI's `prompt_tokens` holds the tokens its prompt cache served
(`prompt_tokens_details.cached_tokens`, billed at the model's cached-input price), so costs
were over-reported and `max_cost_usd` stopped runs that were well under it. Anthropic reports
its cache reads and writes apart from `input_tokens` (billed at 0.1 and 1.25 times the input
price), so those tokens and their cost were dropped and `max_tokens` did not hold.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

# 100,000 input tokens billed, 10 output; OpenAI: 90,000 of the input from the cache.
OPENAI_TOKENS = "[[tokens:100000:10:90000:0]]"
# gpt-5: input 1.25, cached input 0.125, output 10 (USD per 1M tokens).
GPT5_COST = (10_000 * 1.25 + 90_000 * 0.125 + 10 * 10.00) / 1e6
# Anthropic: 60,000 read from the cache and 30,000 written to it, 10,000 neither.
ANTHROPIC_TOKENS = "[[tokens:100000:10:60000:30000]]"
# claude-sonnet-4-5: input 3, cache read 0.30, cache write 3.75, output 15.
SONNET_COST = (10_000 * 3.00 + 60_000 * 0.30 + 30_000 * 3.75 + 10 * 15.00) / 1e6
# A price override with a cached-input price, on a model of no built-in price.
OVERRIDE_COST = (10_000 * 1.00 + 90_000 * 0.25 + 10 * 2.00) / 1e6


@pytest.fixture(scope="module")
def costs(e2e: E2E) -> E2ERun:
    agents: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    cases = {
        "oa": ("openai", "gpt-5", OPENAI_TOKENS),
        "an": ("anthropic", "claude-sonnet-4-5", ANTHROPIC_TOKENS),
        "priced": ("openai", "house-model", OPENAI_TOKENS),
        # A Claude model behind an OpenAI-compatible gateway (OpenRouter's shape).
        "gateway": ("openai", "claude-sonnet-4-5", ANTHROPIC_TOKENS),
    }
    for name, (protocol, model, tokens) in cases.items():
        for mode in ("whole", "streamed"):
            agents[f"{name}_{mode}"] = {"model": f"{protocol}_{mode}/{model}", "max_tokens": 100}
            steps[f"{name}_{mode}"] = {"agent": f"{name}_{mode}", "prompt": f"{tokens} {name}"}
    house = {"house-model": {"input": 1.0, "output": 2.0, "cached_input": 0.25}}
    providers = {
        f"{protocol}_{mode}": e2e.provider(protocol, stream=mode == "streamed", pricing=house)
        for protocol in ("openai", "anthropic")
        for mode in ("whole", "streamed")
    }
    doc = workflow_doc("prompt-cache", providers=providers, agents=agents, steps=steps)
    run = e2e.run(doc, "--no-cache")
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    return run


@pytest.mark.parametrize("mode", ["whole", "streamed"])
@pytest.mark.parametrize(
    ("name", "expected", "cache"),
    [
        ("oa", GPT5_COST, (90_000, None)),
        ("an", SONNET_COST, (60_000, 30_000)),
        ("priced", OVERRIDE_COST, (90_000, None)),
        ("gateway", SONNET_COST, (60_000, 30_000)),
    ],
)
def test_a_call_costs_what_the_invoice_says(
    costs: E2ERun, name: str, expected: float, cache: tuple[int, int | None], mode: str
) -> None:
    step = costs.step(f"{name}_{mode}")
    assert step["cost_usd"] == pytest.approx(expected)
    assert (step["tokens_in"], step["tokens_out"]) == (100_000, 10)  # every input token billed
    (call,) = costs.events_of("llm_call", f"{name}_{mode}")
    assert call["tokens_in"] == 100_000
    assert (call.get("tokens_cache_read"), call.get("tokens_cache_write")) == cache
    assert call["cost"] == pytest.approx(expected)


def test_the_totals_add_the_cache_tokens_up(costs: E2ERun) -> None:
    total = costs.report["cost"]["total"]
    assert total["tokens_in"] == 8 * 100_000
    assert total["cost_usd"] == pytest.approx(2 * (GPT5_COST + 2 * SONNET_COST + OVERRIDE_COST))


def test_max_cost_usd_lets_a_run_under_it_finish(e2e: E2E) -> None:
    """Four calls of 0.024 USD each, under a limit of 0.10: priced at the full input price
    (0.125 each) the first one alone went past it and the run stopped."""
    doc = workflow_doc(
        "cached-fan",
        providers={"oa": e2e.provider(stream=True)},
        agents={"w": {"model": "oa/gpt-5", "max_tokens": 100}},
        steps={
            "fan": {
                "for_each": [1, 2, 3, 4],
                "max_concurrency": 1,
                "agent": "w",
                "prompt": f"{OPENAI_TOKENS} item {{{{ item }}}}",
            }
        },
        limits={"max_cost_usd": 0.10},
    )
    run = e2e.run(doc, "--no-cache")
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    assert run.report["cost"]["total"]["cost_usd"] == pytest.approx(4 * GPT5_COST)
    assert run.report["limits"]["max_cost_usd"]["used"] == pytest.approx(4 * GPT5_COST)


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_cache_tokens_count_toward_max_tokens(e2e: E2E, stream: bool) -> None:
    """Each call bills 30,010 tokens, of which 29,000 are cache reads Anthropic reports apart:
    counted at 1,010 a call, four calls stayed under a limit of 50,000."""
    doc = workflow_doc(
        "cached-tokens",
        providers={"an": e2e.provider("anthropic", stream=stream)},
        agents={"w": {"model": "an/claude-sonnet-4-5", "max_tokens": 100}},
        steps={
            "fan": {
                "for_each": [1, 2, 3, 4],
                "max_concurrency": 1,
                "agent": "w",
                "prompt": "[[tokens:30000:10:29000:0]] item {{ item }}",
            }
        },
        limits={"max_tokens": 50_000},
    )
    run = e2e.run(doc, "--no-cache")
    assert run.exit_code == 1, run.proc.stdout + run.proc.stderr
    assert "max_tokens" in run.report["reason"]
    assert run.report["limits"]["max_tokens"]["used"] == 2 * 30_010
    assert run.report["cost"]["total"]["tokens_in"] == 2 * 30_000
