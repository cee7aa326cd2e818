"""The three wire protocols over real HTTP against the project's fake server on loopback."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from agnoctl.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)
from agnoctl.providers.anthropic import AnthropicProvider
from agnoctl.providers.base import Message, ModelRequest, Provider, ToolSpec
from agnoctl.providers.http import HttpClient, ReplyLimits
from agnoctl.providers.ollama import OllamaProvider
from agnoctl.providers.openai import OpenAIProvider
from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, FakeReply, FakeRequest
from tests.providers.conftest import CLIENT_TIMEOUT

pytestmark = pytest.mark.anyio

PROTOCOLS = ["openai", "anthropic", "ollama"]
# Streamed replies (the default) and whole ones (`stream: false`) must parse alike.
STREAMED = pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
SECRET = "sk-planted-SECRET-0123456789"
SCHEMA = {
    "type": "object",
    "required": ["summary", "confidence"],
    "properties": {
        "summary": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
GREP = ToolSpec(
    "grep", "Search notes.", {"type": "object", "properties": {"q": {"type": "string"}}}
)


def make(
    protocol: str,
    http: HttpClient,
    url: str,
    api_key: str | None = "test-key",
    *,
    stream: bool = True,
    limits: ReplyLimits | None = None,
) -> Provider:
    """A provider of ``protocol`` on the fake server: streamed replies unless ``stream`` is
    False (whole ones, as for a server that cannot stream)."""
    options: dict[str, Any] = {"api_key": api_key, "stream": stream, "limits": limits}
    if protocol == "openai":
        return OpenAIProvider(http, base_url=f"{url}/v1", **options)
    if protocol == "anthropic":
        return AnthropicProvider(http, base_url=url, **options)
    return OllamaProvider(http, base_url=url, **options)


def ask(prompt: str, **fields: Any) -> ModelRequest:
    return ModelRequest(model="fake-model", messages=(Message("user", prompt),), **fields)


def record(fake: FakeLLMThread) -> list[FakeRequest]:
    """Make the fake keep every request it answers, in order."""
    seen: list[FakeRequest] = []

    def responder(request: FakeRequest) -> None:
        seen.append(request)

    fake.server.config = FakeLLMConfig(responder=responder)
    return seen


@STREAMED
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_text_reply_with_usage(
    protocol: str, stream: bool, fake_llm: FakeLLMThread, http: HttpClient
):
    provider = make(protocol, http, fake_llm.url, stream=stream)
    messages = (Message("system", "Be brief."), Message("user", "hello [[tokens:100:20]]"))
    reply = await provider.request(ModelRequest(model="fake-model", messages=messages))
    assert reply.text == "echo: hello"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (100, 20)
    assert reply.finish_reason == "stop"
    assert reply.model == "fake-model"
    assert reply.tool_calls == ()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_default_usage_is_estimated(protocol: str, fake_llm: FakeLLMThread, http: HttpClient):
    reply = await make(protocol, http, fake_llm.url).request(ask("x" * 40))
    assert reply.usage.input_tokens == 10
    assert reply.usage.output_tokens == len("echo: " + "x" * 40) // 4 + 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_structured_output_minimal_instance(
    protocol: str, fake_llm: FakeLLMThread, http: HttpClient
):
    reply = await make(protocol, http, fake_llm.url).request(ask("analyse", output_schema=SCHEMA))
    assert json.loads(reply.text) == {"summary": "", "confidence": 0}
    assert reply.tool_calls == ()
    assert reply.finish_reason == "stop"


@STREAMED
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_structured_output_scripted(
    protocol: str, stream: bool, fake_llm: FakeLLMThread, http: HttpClient
):
    prompt = 'analyse [[json:{"summary": "ok [1]", "confidence": 0.9}]]'
    provider = make(protocol, http, fake_llm.url, stream=stream)
    reply = await provider.request(ask(prompt, output_schema=SCHEMA))
    assert json.loads(reply.text) == {"summary": "ok [1]", "confidence": 0.9}


async def test_openai_asks_for_json_schema_natively(fake_llm: FakeLLMThread, http: HttpClient):
    seen = record(fake_llm)
    await make("openai", http, fake_llm.url).request(ask("x", output_schema=SCHEMA))
    response_format = seen[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == SCHEMA
    assert response_format["json_schema"]["strict"] is False  # not closed: strict would refuse


@STREAMED
async def test_ollama_sends_schema_as_format(
    stream: bool, fake_llm: FakeLLMThread, http: HttpClient
):
    seen = record(fake_llm)
    provider = make("ollama", http, fake_llm.url, stream=stream)
    await provider.request(ask("x", output_schema=SCHEMA, max_tokens=7))
    assert seen[0].body["format"] == SCHEMA
    assert seen[0].body["stream"] is stream
    assert seen[0].body["options"] == {"num_predict": 7}


async def test_anthropic_forces_the_output_tool(fake_llm: FakeLLMThread, http: HttpClient):
    seen = record(fake_llm)
    await make("anthropic", http, fake_llm.url).request(ask("x", output_schema=SCHEMA))
    body = seen[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "final_output"}
    assert body["tools"][-1]["input_schema"] == SCHEMA
    assert body["max_tokens"] == 1024


@STREAMED
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tool_call_then_answer(
    protocol: str, stream: bool, fake_llm: FakeLLMThread, http: HttpClient
):
    provider = make(protocol, http, fake_llm.url, stream=stream)
    first = ask('find it [[tool:grep:{"q": "needle"}]]', tools=(GREP,))
    reply = await provider.request(first)
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("grep", {"q": "needle"})]
    assert reply.finish_reason == "tool_calls"

    call = reply.tool_calls[0]
    history = (
        *first.messages,
        Message("assistant", reply.text, tool_calls=reply.tool_calls),
        Message("tool", "3 matches", tool_call_id=call.id, tool_name="grep"),
    )
    second = await provider.request(
        ModelRequest(model="fake-model", messages=history, tools=(GREP,))
    )
    assert second.text == "tool result: 3 matches"
    assert second.tool_calls == ()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("status", [500, 502, 503, 408, 409])
async def test_server_errors_are_unavailable(
    protocol: str, status: int, fake_llm: FakeLLMThread, http: HttpClient
):
    with pytest.raises(ProviderUnavailable) as caught:
        await make(protocol, http, fake_llm.url).request(ask(f"x [[status:{status}]]"))
    assert caught.value.status == status
    assert caught.value.retryable


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_fail_then_succeed(protocol: str, fake_llm: FakeLLMThread, http: HttpClient):
    provider = make(protocol, http, fake_llm.url)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await provider.request(ask("x [[fail:2:502]]"))
    assert (await provider.request(ask("x [[fail:2:502]]"))).text == "echo: x"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("directive", "seconds"),
    [
        ("[[429:retry_after=1]]", 1.0),
        ("[[429:retry_after_ms=1500]]", 1.5),
        ("[[429:retry_after=7:retry_after_ms=250]]", 0.25),  # the finer header wins
        ("[[429]]", None),
    ],
)
async def test_rate_limited_carries_retry_after(
    protocol: str, directive: str, seconds: float | None, fake_llm: FakeLLMThread, http: HttpClient
):
    provider = make(protocol, http, fake_llm.url)
    with pytest.raises(RateLimited) as caught:
        await provider.request(ask(f"x {directive}"))
    assert caught.value.retry_after == seconds
    assert caught.value.status == 429
    assert (await provider.request(ask(f"x {directive}"))).text == "echo: x"  # first time only


async def test_retry_after_as_http_date(fake_llm: FakeLLMThread, http: HttpClient):
    with pytest.raises(RateLimited) as caught:
        await make("openai", http, fake_llm.url).request(ask("x [[429:retry_after_date=30]]"))
    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 30


async def test_unavailable_carries_retry_after(fake_llm: FakeLLMThread, http: HttpClient):
    with pytest.raises(ProviderUnavailable) as caught:
        await make("openai", http, fake_llm.url).request(ask("x [[fail:1:503:retry_after=2]]"))
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_hang_beyond_read_timeout(protocol: str, fake_llm: FakeLLMThread):
    http = HttpClient(timeout=CLIENT_TIMEOUT, trust_env=False)
    try:
        with pytest.raises(ProviderTimeout):
            # A stall_timeout below the read timeout, as a run's default 60 s is below 300 s: a
            # longer one stretches the client's read timeout past itself.
            provider = make(protocol, http, fake_llm.url, limits=ReplyLimits(stall_timeout=0.2))
            await provider.request(ask("x [[hang:3]]"))
    finally:
        await http.aclose()


@STREAMED
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_malformed_body(
    protocol: str, stream: bool, fake_llm: FakeLLMThread, http: HttpClient
):
    provider = make(protocol, http, fake_llm.url, stream=stream)
    with pytest.raises(MalformedResponse):
        await provider.request(ask("x [[malformed:1]]"))
    assert (await provider.request(ask("x [[malformed:1]]"))).text == "echo: x"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_reset(protocol: str, fake_llm: FakeLLMThread):
    http = HttpClient(timeout=CLIENT_TIMEOUT, trust_env=False)
    try:
        provider = make(protocol, http, fake_llm.url)
        with pytest.raises(ConnectionFailed):
            await provider.request(ask("x [[reset:1]]"))
        assert (await provider.request(ask("x [[reset:1]]"))).text == "echo: x"
    finally:
        await http.aclose()


async def test_connection_refused():
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http = HttpClient(timeout=CLIENT_TIMEOUT, trust_env=False)
    try:
        with pytest.raises(ConnectionFailed, match="check that the server runs"):
            await make("openai", http, f"http://127.0.0.1:{port}").request(ask("x"))
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("protocol", "env_var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
async def test_wrong_key_names_the_variable_and_hides_the_key(
    protocol: str, env_var: str, fake_llm: FakeLLMThread, http: HttpClient
):
    fake_llm.server.config = FakeLLMConfig(api_key="the-right-key")
    with pytest.raises(AuthenticationFailed) as caught:
        await make(protocol, http, fake_llm.url, api_key=SECRET).request(ask("x"))
    message = str(caught.value)
    assert env_var in message
    assert "Incorrect API key provided: ***" in message  # the fake echoed it; it was masked
    assert SECRET not in message
    assert SECRET not in repr(caught.value.args)
    assert caught.value.status == 401
    assert not caught.value.retryable


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_key_with_a_line_ending_is_a_usage_error_naming_where_it_comes_from(
    protocol: str, fake_llm: FakeLLMThread, http: HttpClient
):
    """A key read with its newline cannot go in a header: aiohttp's bare ValueError made each
    call an internal error saying "header injection"."""
    with pytest.raises(UsageError, match="control character") as caught:
        make(protocol, http, fake_llm.url, api_key=f"{SECRET}\n")
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:99999", "http://[::1", "http://:80"])
async def test_a_base_url_that_does_not_parse_is_a_usage_error(base_url: str, http: HttpClient):
    """yarl's bare ValueError ("Port out of range 0-65535") failed the step as an internal
    error that named neither the provider nor base_url."""
    with pytest.raises(UsageError, match=r"base_url of provider 'openai' .*check base_url"):
        make("openai", http, base_url)


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_status_directive(status: int, fake_llm: FakeLLMThread, http: HttpClient):
    with pytest.raises(AuthenticationFailed) as caught:
        await make("openai", http, fake_llm.url, SECRET).request(ask(f"x [[status:{status}]]"))
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_bad_request_carries_server_message(
    protocol: str, fake_llm: FakeLLMThread, http: HttpClient
):
    fake_llm.server.config.script.append(FakeReply(status=400, error="max_tokens is too large"))
    with pytest.raises(BadRequest, match="max_tokens is too large") as caught:
        await make(protocol, http, fake_llm.url).request(ask("x"))
    assert caught.value.status == 400
    assert not caught.value.retryable


async def test_unknown_model_is_bad_request(fake_llm: FakeLLMThread, http: HttpClient):
    fake_llm.server.config.script.append(FakeReply(status=404, error="model 'llama9' not found"))
    with pytest.raises(BadRequest, match=r"HTTP 404 .*model 'llama9' not found"):
        await make("ollama", http, fake_llm.url).request(ask("x"))


async def test_anthropic_sends_its_headers(fake_llm: FakeLLMThread, http: HttpClient):
    reply = await AnthropicProvider(http, base_url=fake_llm.url, api_key="k").request(ask("x"))
    assert reply.text == "echo: x"  # the fake refuses a request without both headers
    with pytest.raises(AuthenticationFailed, match="ANTHROPIC_API_KEY"):
        await AnthropicProvider(http, base_url=fake_llm.url, api_key=None).request(ask("x"))


async def test_base_url_trailing_slash(fake_llm: FakeLLMThread, http: HttpClient):
    provider = OpenAIProvider(http, base_url=f"{fake_llm.url}/v1/", api_key="k")
    assert provider.base_url == f"{fake_llm.url}/v1"
    assert (await provider.request(ask("x"))).text == "echo: x"
    assert fake_llm.stats()["routes"] == {"/v1/chat/completions": 1}


async def test_client_is_lazy_and_closes_twice():
    http = HttpClient(trust_env=False)
    await http.aclose()  # never used: nothing to close
    assert http.client is http.client
    await http.aclose()
    await http.aclose()
