"""Wire bodies built from ModelRequest, and replies that lack what the protocol promises."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import pytest

from agnoctl.errors import BadRequest, MalformedResponse
from agnoctl.providers import anthropic, ollama, openai
from agnoctl.providers.base import Attachment, Message, ModelRequest, ToolCall, ToolSpec
from agnoctl.providers.http import Endpoint, retry_after_seconds

ENDPOINT = Endpoint(provider="p", key_hint="KEY")
TOOL = ToolSpec("grep", "Search.", {"type": "object", "properties": {"q": {"type": "string"}}})
CALL = ToolCall(id="c1", name="grep", arguments={"q": "x"})
CONVERSATION = (
    Message("system", "Be brief."),
    Message("user", "find x"),
    Message("assistant", "", tool_calls=(CALL,)),
    Message("tool", "2 hits", tool_call_id="c1", tool_name="grep"),
)


def request(**fields: Any) -> ModelRequest:
    return ModelRequest(model=fields.pop("model", "gpt-4o"), messages=CONVERSATION, **fields)


def test_openai_body():
    body = openai.wire_request(request(temperature=0.2, max_tokens=50, tools=(TOOL,)))
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "find x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "grep", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "2 hits"},
    ]
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "grep", "description": "Search.", "parameters": TOOL.parameters},
        }
    ]
    assert "response_format" not in body


@pytest.mark.parametrize("model", ["o1", "o3-mini", "o4-mini-2025-04-16", "gpt-5-nano"])
def test_openai_reasoning_models_get_max_completion_tokens(model: str):
    body = openai.wire_request(request(model=model, max_tokens=50))
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body


def test_openai_strict_only_for_strict_compatible_schemas():
    closed = {
        "type": "object",
        "additionalProperties": False,
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "string"},
            "b": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["c"],
                    "properties": {"c": {"type": "integer"}},
                },
            },
        },
    }
    assert openai.is_strict_compatible(closed)
    open_inner = {**closed, "properties": {**closed["properties"], "b": {"type": "object"}}}
    assert not openai.is_strict_compatible(open_inner)
    assert not openai.is_strict_compatible({**closed, "required": ["a"]})
    assert not openai.is_strict_compatible({"type": "array", "items": {"type": "string"}})


def test_anthropic_body():
    body = anthropic.wire_request(request(tools=(TOOL,)), ENDPOINT)
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 1024
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "find x"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c1", "name": "grep", "input": {"q": "x"}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "2 hits"}],
        },
    ]
    assert body["tools"] == [
        {"name": "grep", "description": "Search.", "input_schema": TOOL.parameters}
    ]
    assert "tool_choice" not in body


def test_anthropic_merges_tool_results_into_one_user_turn():
    second = ToolCall(id="c2", name="grep", arguments={"q": "y"})
    messages = (
        Message("user", "find"),
        Message("assistant", "looking", tool_calls=(CALL, second)),
        Message("tool", "r1", tool_call_id="c1"),
        Message("tool", "r2", tool_call_id="c2"),
    )
    body = anthropic.wire_request(ModelRequest(model="claude", messages=messages), ENDPOINT)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][0] == {"type": "text", "text": "looking"}
    assert [b["tool_use_id"] for b in body["messages"][2]["content"]] == ["c1", "c2"]


def test_anthropic_schema_with_own_tools_uses_tool_choice_any():
    schema = {"type": "object"}
    body = anthropic.wire_request(request(tools=(TOOL,), output_schema=schema), ENDPOINT)
    assert body["tool_choice"] == {"type": "any"}
    assert [t["name"] for t in body["tools"]] == ["grep", "final_output"]


def test_anthropic_output_tool_name_is_reserved():
    clash = ToolSpec("final_output", "", {"type": "object"})
    with pytest.raises(BadRequest, match="reserved"):
        anthropic.wire_request(request(tools=(clash,), output_schema={}), ENDPOINT)


def test_anthropic_reply_output_tool_becomes_text():
    payload = {
        "model": "claude-x",
        "content": [{"type": "tool_use", "id": "t", "name": "final_output", "input": {"a": 1}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    reply = anthropic.parse_reply(payload, ENDPOINT, "claude")
    assert (reply.text, reply.tool_calls, reply.finish_reason) == ('{"a": 1}', (), "stop")
    assert reply.model == "claude-x"


@pytest.mark.parametrize(
    ("stop", "finish"), [("end_turn", "stop"), ("max_tokens", "length"), ("refusal", "refusal")]
)
def test_anthropic_finish_reasons(stop: str, finish: str):
    payload = {"content": [{"type": "text", "text": "hi"}], "stop_reason": stop}
    assert anthropic.parse_reply(payload, ENDPOINT, "m").finish_reason == finish


IMAGE = Attachment("fs.shot#1.png", "image/png", "iVBORw0K", sha256="ab" * 32, size=69)


def _with_tool_image(content: str) -> ModelRequest:
    tool = Message("tool", content, tool_call_id="c1", tool_name="grep", attachments=(IMAGE,))
    return ModelRequest(model="m", messages=(*CONVERSATION[:3], tool))


@pytest.mark.parametrize("content", ["a caption", ""])
def test_a_tool_results_image_travels_where_each_protocol_takes_it(content: str):
    # Chat Completions: a tool message is text only, so the image is a line describing it.
    tool = openai.wire_request(_with_tool_image(content))["messages"][-1]
    described = "[image: image/png, 69 bytes]"
    assert tool["content"] == (f"{content}\n{described}" if content else described)
    # Anthropic: the tool_result's content is a list of text and image blocks.
    body = anthropic.wire_request(_with_tool_image(content), ENDPOINT)
    (result,) = body["messages"][-1]["content"]
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
    }
    text = [{"type": "text", "text": content}] if content else []
    assert result["content"] == [*text, image]
    # Ollama: the tool message carries the image's base64 in `images`.
    tool = ollama.wire_request(_with_tool_image(content))["messages"][-1]
    assert (tool["role"], tool["content"], tool["images"]) == ("tool", content, ["iVBORw0K"])


def test_ollama_body():
    body = ollama.wire_request(request(temperature=0.0, tools=(TOOL,)))
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0.0}
    assert body["messages"][2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "grep", "arguments": {"q": "x"}}}],
    }
    assert body["messages"][3] == {"role": "tool", "content": "2 hits", "tool_name": "grep"}
    assert "format" not in body


@pytest.mark.parametrize(
    ("module", "payload"),
    [
        (openai, {}),
        (openai, {"choices": []}),
        (openai, {"choices": [{"message": "text"}]}),
        (openai, {"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}),
        (
            openai,
            {
                "choices": [
                    {"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{"}}]}}
                ]
            },
        ),
        (
            openai,
            {
                "choices": [
                    {"message": {"tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}}
                ]
            },
        ),
        (anthropic, {}),
        (anthropic, {"content": ["text"]}),
        (anthropic, {"content": [{"type": "tool_use", "name": "f", "input": "x"}]}),
        (ollama, {}),
        (ollama, {"message": {"tool_calls": [{"function": {"name": "f", "arguments": "x"}}]}}),
    ],
)
def test_replies_without_the_promised_fields_are_malformed(module: Any, payload: dict[str, Any]):
    with pytest.raises(MalformedResponse):
        module.parse_reply(payload, ENDPOINT, "m")


def test_missing_usage_counts_zero():
    reply = openai.parse_reply({"choices": [{"message": {"content": "hi"}}]}, ENDPOINT, "m")
    assert (reply.text, reply.usage.total, reply.model, reply.finish_reason) == ("hi", 0, "m", None)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1200", "retry-after": "9"}, 1.2),
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], seconds: float | None):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_http_date():
    now = 1_700_000_000.0
    assert retry_after_seconds({"Retry-After": formatdate(now + 42, usegmt=True)}, now=now) == 42.0
    assert retry_after_seconds({"Retry-After": formatdate(now - 42, usegmt=True)}, now=now) == 0.0
