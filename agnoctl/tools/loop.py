"""The tool-calling loop of one agent task.

The model is called; while its reply asks for tools, each call is run and its result is sent
back, and the model is called again, until a reply asks for none. The tool calls of one reply
run one after another, in the order the model gave them, so events and side effects keep a
deterministic order.

Every requested call counts against ``max_tool_calls``, an unknown tool or invalid arguments
included. Once the limit is reached, the remaining calls are not run: each gets a refused
result saying so, and the model is called once more to answer with what it has. If that reply
still asks for tools, the task fails with ``StepFailed`` (kind ``tool_limit``).

Problems with a call (unknown tool, invalid arguments, a tool that fails) are results the model
sees, never exceptions: SPEC reports a refused or failed tool call to the model as its result.
The exceptions are a tool whose server is gone (``StepFailed`` from an MCP server that
crashed or stopped answering): the model cannot act on that, so the attempt fails; and under
``--cache-only`` a tool that would reach the network (``CacheMiss``), which fails the step.

``more`` are tools known only once asked (an agent's MCP servers): a call the declared tools do
not have goes to them (a name they lack too they refuse), told whether the reply that asked for
it came from the response cache.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from agnoctl import redact
from agnoctl.errors import CacheMiss, StepFailed
from agnoctl.providers.base import Message, ModelReply, ToolCall, Usage
from agnoctl.tools.base import Tool, ToolResult, failed, refused

ModelCaller = Callable[[tuple[Message, ...]], Awaitable[ModelReply]]
_EVENT_ERROR_CHARS = 300


class MoreTools(Protocol):
    """Tools listed when first needed (an agent's MCP servers)."""

    async def call(self, call: ToolCall, *, replayed: bool) -> ToolResult:
        """``call``'s result (refused when there is no tool of that name)."""

    async def check_names(self) -> None:
        """Fail the step when one of these tools is named as a declared one."""


class ToolWatch(Protocol):
    """What the loop tells the run (its ``tool_call`` and ``tool_result`` events)."""

    def called(self, call: ToolCall) -> None:
        """The model asked for ``call``."""

    def answered(
        self, call: ToolCall, result: ToolResult, seconds: float, error: str | None
    ) -> None:
        """``call`` got ``result`` after ``seconds`` (``error``: the start of a failed or
        refused result)."""


@dataclass(frozen=True, slots=True)
class ToolLoopResult:
    reply: ModelReply  # the final reply, without tool calls
    messages: tuple[Message, ...]  # the whole conversation, ending with the final reply
    usage: Usage  # summed over every model call
    calls: int  # model calls made
    tool_calls: int  # tool calls counted against max_tool_calls


async def run_tool_loop(
    call_model: ModelCaller,
    messages: tuple[Message, ...],
    tools: Mapping[str, Tool],
    *,
    max_tool_calls: int,
    watch: ToolWatch,
    more: MoreTools | None = None,
) -> ToolLoopResult:
    """Run the conversation until the model answers without asking for a tool."""
    conversation = messages
    used = calls = 0
    usage = Usage()
    limit_reached = False
    while True:
        reply = await call_model(conversation)
        calls += 1
        usage.input_tokens += reply.usage.input_tokens
        usage.output_tokens += reply.usage.output_tokens
        usage.cache_read_tokens += reply.usage.cache_read_tokens
        usage.cache_write_tokens += reply.usage.cache_write_tokens
        assistant = Message("assistant", reply.text, tool_calls=reply.tool_calls)
        if not reply.tool_calls:
            return ToolLoopResult(
                reply=reply,
                messages=(*conversation, assistant),
                usage=usage,
                calls=calls,
                tool_calls=used,
            )
        if limit_reached:
            raise StepFailed(
                f"the model kept calling tools after its limit of {max_tool_calls} tool calls "
                "was reached (raise the agent's max_tool_calls, or ask for fewer calls)",
                kind="tool_limit",
            )
        results: list[Message] = []
        for call in reply.tool_calls:
            watch.called(call)
            started = time.perf_counter()
            if used >= max_tool_calls:
                limit_reached = True
                result = refused(
                    f"the limit of {max_tool_calls} tool calls for this task is reached; "
                    "answer with what you have"
                )
            else:
                used += 1
                result = await _run_call(call, tools, more, replayed=reply.cached)
            error = None if result.ok else redact.head(result.text, _EVENT_ERROR_CHARS)[0]
            watch.answered(call, result, time.perf_counter() - started, error)
            results.append(
                Message(
                    "tool",
                    result.text,
                    tool_call_id=call.id,
                    tool_name=call.name,
                    attachments=result.attachments,
                )
            )
        conversation = (*conversation, assistant, *results)


async def _run_call(
    call: ToolCall, tools: Mapping[str, Tool], more: MoreTools | None, *, replayed: bool
) -> ToolResult:
    tool = tools.get(call.name)
    if tool is None:
        if more is not None:
            return await more.call(call, replayed=replayed)
        return unknown_tool(call.name, tools)
    if more is not None and not replayed:
        # A model request lists the servers and finds a clash; the mock provider's does not,
        # and a rehearsal must not pass where the real run fails. A replay starts no server.
        await more.check_names()
    try:
        return await tool.call(call.arguments)
    except CacheMiss:
        raise  # under --cache-only, a tool that would reach the network fails the step
    except Exception as exc:
        # Tools report their own problems as results; anything that still escapes (an OS
        # error nobody foresaw) is reported the same way rather than failing the step.
        return failed(f"{type(exc).__name__}: {exc}")


def unknown_tool(name: str, names: Iterable[str]) -> ToolResult:
    """The result of a call to a tool the agent does not have."""
    available = ", ".join(sorted(names)) or "none"
    return refused(f"there is no tool named {name!r}; available tools: {available}")
