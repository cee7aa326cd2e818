"""Prompt-cache tokens: how the providers' usage is read (whole replies and streams), and how
``pricing`` bills each part.

Found by the cost pass: the cache fields were never read, every input token was billed at the
input price (OpenAI: over-reported), and Anthropic's cache reads and writes, which it reports
apart from ``input_tokens``, were dropped (under-reported, and not held to ``max_tokens``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from agnoctl.errors import MalformedResponse
from agnoctl.providers import anthropic, http, openai
from agnoctl.providers.base import Usage
from agnoctl.providers.pricing import BUILTIN_PRICES, Price, charge, cost
from agnoctl.spec.models import ModelPrice
from agnoctl.testing.fake_llm import (
    FakeReply,
    FakeRequest,
    _render_reply,
    parse_directives,
    reply_from_directives,
    stream_chunks,
)

ENDPOINT = http.Endpoint(provider="p", key_hint="KEY")


# ---------------------------------------------------------------- pricing


def test_each_part_is_charged_at_its_price() -> None:
    price = Price(input=2.0, output=8.0, cached_input=0.5, cache_write=2.5)
    # 1M input billed: 600k fresh, 300k read from the cache, 100k written to it.
    assert charge(price, 1_000_000, 1_000_000, 300_000, 100_000) == pytest.approx(
        0.6 * 2.0 + 0.3 * 0.5 + 0.1 * 2.5 + 8.0
    )


def test_a_price_without_cache_prices_bills_the_cache_at_the_input_price() -> None:
    usage = Usage(1_000_000, 0, cache_read_tokens=400_000, cache_write_tokens=100_000)
    assert cost({"m": Price(3.0, 1.0)}, "m", usage) == pytest.approx(3.0)
    override = {"m": ModelPrice(input=3.0, output=1.0)}  # a `pricing:` entry without them
    assert cost(override, "m", usage) == pytest.approx(3.0)
    assert cost({"m": ModelPrice(input=3.0, output=1.0, cached_input=0.3)}, "m", usage) == (
        pytest.approx(0.5 * 3.0 + 0.4 * 0.3 + 0.1 * 3.0)
    )


@pytest.mark.parametrize(
    ("model", "share"),
    [
        ("gpt-5", 0.1),
        ("gpt-5-mini", 0.1),
        ("gpt-5-nano", 0.1),
        ("gpt-4.1", 0.25),
        ("gpt-4.1-mini", 0.25),
        ("gpt-4.1-nano", 0.25),
        ("o3", 0.25),
        ("o4-mini", 0.25),
        ("gpt-4o", 0.5),
        ("gpt-4o-mini", 0.5),
        ("o1", 0.5),
        ("o1-mini", 0.5),
        ("o3-mini", 0.5),
    ],
)
def test_openai_cached_input_prices(model: str, share: float) -> None:
    price = BUILTIN_PRICES[model]
    assert price.cached_input == pytest.approx(price.input * share)
    assert price.cache_write is None  # OpenAI charges nothing more for writing its cache


@pytest.mark.parametrize("model", ["gpt-4o-2024-05-13", "gpt-4-turbo", "gpt-3.5-turbo"])
def test_models_without_a_cache_discount_bill_it_at_the_input_price(model: str) -> None:
    assert BUILTIN_PRICES[model].cached_input is None


@pytest.mark.parametrize("model", [m for m in BUILTIN_PRICES if m.startswith("claude-")])
def test_anthropic_cache_prices(model: str) -> None:
    price = BUILTIN_PRICES[model]
    assert price.cached_input is not None and price.cache_write is not None
    # Anthropic's rule, as its table lists it (claude-3-haiku's rounded to the cent).
    assert price.cached_input == pytest.approx(price.input * 0.1, abs=0.005)
    assert price.cache_write == pytest.approx(price.input * 1.25, abs=0.0125 + 1e-9)


def test_a_price_override_refuses_a_negative_cache_price() -> None:
    with pytest.raises(ValidationError):
        ModelPrice(input=1.0, output=1.0, cached_input=-0.1)
    with pytest.raises(ValidationError):
        ModelPrice.model_validate({"input": 1.0, "output": 1.0, "cache_write": "nan"})


# ---------------------------------------------------------------- OpenAI


def _openai(usage: Any) -> Usage:
    payload = {"choices": [{"message": {"content": "hi"}}], "usage": usage}
    return openai.parse_reply(payload, ENDPOINT, "m").usage


def test_openai_cached_tokens_are_part_of_the_prompt() -> None:
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    }
    assert _openai(usage) == Usage(2006, 300, cache_read_tokens=1920)


@pytest.mark.parametrize(
    "details",
    [None, {}, {"cached_tokens": None}, {"cached_tokens": -5}, {"cached_tokens": "9"}, [1], 7],
)
def test_openai_nonsense_cache_details_count_nothing(details: Any) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 1, "prompt_tokens_details": details}
    assert _openai(usage) == Usage(100, 1)


def test_openai_more_cached_than_sent_is_dropped() -> None:
    """One of the two counts is wrong: the prompt is billed whole at the input price."""
    usage = {"prompt_tokens": 100, "completion_tokens": 1, "prompt_tokens_details": {}}
    usage["prompt_tokens_details"] = {"cached_tokens": 101}
    assert _openai(usage) == Usage(100, 1)
    usage["prompt_tokens_details"] = {"cached_tokens": 100}
    assert _openai(usage) == Usage(100, 1, cache_read_tokens=100)


@pytest.mark.parametrize(
    ("usage", "read", "written"),
    [
        # DeepSeek: its own name for the hits, a part of prompt_tokens.
        ({"prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200}, 800, 0),
        # OpenRouter, a Claude model: the writes in the details.
        ({"prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 900}}, 0, 900),
        # LiteLLM, a Claude model: both of its names for the writes.
        (
            {
                "prompt_tokens_details": {"cached_tokens": 600, "cache_creation_tokens": 390},
                "cache_read_input_tokens": 600,
                "cache_creation_input_tokens": 390,
            },
            600,
            390,
        ),
        ({"cache_creation_input_tokens": 390}, 0, 390),
        # Reads and writes past the prompt: both dropped.
        ({"prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 401}}, 0, 0),
    ],
)
def test_openai_compatible_gateways_cache_fields(usage: Any, read: int, written: int) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 1, **usage}
    assert _openai(usage) == Usage(1000, 1, read, written)


def test_openai_an_absurd_cached_count_is_a_malformed_reply() -> None:
    usage = {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 10**31}}
    with pytest.raises(MalformedResponse, match="cached_tokens"):
        _openai(usage)


def test_a_malformed_reply_is_billed_with_its_cache_parts() -> None:
    payload = {
        "choices": [],
        "usage": {"prompt_tokens": 50, "prompt_tokens_details": {"cached_tokens": 40}},
    }
    with pytest.raises(MalformedResponse) as caught:
        openai.parse_reply(payload, ENDPOINT, "m")
    assert caught.value.tokens == (50, 0, 40, 0)
    assert Usage(*caught.value.tokens) == Usage(50, 0, cache_read_tokens=40)


# ---------------------------------------------------------------- Anthropic


def _anthropic(usage: Any) -> Usage:
    payload = {"content": [{"type": "text", "text": "hi"}], "usage": usage}
    return anthropic.parse_reply(payload, ENDPOINT, "m").usage


def test_anthropic_cache_reads_and_writes_are_added_to_the_input() -> None:
    usage = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 248,
        "cache_read_input_tokens": 100_000,
        "output_tokens": 503,
    }
    assert _anthropic(usage) == Usage(100_298, 503, 100_000, 248)


def test_anthropic_nonsense_cache_counts_count_nothing() -> None:
    usage = {
        "input_tokens": 50,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": -3,
        "output_tokens": 5,
    }
    assert _anthropic(usage) == Usage(50, 5)


def test_anthropic_an_absurd_cache_count_is_a_malformed_reply() -> None:
    with pytest.raises(MalformedResponse, match="cache_creation_input_tokens"):
        _anthropic({"input_tokens": 1, "cache_creation_input_tokens": 1e40})


def _stream(reader: http.StreamReader[Any], events: list[tuple[str, dict[str, Any]]]) -> Usage:
    body = "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events)
    reader.feed(body.encode())
    return reader.reply().usage


def test_anthropic_stream_counts_may_come_in_message_delta_too() -> None:
    """``message_start`` gives the input counts; ``message_delta``'s cumulative usage may
    repeat them (or give them only then): the later count of a kind wins."""
    start = {"model": "m", "usage": {"input_tokens": 10, "output_tokens": 1}}
    delta_usage = {"output_tokens": 7, "cache_read_input_tokens": 90, "input_tokens": 10}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        ("message_delta", {"type": "message_delta", "delta": {}, "usage": delta_usage}),
        ("message_stop", {"type": "message_stop"}),
    ]
    reader = anthropic.StreamedReply(ENDPOINT, "m", http.ContentClock())
    assert _stream(reader, events) == Usage(100, 7, cache_read_tokens=90)


# ---------------------------------------------------------------- the fake server's shapes


def _request(protocol: str) -> FakeRequest:
    return FakeRequest(
        protocol=protocol,
        path="/",
        model="m",
        prompt="hi",
        raw_prompt="hi",
        directives=(),
        schema=None,
        forced_tool=None,
        tools=(),
        tool_results=(),
        input_chars=2,
        attempt=1,
        body={},
    )


def _fake(protocol: str, reply: FakeReply) -> dict[str, Any]:
    return _render_reply(_request(protocol), reply, 1)


CACHED = FakeReply(
    text="hello", input_tokens=1000, output_tokens=5, cached_tokens=600, cache_write_tokens=300
)


def test_the_fake_reports_cached_tokens_in_openai_shape() -> None:
    payload = _fake("openai", CACHED)
    assert payload["usage"]["prompt_tokens"] == 1000
    details = {"cached_tokens": 600, "cache_write_tokens": 300}  # writes: as OpenRouter's
    assert payload["usage"]["prompt_tokens_details"] == details
    assert openai.parse_reply(payload, ENDPOINT, "m").usage == Usage(1000, 5, 600, 300)
    reader = openai.StreamedReply(ENDPOINT, "m", http.ContentClock())
    for chunk in stream_chunks("openai", payload, include_usage=True):
        reader.feed(chunk)
    assert reader.reply().usage == Usage(1000, 5, 600, 300)


def test_the_fake_reports_cache_tokens_in_anthropic_shape() -> None:
    payload = _fake("anthropic", CACHED)
    assert payload["usage"] == {
        "input_tokens": 100,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 600,
        "output_tokens": 5,
    }
    assert anthropic.parse_reply(payload, ENDPOINT, "m").usage == Usage(1000, 5, 600, 300)
    reader = anthropic.StreamedReply(ENDPOINT, "m", http.ContentClock())
    for chunk in stream_chunks("anthropic", payload):
        reader.feed(chunk)
    assert reader.reply().usage == Usage(1000, 5, 600, 300)


@pytest.mark.parametrize(
    ("directive", "status"),
    [("[[tokens:10:1:4:6]]", 200), ("[[tokens:10:1:5:6]]", 400), ("[[tokens:10:1:-1]]", 400)],
)
def test_the_fake_refuses_cache_counts_past_the_input(directive: str, status: int) -> None:
    directives, prompt = parse_directives(f"hi {directive}")
    request = replace(_request("anthropic"), prompt=prompt, directives=directives)
    reply = reply_from_directives(request, {directive: 1})
    assert reply.status == status
