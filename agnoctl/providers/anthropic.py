"""Anthropic Messages (``POST {base_url}/v1/messages``, ``anthropic-version: 2023-06-01``).

``base_url`` is the host part, as ``ANTHROPIC_BASE_URL``. System messages go to the top-level
``system``; tool results travel as ``tool_result`` blocks of a user turn; ``max_tokens`` is
required by the protocol and defaults to 1024.

Structured output: the Messages API has no response-format switch that every model and
compatible server accepts, so an ``output_schema`` becomes a tool named ``final_output`` whose
``input_schema`` is the schema, and the model is made to call a tool (``tool_choice`` names
``final_output``, or is ``any`` when the agent has tools of its own). The arguments of that call
are the structured output: the reply's ``text`` is their JSON. This is the most reliable way to
get schema-shaped JSON from these models (no prose around it, no code fences).

Finish reasons are given in the OpenAI vocabulary: ``end_turn``/``stop_sequence`` → ``stop``,
``max_tokens`` → ``length``, ``tool_use`` → ``tool_calls`` (``stop`` for the output tool);
anything else (``refusal``, ``pause_turn``) is passed through.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agnoctl.errors import BadRequest, MalformedResponse
from agnoctl.providers import attachments, http
from agnoctl.providers.base import (
    Attachment,
    Message,
    ModelReply,
    ModelRequest,
    ToolCall,
    Usage,
)
from agnoctl.providers.stream import SseDecoder, SseEvent

if TYPE_CHECKING:
    from agnoctl.providers.base import ToolSpec

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
OUTPUT_TOOL = "final_output"
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


class AnthropicProvider(http.JsonProvider):
    """A Messages API endpoint; one instance per provider entry."""

    protocol = "anthropic"
    path = "/v1/messages"
    default_base_url = DEFAULT_BASE_URL
    default_key_hint = "ANTHROPIC_API_KEY"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def wire(self, request: ModelRequest) -> dict[str, Any]:
        return wire_request(request, self._endpoint)

    def stream_reader(self, model: str, clock: http.ContentClock) -> StreamedReply:
        return StreamedReply(self._endpoint, model, clock)


def wire_request(request: ModelRequest, endpoint: http.Endpoint) -> dict[str, Any]:
    """The Messages body for ``request``."""
    for message in request.messages:
        attachments.check("anthropic", message.attachments, request.model)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _wire_messages(request.messages),
    }
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    tools = [_wire_tool(t) for t in request.tools]
    if request.output_schema is not None:
        if any(t.name == OUTPUT_TOOL for t in request.tools):
            raise BadRequest(
                f"tool name {OUTPUT_TOOL!r} is reserved for structured output on anthropic "
                "providers; rename the tool",
                provider=endpoint.provider,
                model=request.model,
            )
        tools.append(
            {
                "name": OUTPUT_TOOL,
                "description": "Give the final answer, as arguments matching the schema.",
                "input_schema": request.output_schema,
            }
        )
        only_output = len(tools) == 1
        body["tool_choice"] = (
            {"type": "tool", "name": OUTPUT_TOOL} if only_output else {"type": "any"}
        )
    if tools:
        body["tools"] = tools
    return body


def _wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    # Every tool result of an assistant turn must sit in the one user turn that follows it,
    # so consecutive user-side messages are merged into one turn of blocks.
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if wire and role == "user" and wire[-1]["role"] == "user":
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return wire


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": _tool_result_content(message),
            }
        ]
    # Files before the text: Anthropic's guidance for images and documents alike.
    blocks = [_wire_attachment(a) for a in message.attachments]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        for call in message.tool_calls
    )
    return blocks


def _tool_result_content(message: Message) -> str | list[dict[str, Any]]:
    """A ``tool_result``'s content: its text, or text and ``image`` blocks when the tool
    returned images (the Messages API takes both there)."""
    if not message.attachments:
        return message.content
    text = [{"type": "text", "text": message.content}] if message.content else []
    return [*text, *(_wire_attachment(a) for a in message.attachments)]


def _wire_attachment(attachment: Attachment) -> dict[str, Any]:
    """An ``image`` block, or a ``document`` block for a PDF; base64, or a URL to fetch."""
    kind = "document" if attachment.media_type == "application/pdf" else "image"
    if attachment.url is not None:
        return {"type": kind, "source": {"type": "url", "url": attachment.url}}
    source = {
        "type": "base64",
        "media_type": attachment.media_type,
        "data": attachment.data_base64,
    }
    return {"type": kind, "source": source}


def _wire_tool(tool: ToolSpec) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


def parse_reply(payload: dict[str, Any], endpoint: http.Endpoint, model: str) -> ModelReply:
    """Map a Messages reply to a ``ModelReply``; the output tool's input becomes the text.

    An error object instead of a message (a gateway answers a failure with a 200 this way)
    fails the call with the server's message, as an ``error`` event in a stream does."""
    if payload.get("type") == "error":
        raise _error_after_200(endpoint, model, payload.get("error"))
    usage = _usage(http.mapping(payload.get("usage")), endpoint, model)
    reason = payload.get("stop_reason")
    with http.billed(usage):
        texts, calls = _content(payload.get("content"), endpoint, model, reason == "max_tokens")
    output = [c for c in calls if c.name == OUTPUT_TOOL]
    finish = _STOP_REASONS.get(reason, reason) if isinstance(reason, str) else None
    if output:
        texts = [json.dumps(output[0].arguments)]
        calls = [c for c in calls if c.name != OUTPUT_TOOL]
        if reason == "tool_use":  # the output tool's call is the answer; a cut stays a cut
            finish = "tool_calls" if calls else "stop"
    return ModelReply(
        text="".join(texts),
        tool_calls=tuple(calls),
        usage=usage,
        finish_reason=finish,
        model=str(payload.get("model") or model),
    )


def _usage(raw: dict[str, Any], endpoint: http.Endpoint, model: str) -> Usage:
    """A reply's usage. The Messages API reports the input read from the prompt cache
    (``cache_read_input_tokens``) and written to it (``cache_creation_input_tokens``) apart
    from ``input_tokens``, which leaves them out; each is billed, so the input billed is the
    three together, of which the cache's parts are priced at their own prices."""
    usage = http.usage(raw, "input_tokens", "output_tokens", endpoint, model)
    read = http.count(raw, "cache_read_input_tokens", endpoint, model)
    written = http.count(raw, "cache_creation_input_tokens", endpoint, model)
    usage.input_tokens += read + written
    usage.cache_read_tokens, usage.cache_write_tokens = read, written
    return usage


def _content(
    content: Any, endpoint: http.Endpoint, model: str, cut: bool
) -> tuple[list[str], list[ToolCall]]:
    """The texts and the tool calls of a reply's ``content`` blocks. When the reply was
    ``cut`` at max_tokens, a tool_use block whose input the cut left unfinished is dropped:
    the reply is a cut one, which the engine fails once naming max_tokens, not a malformed
    one retried into the same cut (structured output, a tool call, is cut so most often)."""
    if not isinstance(content, list):
        raise http.malformed(endpoint, model, "a content list")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, dict):
            raise http.malformed(endpoint, model, "content blocks that are objects")
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            try:
                calls.append(_tool_call(block, endpoint, model))
            except MalformedResponse:
                if not cut:
                    raise
    return texts, calls


# The HTTP status each kind of error stands for, for an ``error`` event after the 200.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class StreamedReply(http.StreamReader[SseEvent]):
    """A Messages stream (server-sent events, ended by ``message_stop``) put together into
    the whole reply it stands for, then parsed by ``parse_reply``: a streamed reply and a
    whole one are the same ``ModelReply``, the output tool's input becoming the text alike.

    ``message_start`` carries the model and the input tokens (the prompt cache's reads and
    writes apart); ``content_block_start`` opens a block by ``index`` (text, or a tool_use with
    its id and name), ``content_block_delta`` adds to it (``text_delta``; ``input_json_delta``:
    a piece of the tool input's JSON text); ``message_delta`` carries the ``stop_reason`` and
    the output tokens so far, and may repeat the input counts (a later count of a kind replaces
    the earlier one). ``ping`` and kinds this reader does not know are skipped. An ``error``
    event fails the call as the HTTP status of its kind would (``overloaded_error`` is a 529,
    retried).
    """

    def __init__(self, endpoint: http.Endpoint, model: str, clock: http.ContentClock) -> None:
        super().__init__(SseDecoder(), parse_reply, endpoint, model, clock)
        self._blocks: dict[int, dict[str, Any]] = {}
        self._inputs: dict[int, list[str]] = {}  # a tool_use block's pieces of input JSON
        self._usage: dict[str, Any] = {}
        self._stop: Any = None
        self._served: Any = None
        self._done = False

    def piece(self, event: SseEvent) -> str | None:
        data = self.json(event.data)
        kind = data.get("type")
        if kind == "content_block_delta":
            return self._delta(data)
        if kind == "content_block_start":
            return self._start(data)
        if kind == "message_start":
            message = http.mapping(data.get("message"))
            self._served = message.get("model")
            self._usage.update(http.mapping(message.get("usage")))
        elif kind == "message_delta":
            self._stop = http.mapping(data.get("delta")).get("stop_reason") or self._stop
            self._usage.update(http.mapping(data.get("usage")))
        elif kind == "message_stop":
            self._done = True
        elif kind == "error":
            raise _error_after_200(self._endpoint, self._model, data.get("error"))
        return None

    def _start(self, data: dict[str, Any]) -> str | None:
        block = dict(http.mapping(data.get("content_block")))
        index = self._index(data)
        self._blocks[index] = block
        if block.get("type") != "tool_use":
            return None
        self._inputs[index] = []
        return ""  # a tool call's name is content: the model has begun to answer

    def _delta(self, data: dict[str, Any]) -> str | None:
        index = self._index(data)
        block = self._blocks.get(index)
        if block is None:
            raise http.malformed(
                self._endpoint, self._model, "a content_block_start before its deltas"
            )
        delta = http.mapping(data.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(text := delta.get("text"), str):
            block["text"] = f"{block.get('text') or ''}{text}"
            return text
        if kind == "input_json_delta" and index in self._inputs:
            piece = delta.get("partial_json")
            self._inputs[index].append(piece if isinstance(piece, str) else "")
            return ""
        return None  # thinking, signatures, citations: not part of the reply agnoctl reads

    def _index(self, data: dict[str, Any]) -> int:
        index = data.get("index")
        if not isinstance(index, int):
            raise http.malformed(
                self._endpoint, self._model, "an index in every content block event"
            )
        return index

    def payload(self) -> dict[str, Any]:
        if not self._done:
            raise http.cut_short(self._endpoint, self._model, "its end (message_stop)")
        for index, pieces in self._inputs.items():
            if text := "".join(pieces):
                self._blocks[index]["input"] = text  # JSON text, decoded by parse_reply
        return {
            "model": self._served,
            "content": [block for _, block in sorted(self._blocks.items())],
            "stop_reason": self._stop,
            "usage": self._usage,
        }


def _tool_input(text: str, endpoint: http.Endpoint, model: str) -> Any:
    # A model can write broken JSON, which another attempt usually fixes (MalformedResponse).
    try:
        return json.loads(text)
    except ValueError:
        raise http.malformed(endpoint, model, "tool_use input that is JSON") from None


def _error_after_200(endpoint: http.Endpoint, model: str, error: Any) -> Exception:
    """An error object, as the HTTP status its ``type`` stands for (500 when unknown)."""
    error = http.mapping(error)
    status = _ERROR_STATUS.get(str(error.get("type")), 500)
    return http.stream_error(endpoint, model, status, error.get("message"))


def _tool_call(block: dict[str, Any], endpoint: http.Endpoint, model: str) -> ToolCall:
    name, arguments = block.get("name"), block.get("input", {})
    if isinstance(arguments, str):  # a stream's pieces of input, put together
        arguments = _tool_input(arguments, endpoint, model)
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise http.malformed(endpoint, model, "a name and an input object in every tool_use block")
    return ToolCall(id=str(block.get("id") or name), name=name, arguments=arguments)
