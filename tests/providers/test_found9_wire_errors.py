"""What real OpenAI and Anthropic servers (and the gateways before them) answer on failure,
against the fake server: each is the right kind of error, retried only where another attempt
can help, with a message a user can act on (found by the providers pass)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agnoctl.engine.agent import _unfinished, _worth_a_fallback
from agnoctl.engine.retry import is_retryable, reason
from agnoctl.errors import (
    BadRequest,
    ProviderError,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
)
from agnoctl.providers.http import HttpClient
from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, FakeReply
from tests.providers.test_http_providers import GREP, SCHEMA, STREAMED, ask, make

pytestmark = pytest.mark.anyio

KEY = "sk-proj-planted-KEY-0123456789"
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}


async def _failure(
    fake: FakeLLMThread, http: HttpClient, reply: FakeReply, *, stream: bool = True
) -> ProviderError:
    fake.server.config = FakeLLMConfig(responder=lambda _: reply)
    with pytest.raises(ProviderError) as caught:
        await make("openai", http, fake.url, api_key=KEY, stream=stream).request(ask("hi"))
    return caught.value


def _json(status: int, payload: Any, **headers: str) -> FakeReply:
    return FakeReply(status=status, body=json.dumps(payload), headers=headers)


async def test_an_exhausted_quota_says_so(fake_llm: FakeLLMThread, http: HttpClient) -> None:
    # OpenAI answers a used-up quota or credit with a 429 like a rate limit's. SPEC retries
    # every 429, so it is; its message points at the key's billing, not at the rate.
    error = await _failure(fake_llm, http, _json(429, QUOTA, **{"retry-after": "1"}))
    assert isinstance(error, QuotaExhausted)
    assert is_retryable(error)
    assert reason(error) == "quota_exhausted"
    assert _worth_a_fallback(error)  # a model of another account may still answer
    message = str(error)
    assert "openai" in message and "'fake-model'" in message
    assert "insufficient_quota" in message and "billing" in message
    assert "OPENAI_API_KEY" in message and KEY not in message
    assert "slow down" not in message


async def test_a_rate_limit_429_is_still_retried(fake_llm: FakeLLMThread, http: HttpClient) -> None:
    payload = {
        "error": {
            "message": "Rate limit reached",
            "type": "requests",
            "code": "rate_limit_exceeded",
        }
    }
    error = await _failure(fake_llm, http, _json(429, payload, **{"retry-after-ms": "20"}))
    assert isinstance(error, RateLimited) and is_retryable(error)
    assert error.retry_after == pytest.approx(0.02)


@STREAMED
@pytest.mark.parametrize(
    ("error", "expected", "retried"),
    [
        # LiteLLM's proxy writes the status as a string
        ({"message": "bad", "type": "None", "code": "400"}, BadRequest, False),
        ({"message": "slow", "type": "None", "code": "429"}, RateLimited, True),
        (
            {
                "message": "too long",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            },
            BadRequest,
            False,
        ),
        ({"message": "no model", "type": "invalid_request_error", "code": None}, BadRequest, False),
        (QUOTA["error"], QuotaExhausted, True),
        ({"message": "boom", "type": "server_error", "code": None}, ProviderUnavailable, True),
    ],
    ids=["litellm-400", "litellm-429", "context-length", "invalid-request", "quota", "server"],
)
async def test_an_error_object_after_the_200_is_read_by_its_code(
    fake_llm: FakeLLMThread,
    http: HttpClient,
    stream: bool,
    error: dict[str, Any],
    expected: type[ProviderError],
    retried: bool,
) -> None:
    # A gateway that fails after its 200 says what failed in the error's code or type; a
    # code that is no number (or a number as a string) was taken for a server error and retried.
    body = f"data: {json.dumps({'error': error})}\n\n" if stream else json.dumps({"error": error})
    content_type = "text/event-stream" if stream else "application/json"
    reply = FakeReply(body=body, headers={"Content-Type": content_type})
    failure = await _failure(fake_llm, http, reply, stream=stream)
    assert type(failure) is expected
    assert is_retryable(failure) is retried


async def test_a_proxys_html_error_page_is_named_by_its_title(
    fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    # Cloudflare's and nginx's pages start with kilobytes of markup: the first 500 characters
    # of it told the user nothing.
    page = (
        '<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> '
        '<![endif]-->\n<head>\n<meta charset="UTF-8" />\n'
        + "<style>body{}</style>\n" * 60
        + "<title>api.openai.com | 502: Bad gateway</title>\n</head><body>...</body></html>"
    )
    reply = FakeReply(status=502, body=page, headers={"Content-Type": "text/html"})
    error = await _failure(fake_llm, http, reply)
    assert isinstance(error, ProviderUnavailable) and is_retryable(error)
    assert "api.openai.com | 502: Bad gateway" in str(error)
    assert "<" not in str(error)


@STREAMED
@pytest.mark.parametrize(
    ("protocol", "tool"),
    [("openai", "grep"), ("anthropic", "grep"), ("anthropic", "final_output")],
)
async def test_a_reply_cut_in_a_tool_calls_arguments_is_a_cut_reply(
    fake_llm: FakeLLMThread, http: HttpClient, stream: bool, protocol: str, tool: str
) -> None:
    # A model that reaches max_tokens while writing a tool call's arguments (or Anthropic's
    # structured output, which is a tool call) leaves their JSON unfinished. That was a
    # malformed reply, retried (each attempt billed to max_tokens and cut again) with a
    # message blaming the server's protocol; it is a reply cut at max_tokens, which the
    # engine fails once, naming the agent's max_tokens.
    fake_llm.server.config = FakeLLMConfig()
    provider = make(protocol, http, fake_llm.url, stream=stream)
    fields: dict[str, Any] = (
        {"output_schema": SCHEMA} if tool == "final_output" else {"tools": (GREP,)}
    )
    reply = await provider.request(ask(f"[[bad_args:{tool}]] [[finish:length]]", **fields))
    assert reply.finish_reason == "length" and not reply.finished
    assert reply.tool_calls == ()
    assert _unfinished(reply, ask("x", max_tokens=64)) is not None
