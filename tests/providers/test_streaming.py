"""Streamed replies over real HTTP against the fake server: each protocol's stream adds up to
the same reply as the whole one, its faults fail the call as the right kind of error, and a
cancelled call closes its connection."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from agnoctl.errors import (
    ConnectionFailed,
    MalformedResponse,
    PermanentProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from agnoctl.providers.base import CallContext, Message, ModelReply, ModelRequest, ToolSpec
from agnoctl.providers.http import HttpClient, ReplyLimits, Timeouts
from agnoctl.testing.fake_llm import (
    FakeLLMConfig,
    FakeLLMThread,
    FakeReply,
    FakeRequest,
    _render_reply,
)
from tests.providers.test_http_providers import PROTOCOLS, SCHEMA, make

pytestmark = pytest.mark.anyio

GREP = ToolSpec("grep", "Search.", {"type": "object", "properties": {"q": {"type": "string"}}})
LONG_TEXT = "a reply long enough to come in several pieces of the stream"


@pytest.fixture
async def patient() -> AsyncIterator[HttpClient]:
    """A client whose read timeout is far off: a stall is the stall timeout's to catch."""
    client = HttpClient(timeout=Timeouts(connect=30.0, read=30.0), trust_env=False)
    yield client
    await client.aclose()


def ask(prompt: str, on_text: Any = None, **fields: Any) -> ModelRequest:
    context = CallContext(step_id="s", on_text=on_text)
    return ModelRequest("fake-model", (Message("user", prompt),), context=context, **fields)


def _value(reply: ModelReply) -> dict[str, Any]:
    """What the engine reads of a reply: every field but timings and rate-limit hints."""
    data = dataclasses.asdict(reply)
    for timing in ("ttft", "stream_seconds", "rate_limit", "waited"):
        data.pop(timing)
    return data


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("prompt", "fields"),
    [
        (f"[[text:{LONG_TEXT}]] [[tokens:12:34]]", {}),
        ('analyse [[json:{"summary": "markets grow steadily", "confidence": 0.9}]]', {}),
        ("analyse", {"output_schema": SCHEMA}),
        (
            'two calls [[tool:grep:{"q": "a needle in a long haystack"}]]'
            ' [[tool:grep:{"q": "another needle, also long"}]]',
            {"tools": (GREP,)},
        ),
    ],
    ids=["text", "json-text", "structured", "tool-calls"],
)
async def test_streamed_reply_equals_whole_reply(
    protocol: str, prompt: str, fields: dict[str, Any], fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    pieces: list[str] = []
    streamed = await make(protocol, http, fake_llm.url).request(
        ask(prompt, pieces.append, **fields)
    )
    whole = await make(protocol, http, fake_llm.url, stream=False).request(ask(prompt, **fields))
    assert _value(streamed) == _value(whole)
    assert streamed.ttft is not None and streamed.ttft > 0
    assert streamed.stream_seconds is not None and streamed.stream_seconds >= 0
    assert whole.ttft is None and whole.stream_seconds is None
    # The text as it came; none for a tool call (Anthropic's structured output is one).
    assert "".join(pieces) in (whole.text, "")
    bodies = [r["body"] for r in fake_llm.stats()["recent"]]
    assert bodies[0].get("stream") is True and bodies[1].get("stream") in (False, None)
    if protocol == "openai":
        assert bodies[0]["stream_options"] == {"include_usage": True}


async def test_text_arrives_in_pieces(fake_llm: FakeLLMThread, http: HttpClient) -> None:
    for protocol in PROTOCOLS:
        pieces: list[str] = []
        reply = await make(protocol, http, fake_llm.url).request(
            ask(f"[[text:{LONG_TEXT}]]", pieces.append)
        )
        assert len(pieces) > 2, protocol
        assert "".join(pieces) == reply.text == LONG_TEXT


async def test_tool_arguments_split_across_chunks(
    fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    arguments = {"q": "x" * 100, "nested": {"list": [1, 2, 3], "text": "é ✓ \\n"}}
    prompt = f"[[tool:grep:{json.dumps(arguments)}]] [[tool:grep:{{}}]]"
    for protocol in PROTOCOLS:
        reply = await make(protocol, http, fake_llm.url).request(ask(prompt, tools=(GREP,)))
        assert [c.arguments for c in reply.tool_calls] == [arguments, {}], protocol
        assert reply.finish_reason == "tool_calls"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("directive", "error"),
    [
        ("[[cut:3:1]]", ConnectionFailed),
        ("[[bad_chunk:2:1]]", MalformedResponse),
        ("[[malformed:1]]", MalformedResponse),
        ("[[error_event:2:1]]", ProviderUnavailable),
    ],
)
async def test_fault_mid_stream_then_success(
    protocol: str, directive: str, error: type[Exception], fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    provider = make(protocol, http, fake_llm.url)
    prompt = f"[[text:{LONG_TEXT}]] {directive}"
    with pytest.raises(error) as caught:
        await provider.request(ask(prompt))
    assert getattr(caught.value, "retryable", False)
    assert (await provider.request(ask(prompt))).text == LONG_TEXT  # first time only


async def test_anthropic_overloaded_event_is_a_529(
    fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    with pytest.raises(ProviderUnavailable, match="overloaded") as caught:
        await make("anthropic", http, fake_llm.url).request(ask("x [[error_event:1]]"))
    assert caught.value.status == 529


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stall_is_a_timeout(
    protocol: str, fake_llm: FakeLLMThread, patient: HttpClient
) -> None:
    limits = ReplyLimits(stall_timeout=0.2)
    provider = make(protocol, patient, fake_llm.url, limits=limits)
    with pytest.raises(ProviderTimeout, match=r"less than 1,024 bytes in 0\.2s .*stall_timeout"):
        await provider.request(ask(f"[[text:{LONG_TEXT}]] [[stall:2:1]]"))
    assert (await provider.request(ask(f"[[text:{LONG_TEXT}]] [[stall:2:1]]"))).text == LONG_TEXT


async def test_a_stall_timeout_longer_than_the_read_timeout_is_kept(
    fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    """The client's read timeout (0.3 s here, 300 s in a run) bounds each wait for bytes: a
    provider's longer stall_timeout was cut short by it, as a timeout of the client's own."""
    provider = make("openai", http, fake_llm.url, limits=ReplyLimits(stall_timeout=0.6))
    with pytest.raises(ProviderTimeout, match=r"less than 1,024 bytes in 0\.6s .*stall_timeout"):
        await provider.request(ask(f"[[text:{LONG_TEXT}]] [[stall:2]]"))


async def test_stream_past_max_bytes(fake_llm: FakeLLMThread, http: HttpClient) -> None:
    provider = make("openai", http, fake_llm.url, limits=ReplyLimits(max_bytes=4096))
    with pytest.raises(PermanentProviderError, match="max_response_bytes"):
        await provider.request(ask(f"[[text:{'y' * 5000}]]"))


async def test_cancel_mid_stream_closes_the_connection(
    fake_llm: FakeLLMThread, patient: HttpClient
) -> None:
    """The call is cancelled as its first text arrives; the server's handler, which would
    otherwise wait an hour in its stall, ends because the client closed the connection."""
    provider = make("openai", patient, fake_llm.url)
    with anyio.CancelScope() as scope:
        await provider.request(ask(f"[[text:{LONG_TEXT}]] [[stall:3]]", lambda _: scope.cancel()))
    assert scope.cancelled_caught
    # The handler ends only when the client has closed the connection.
    assert await anyio.to_thread.run_sync(fake_llm.wait_idle, 10)
    assert fake_llm.stats()["statuses"] == {"0": 1}  # the client left before the reply ended


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_server_that_ignores_stream_is_read_whole(
    protocol: str, fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    """Some compatible servers answer `stream: true` with a whole JSON reply: it is read as
    one; a body that is neither is a malformed reply quoting its start."""

    def whole(request: FakeRequest) -> FakeReply | None:
        if "ignore" in request.prompt:  # the whole reply, as if `stream` were not asked
            body = _render_reply(request, FakeReply(text=LONG_TEXT), 1)
            return FakeReply(body=json.dumps(body), headers={"content-type": "application/json"})
        return FakeReply(body="no events here, just text")

    fake_llm.server.config = FakeLLMConfig(responder=whole)
    provider = make(protocol, http, fake_llm.url)
    reply = await provider.request(ask("ignore stream"))
    assert reply.text == LONG_TEXT and reply.ttft is None
    quoted = r"(no stream of events|stream event that is not a JSON object) \(starting 'no ev"
    with pytest.raises(MalformedResponse, match=quoted):
        await provider.request(ask("plain text"))


NESTED = '{"a": ' * 100_000 + "1" + "}" * 100_000  # JSON no decoder should follow this deep
FRAMED = {  # a body carrying one event (or line) of NESTED, in each protocol's framing
    "openai": ("text/event-stream", f"data: {NESTED}\n\n"),
    "anthropic": ("text/event-stream", f"event: message_start\ndata: {NESTED}\n\n"),
    "ollama": ("application/x-ndjson", f"{NESTED}\n"),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False])
async def test_json_nested_past_any_sense_is_a_malformed_reply(
    protocol: str, stream: bool, fake_llm: FakeLLMThread, http: HttpClient
) -> None:
    """A reply or a stream event nested 100,000 deep is a malformed reply like any other text
    that is not a JSON object (it escaped as the decoder's RecursionError: a traceback)."""
    kind, body = FRAMED[protocol] if stream else ("application/json", NESTED)
    reply = FakeReply(body=body, headers={"content-type": kind})
    fake_llm.server.config = FakeLLMConfig(responder=lambda _: reply)
    with pytest.raises(MalformedResponse, match="not a JSON object"):
        await make(protocol, http, fake_llm.url, stream=stream).request(ask("deep"))
