"""The tool-calling loop: rounds, messages, limits, unknown tools, events."""

from __future__ import annotations

from typing import Any

import pytest

from agnoctl.errors import StepFailed
from agnoctl.providers.base import (
    CallContext,
    Message,
    ModelReply,
    ModelRequest,
    ToolCall,
    ToolSpec,
    Usage,
)
from agnoctl.providers.fixtures import parse_fixtures
from agnoctl.providers.function import FunctionProvider
from agnoctl.providers.mock import MockProvider
from agnoctl.tools.base import Tool, ToolResult
from agnoctl.tools.loop import ModelCaller, ToolLoopResult, run_tool_loop

pytestmark = pytest.mark.anyio

PROMPT = (Message("system", "You answer."), Message("user", "What is in a.txt?"))


class EchoTool:
    """Answers with its arguments; records every call."""

    def __init__(self, name: str = "echo", *, fail: bool = False) -> None:
        self.name = name
        self.spec = ToolSpec(name, "Echo the arguments.", {"type": "object"})
        self.received: list[dict[str, Any]] = []
        self._fail = fail

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        self.received.append(arguments)
        if self._fail:
            raise OSError("disk on fire")
        return ToolResult(True, f"{self.name}:{sorted(arguments.items())}")


class Events:
    """What the loop tells its watch, as the engine's ``tool_call`` and ``tool_result``
    events hold it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def called(self, call: ToolCall) -> None:
        self.seen.append(
            ("tool_call", {"id": call.id, "name": call.name, "arguments": call.arguments})
        )

    def answered(
        self, call: ToolCall, result: ToolResult, seconds: float, error: str | None
    ) -> None:
        payload = {"id": call.id, "name": call.name, "ok": result.ok, "truncated": result.truncated}
        payload |= {"duration_ms": seconds * 1000, "chars": len(result.text)}
        self.seen.append(("tool_result", payload | ({} if error is None else {"error": error})))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.seen]

    def results(self) -> list[dict[str, Any]]:
        return [payload for kind, payload in self.seen if kind == "tool_result"]


def caller(provider: MockProvider | FunctionProvider, step: str = "research") -> ModelCaller:
    async def call_model(messages: tuple[Message, ...]) -> ModelReply:
        request = ModelRequest(model="echo", messages=messages, context=CallContext(step))
        return await provider.request(request)

    return call_model


def calls(*names: str, **arguments: Any) -> ModelReply:
    return ModelReply(
        text="",
        tool_calls=tuple(ToolCall(f"c{i}", name, dict(arguments)) for i, name in enumerate(names)),
        usage=Usage(10, 1),
    )


def answer(text: str = "done") -> ModelReply:
    return ModelReply(text=text, usage=Usage(20, 2))


def scripted(*replies: ModelReply) -> FunctionProvider:
    """A model that gives these replies in order, then the last one forever."""
    script = list(replies)
    return FunctionProvider(lambda request: script.pop(0) if len(script) > 1 else script[0])


async def run(
    provider: MockProvider | FunctionProvider,
    tools: dict[str, Tool],
    *,
    limit: int = 10,
    events: Events | None = None,
) -> ToolLoopResult:
    return await run_tool_loop(
        caller(provider), PROMPT, tools, max_tool_calls=limit, watch=events or Events()
    )


async def test_mock_fixtures_drive_a_tool_round_trip() -> None:
    fixtures = parse_fixtures(
        {
            "steps": {
                "research": [
                    {"tool_calls": [{"name": "echo", "arguments": {"path": "a.txt"}}]},
                    {"text": "a.txt says hello", "usage": {"input_tokens": 7, "output_tokens": 3}},
                ]
            }
        }
    )
    provider = MockProvider(fixtures)
    tool = EchoTool()
    events = Events()
    result = await run(provider, {"echo": tool}, events=events)

    assert result.reply.text == "a.txt says hello"
    assert (result.calls, result.tool_calls) == (2, 1)
    assert tool.received == [{"path": "a.txt"}]
    roles = [m.role for m in result.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    request_call = result.messages[2].tool_calls[0]
    tool_message = result.messages[3]
    assert (tool_message.tool_call_id, tool_message.tool_name) == (request_call.id, "echo")
    assert tool_message.content == "echo:[('path', 'a.txt')]"
    assert result.messages[-1].content == "a.txt says hello"
    # The second model call saw the tool's result.
    second_request = provider.calls[1][1]
    assert second_request.messages[-1] == tool_message
    # Round 1's usage is estimated (characters / 4, rounded up); round 2's is scripted.
    prompt_chars = len("You answer.") + len("What is in a.txt?")
    call_chars = len("echo") + len('{"path": "a.txt"}')
    assert result.usage == Usage((prompt_chars + 3) // 4 + 7, (call_chars + 3) // 4 + 3)
    assert events.kinds() == ["tool_call", "tool_result"]
    assert events.seen[0][1] == {"id": "call_1_1", "name": "echo", "arguments": {"path": "a.txt"}}
    outcome = events.results()[0]
    assert outcome["ok"] is True and outcome["truncated"] is False
    assert outcome["chars"] == len(tool_message.content)
    assert outcome["duration_ms"] >= 0


async def test_usage_is_summed_over_every_model_call() -> None:
    provider = scripted(calls("echo"), calls("echo"), answer())
    result = await run(provider, {"echo": EchoTool()})
    assert result.usage == Usage(10 + 10 + 20, 1 + 1 + 2)
    assert result.calls == 3 and result.tool_calls == 2


async def test_calls_of_one_reply_run_in_order() -> None:
    first, second = EchoTool("first"), EchoTool("second")
    events = Events()
    await run(
        scripted(calls("second", "first", "second"), answer()),
        {"first": first, "second": second},
        events=events,
    )
    assert [p["name"] for p in events.results()] == ["second", "first", "second"]
    assert events.kinds() == ["tool_call", "tool_result"] * 3


async def test_an_unknown_tool_is_refused_with_the_available_ones() -> None:
    provider = scripted(calls("delete_everything"), answer("ok"))
    events = Events()
    result = await run(provider, {"echo": EchoTool(), "fetch": EchoTool("fetch")}, events=events)
    tool_message = result.messages[3]
    assert tool_message.content == (
        "refused: there is no tool named 'delete_everything'; available tools: echo, fetch"
    )
    assert result.reply.text == "ok"
    (outcome,) = events.results()
    assert outcome["ok"] is False
    assert outcome["error"].startswith("refused: there is no tool named")


async def test_the_limit_refuses_extra_calls_and_asks_for_an_answer() -> None:
    tool = EchoTool()
    provider = scripted(calls("echo", "echo", "echo"), answer("with what I have"))
    events = Events()
    result = await run(provider, {"echo": tool}, limit=2, events=events)
    assert len(tool.received) == 2
    assert result.tool_calls == 2 and result.calls == 2
    refusal = result.messages[-2]
    assert refusal.role == "tool"
    assert refusal.content.startswith("refused: the limit of 2 tool calls for this task is reached")
    assert [p["ok"] for p in events.results()] == [True, True, False]
    assert result.reply.text == "with what I have"


async def test_the_limit_counts_across_rounds() -> None:
    tool = EchoTool()
    provider = scripted(calls("echo"), calls("echo"), calls("echo"), answer())
    result = await run(provider, {"echo": tool}, limit=2)
    assert len(tool.received) == 2
    assert result.calls == 4


async def test_a_model_that_keeps_calling_past_the_limit_fails_the_task() -> None:
    provider = scripted(calls("echo"))  # asks for a tool forever
    with pytest.raises(StepFailed) as caught:
        await run(provider, {"echo": EchoTool()}, limit=1)
    assert caught.value.kind == "tool_limit"
    assert "limit of 1 tool calls" in caught.value.message
    assert len(provider.calls) == 3  # call, refused round, the last chance


async def test_zero_tool_calls_allowed_still_lets_the_model_answer() -> None:
    tool = EchoTool()
    result = await run(scripted(calls("echo"), answer("fine")), {"echo": tool}, limit=0)
    assert tool.received == []
    assert result.reply.text == "fine" and result.tool_calls == 0


async def test_a_tool_that_raises_becomes_a_failed_result() -> None:
    result = await run(scripted(calls("boom"), answer()), {"boom": EchoTool("boom", fail=True)})
    assert result.messages[3].content == "failed: OSError: disk on fire"
    assert result.reply.text == "done"


async def test_a_reply_without_tool_calls_ends_at_once() -> None:
    provider = MockProvider()
    result = await run(provider, {"echo": EchoTool()})
    assert result.reply.text == "What is in a.txt?"  # mock/echo
    assert result.calls == 1 and result.tool_calls == 0
    assert result.messages == (*PROMPT, Message("assistant", "What is in a.txt?"))
