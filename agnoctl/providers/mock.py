"""The offline, deterministic ``mock`` provider.

Without fixtures every model name (``mock/echo``, ``mock/anything``) answers the same way:

- a call with an ``output_schema`` gets a minimal valid instance of it, as JSON text;
- a judge call (``CallContext.purpose == "judge"``) gets ``{"score": 1.0, "reason": "mock judge"}``;
- any other call gets the last user message back (the step's prompt), followed, when files
  are attached to it, by a line naming them: ``attachments: shots/home.png, docs/q1.pdf``.

A fixtures file (``agnoctl.providers.fixtures``) scripts replies per step, for_each item,
attachment name and agent; scripted replies win over the defaults above for every model
name. Token counts are ``agnoctl.estimate``'s (input: every message's content and
attachments; output: the reply), unless a fixture gives ``usage``. A reply's ``delay`` sleeps
with ``anyio.sleep``; a call without a
delay returns without yielding to the event loop.

The engine's benchmark runs 10,000 mock steps, so ``request`` only does dictionary look-ups:
fixtures are prepared at load time and minimal instances are computed once per schema.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from typing import Any

import anyio

from agnoctl import estimate
from agnoctl.errors import BadRequest
from agnoctl.providers.base import (
    CallContext,
    Message,
    ModelReply,
    ModelRequest,
    ToolCall,
    Usage,
)
from agnoctl.providers.fixtures import FixtureReply, Fixtures
from agnoctl.schema_instance import SchemaInstanceError, minimal_instance

JUDGE_REPLY = json.dumps({"score": 1.0, "reason": "mock judge"})
_INSTANCE_CACHE_SIZE = 256


class MockProvider:
    """Answers from fixtures, or echoes; records the last ``keep_calls`` calls in ``calls``."""

    protocol = "mock"
    base_url = ""

    def __init__(
        self, fixtures: Fixtures | None = None, *, name: str = "mock", keep_calls: int | None = 100
    ) -> None:
        self.name = name
        self.fixtures = fixtures or Fixtures()
        # Bounded by default so a 10,000-step run does not keep every request alive.
        self.calls: deque[tuple[CallContext, ModelRequest]] = deque(maxlen=keep_calls)
        self._keep_calls = keep_calls != 0
        self.call_count = 0
        self._scripted = bool(self.fixtures.steps or self.fixtures.agents)
        self._counters: dict[tuple[str, int | None, str], int] = {}
        # id(schema) -> (schema, JSON text); the schema is kept so its id cannot be reused.
        self._instances: dict[int, tuple[Mapping[str, Any], str]] = {}

    async def request(self, request: ModelRequest) -> ModelReply:
        context = request.context
        self.call_count += 1
        if self._keep_calls:
            self.calls.append((context, request))
        script = (
            self.fixtures.script_for(context, _attachment_names(request.messages))
            if self._scripted
            else None
        )
        if script is None:
            return self._default(request)
        key = (context.step_id, context.index, context.purpose)
        call = self._counters.get(key, 0)
        self._counters[key] = call + 1
        scripted = script.reply(call)
        if scripted.delay:
            await anyio.sleep(scripted.delay)
        if scripted.error is not None:
            raise scripted.error.exception(self.name, request.model)
        return _scripted_reply(request, scripted, call)

    def _default(self, request: ModelRequest) -> ModelReply:
        if request.context.purpose == "judge":
            text = JUDGE_REPLY
        elif request.output_schema is not None:
            text = self._instance_text(request)
        else:
            text = _last_user_message(request.messages)
        usage = Usage(_input_tokens(request.messages), estimate.text_tokens(text))
        return ModelReply(text, (), usage, "stop", request.model)  # positional: every mock call

    def _instance_text(self, request: ModelRequest) -> str:
        schema = request.output_schema
        assert schema is not None
        cached = self._instances.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        try:
            text = json.dumps(minimal_instance(schema), ensure_ascii=False)
        except SchemaInstanceError as exc:
            raise BadRequest(
                f"the mock provider cannot produce a value for this output_schema: {exc}",
                provider=self.name,
                model=request.model,
            ) from None
        if len(self._instances) >= _INSTANCE_CACHE_SIZE:
            self._instances.clear()
        self._instances[id(schema)] = (schema, text)
        return text


def _scripted_reply(request: ModelRequest, scripted: FixtureReply, call: int) -> ModelReply:
    tool_calls = tuple(
        ToolCall(id=f"call_{call + 1}_{n + 1}", name=name, arguments=arguments)
        for n, (name, arguments) in enumerate(scripted.tool_calls)
    )
    input_tokens = scripted.input_tokens
    if input_tokens is None:
        input_tokens = _input_tokens(request.messages)
    return ModelReply(
        text=scripted.text,
        tool_calls=tool_calls,
        usage=Usage(input_tokens, scripted.output_tokens),
        finish_reason=scripted.finish_reason or ("tool_calls" if tool_calls else "stop"),
        model=request.model,
    )


def _last_user_message(messages: tuple[Message, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            if message.attachments:
                names = ", ".join(a.name for a in message.attachments)
                return f"{message.content}\nattachments: {names}"
            return message.content
    return ""


def _attachment_names(messages: tuple[Message, ...]) -> tuple[str, ...]:
    return tuple(a.name for message in messages for a in message.attachments)


def _input_tokens(messages: tuple[Message, ...]) -> int:
    tokens = estimate.chars_tokens(sum(len(message.content) for message in messages))
    for message in messages:
        for a in message.attachments:
            tokens += estimate.attachment_tokens(a.media_type, a.size)
    return tokens
