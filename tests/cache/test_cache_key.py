"""Cache keys: stable for equal requests, different for any change of meaning, never secret."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from agnoctl.cache import request_key
from agnoctl.providers.base import CallContext, Message, ModelRequest, ToolCall, ToolSpec

BASE = "http://127.0.0.1:8000/v1"
TOOL = ToolSpec("grep_notes", "Search notes.", {"type": "object", "properties": {"q": {}}})
CALL = ToolCall("call_1", "grep_notes", {"q": "x"})
REQUEST = ModelRequest(
    model="gpt-4o-mini",
    messages=(
        Message("system", "Be brief."),
        Message("user", "Find x."),
        Message("assistant", "", tool_calls=(CALL,)),
        Message("tool", "x is 1", tool_call_id="call_1", tool_name="grep_notes"),
    ),
    temperature=0.1,
    max_tokens=100,
    output_schema={"type": "object", "required": ["a"]},
    tools=(TOOL,),
)


def _messages(*changed: Message) -> tuple[Message, ...]:
    return (*REQUEST.messages[:-1], *changed)


def _tool_result(content: str, call_id: str) -> Message:
    return Message("tool", content, tool_call_id=call_id, tool_name="grep_notes")


CHANGES = {
    "model": {"model": "gpt-4o"},
    "system": {"messages": (Message("system", "Be long."), *REQUEST.messages[1:])},
    "content": {"messages": _messages(_tool_result("x is 2", "call_1"))},
    "role": {"messages": _messages(Message("user", "x is 1", tool_call_id="call_1"))},
    "tool_call_id": {"messages": _messages(_tool_result("x is 1", "call_2"))},
    "tool_call": {
        "messages": (
            *REQUEST.messages[:2],
            Message("assistant", "", tool_calls=(ToolCall("call_1", "grep_notes", {"q": "y"}),)),
            REQUEST.messages[3],
        )
    },
    "message_count": {"messages": REQUEST.messages[:2]},
    "temperature": {"temperature": 0.2},
    "temperature_unset": {"temperature": None},
    "max_tokens": {"max_tokens": 101},
    "schema": {"output_schema": {"type": "object", "required": ["b"]}},
    "schema_unset": {"output_schema": None},
    # The order the model reads a schema's keys in (and, strict, writes its properties in).
    "schema_order": {"output_schema": {"required": ["a"], "type": "object"}},
    "tool_parameters_order": {
        "tools": (
            ToolSpec("grep_notes", TOOL.description, dict(reversed(TOOL.parameters.items()))),
        )
    },
    "tool_description": {"tools": (ToolSpec("grep_notes", "Search.", TOOL.parameters),)},
    "tool_parameters": {"tools": (ToolSpec("grep_notes", TOOL.description, {}),)},
    "tools_unset": {"tools": ()},
}


def test_equal_requests_give_equal_keys() -> None:
    copy = dataclasses.replace(REQUEST, output_schema={"type": "object", "required": ["a"]})
    assert request_key("openai", BASE, REQUEST) == request_key("openai", BASE, copy)
    assert len(request_key("openai", BASE, REQUEST)) == 64


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_any_change_of_meaning_changes_the_key(field: str) -> None:
    changed = dataclasses.replace(REQUEST, **CHANGES[field])
    assert request_key("openai", BASE, changed) != request_key("openai", BASE, REQUEST)


def test_provider_protocol_and_base_url_are_part_of_the_key() -> None:
    keys = {
        request_key("openai", BASE, REQUEST),
        request_key("ollama", BASE, REQUEST),
        request_key("openai", "http://127.0.0.1:8001/v1", REQUEST),
    }
    assert len(keys) == 3


def test_where_a_call_comes_from_is_not_part_of_the_key() -> None:
    elsewhere = dataclasses.replace(
        REQUEST, context=CallContext(step_id="other", index=3, attempt=2, agent="a")
    )
    assert request_key("openai", BASE, elsewhere) == request_key("openai", BASE, REQUEST)


def test_equivalent_spellings_share_a_key() -> None:
    integral = dataclasses.replace(REQUEST, temperature=0)
    floating = dataclasses.replace(REQUEST, temperature=0.0)
    assert request_key("openai", BASE, integral) == request_key("openai", BASE, floating)
    assert request_key("OpenAI", BASE + "/", REQUEST) == request_key("openai", BASE, REQUEST)


def test_yaml_dates_in_a_schema_do_not_collide_with_strings() -> None:
    dated = dataclasses.replace(REQUEST, output_schema={"default": datetime.date(2024, 1, 2)})
    text = dataclasses.replace(REQUEST, output_schema={"default": "2024-01-02"})
    assert request_key("openai", BASE, dated) != request_key("openai", BASE, text)


def test_the_api_key_never_changes_the_key(make_provider: type) -> None:
    from agnoctl.cache import ResponseCache

    one = make_provider(api_key="sk-one")
    two = make_provider(api_key="sk-two")
    assert ResponseCache.key(one, REQUEST) == ResponseCache.key(two, REQUEST)
