"""Each wire protocol end to end: a plain reply, a validated structured reply, usage and cost.

One run declares an openai, an anthropic and an ollama provider, all pointed at the fake
server, each with its own ``pricing``; a second run checks a provider's ``max_concurrency``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

PROTOCOLS = ("openai", "anthropic", "ollama")
# USD per 1M tokens, different per protocol so that a mixed-up price shows.
PRICES = {"openai": (1.0, 2.0), "anthropic": (3.0, 15.0), "ollama": (0.5, 0.25)}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["summary", "confidence"],
    "properties": {
        "summary": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
STRUCTURED = {"summary": "markets grow", "confidence": 0.9}


def _cost(protocol: str, tokens_in: int, tokens_out: int) -> float:
    price_in, price_out = PRICES[protocol]
    return (tokens_in * price_in + tokens_out * price_out) / 1e6


@pytest.fixture(scope="module")
def protocol_run(e2e: E2E) -> E2ERun:
    providers = {
        f"via_{p}": e2e.provider(
            p, pricing={f"model-{p}": {"input": PRICES[p][0], "output": PRICES[p][1]}}
        )
        for p in PROTOCOLS
    }
    agents: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    for p in PROTOCOLS:
        agents[f"plain_{p}"] = {"model": f"via_{p}/model-{p}", "instructions": "Be brief."}
        agents[f"structured_{p}"] = {"model": f"via_{p}/model-{p}", "output_schema": SCHEMA}
        steps[f"plain_{p}"] = {
            "agent": f"plain_{p}",
            "prompt": f"hello from {p} [[tokens:1000:500]]",
        }
        steps[f"structured_{p}"] = {
            "agent": f"structured_{p}",
            "prompt": f'analyse {p} [[json:{{"summary": "markets grow", "confidence": 0.9}}]]'
            " [[tokens:2000:100]]",
        }
    doc = workflow_doc(
        "protocols",
        providers=providers,
        agents=agents,
        steps=steps,
        defaults={"retry": FAST_RETRY},
    )
    return e2e.run(doc)


def test_every_protocol_run_passes(protocol_run: E2ERun) -> None:
    assert protocol_run.exit_code == 0, protocol_run.proc.stderr
    assert protocol_run.report["status"] == "passed"
    # Each protocol's own route was used, once per step, no retries.
    assert protocol_run.stats["routes"] == {
        "/v1/chat/completions": 2,
        "/v1/messages": 2,
        "/api/chat": 2,
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_reply_usage_and_cost(protocol_run: E2ERun, protocol: str) -> None:
    step = protocol_run.step(f"plain_{protocol}")
    assert step["status"] == "succeeded"
    assert step["output"] == f"echo: hello from {protocol}"
    assert step["model"] == f"via_{protocol}/model-{protocol}"
    assert (step["tokens_in"], step["tokens_out"]) == (1000, 500)
    assert step["cost_usd"] == pytest.approx(_cost(protocol, 1000, 500))
    by_model = protocol_run.report["cost"]["by_model"][f"via_{protocol}/model-{protocol}"]
    assert by_model["tokens"] == 1000 + 500 + 2000 + 100
    assert by_model["cost_usd"] == pytest.approx(
        _cost(protocol, 1000, 500) + _cost(protocol, 2000, 100)
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_structured_reply_is_parsed_and_validated(protocol_run: E2ERun, protocol: str) -> None:
    step = protocol_run.step(f"structured_{protocol}")
    assert step["status"] == "succeeded"
    assert step["output"] == STRUCTURED  # parsed into data, not left as text
    assert [g["type"] for g in step["gates"]] == ["schema"]
    assert all(g["passed"] for g in step["gates"])
    assert (step["tokens_in"], step["tokens_out"]) == (2000, 100)
    assert step["cost_usd"] == pytest.approx(_cost(protocol, 2000, 100))


def test_structured_output_uses_each_servers_native_schema_mode(protocol_run: E2ERun) -> None:
    bodies = {r["protocol"]: r["body"] for r in protocol_run.stats["recent"] if "analyse" in str(r)}
    openai_format = bodies["openai"]["response_format"]
    assert openai_format["type"] == "json_schema"
    assert openai_format["json_schema"]["schema"]["required"] == ["summary", "confidence"]
    anthropic = bodies["anthropic"]
    forced = anthropic["tool_choice"]["name"]
    assert [t["input_schema"] for t in anthropic["tools"] if t["name"] == forced] == [
        anthropic["tools"][0]["input_schema"]
    ]
    assert anthropic["tools"][0]["input_schema"]["required"] == ["summary", "confidence"]
    assert bodies["ollama"]["format"]["required"] == ["summary", "confidence"]
    assert bodies["ollama"]["stream"] is True  # replies are streamed unless `stream: false`


def test_instructions_travel_as_each_protocols_system_prompt(protocol_run: E2ERun) -> None:
    bodies = {
        r["protocol"]: r["body"] for r in protocol_run.stats["recent"] if "hello from" in str(r)
    }
    assert bodies["anthropic"]["system"] == "Be brief."
    for protocol in ("openai", "ollama"):
        assert bodies[protocol]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_usage_and_cost_are_events(protocol_run: E2ERun) -> None:
    calls = protocol_run.events_of("llm_call", "plain_anthropic")
    assert len(calls) == 1
    assert (calls[0]["tokens_in"], calls[0]["tokens_out"]) == (1000, 500)
    assert calls[0]["cost"] == pytest.approx(_cost("anthropic", 1000, 500))
    assert calls[0]["provider"] == "via_anthropic"


def test_provider_max_concurrency_caps_requests_in_flight(e2e: E2E) -> None:
    doc = workflow_doc(
        "concurrency",
        providers={"capped": e2e.provider("openai", max_concurrency=4)},
        agents={"worker": {"model": "capped/m"}},
        steps={
            "fan": {
                "agent": "worker",
                "for_each": list(range(40)),
                # Each answer takes 50 ms, so requests overlap unless the cap holds them back.
                "prompt": "item {{ item }} [[delay_ms:50]]",
            }
        },
    )
    run = e2e.run(doc)
    assert run.exit_code == 0, run.proc.stderr
    assert run.stats["requests"] == 40
    assert run.stats["max_in_flight"] <= 4
    assert run.stats["max_in_flight"] >= 2  # the items did run side by side
