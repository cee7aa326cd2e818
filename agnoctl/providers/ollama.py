"""Ollama's native chat API (``POST {base_url}/api/chat``): replies streamed as JSON lines
(``StreamedReply``), or whole with the provider's ``stream: false``.

``base_url`` is the host, as ``OLLAMA_HOST`` (default ``http://127.0.0.1:11434``). Structured
output uses the native ``format`` field, which takes a JSON Schema. Sampling settings go in
``options`` (``temperature``, ``num_predict`` for max_tokens). Ollama needs no key; one given
(a server behind an authenticating proxy) is sent as a bearer token.

Finish reasons are given in the OpenAI vocabulary: ``done_reason`` (``stop``, ``length``)
is passed through, and a reply carrying tool calls finishes with ``tool_calls``.
"""

from __future__ import annotations

from typing import Any

from agnoctl.providers import attachments, http
from agnoctl.providers.base import Message, ModelReply, ModelRequest, ToolCall
from agnoctl.providers.openai import wire_tool
from agnoctl.providers.stream import JsonLines

DEFAULT_BASE_URL = "http://127.0.0.1:11434"


class OllamaProvider(http.JsonProvider):
    """An Ollama server; one instance per provider entry."""

    protocol = "ollama"
    path = "/api/chat"
    default_base_url = DEFAULT_BASE_URL
    default_key_hint = "the api_key of the provider entry"

    def wire(self, request: ModelRequest) -> dict[str, Any]:
        return wire_request(request)

    def stream_reader(self, model: str, clock: http.ContentClock) -> StreamedReply:
        return StreamedReply(self._endpoint, model, clock)


class StreamedReply(http.StreamReader[str]):
    """An ``/api/chat`` stream (one JSON object a line) put together into the whole reply it
    stands for, then parsed by ``parse_reply``: a streamed reply and a whole one are the same
    ``ModelReply``.

    Each line's ``message`` carries a piece of ``content``, or whole ``tool_calls``; the last
    line has ``done: true`` with ``done_reason`` and the token counts (``prompt_eval_count``,
    ``eval_count``). A line with an ``error`` (a failure after the 200) fails the call as a
    server error, retried.
    """

    def __init__(self, endpoint: http.Endpoint, model: str, clock: http.ContentClock) -> None:
        super().__init__(JsonLines(), parse_reply, endpoint, model, clock)
        self._text: list[str] = []
        self._calls: list[Any] = []
        self._last: dict[str, Any] | None = None  # the line with done: true

    def piece(self, event: str) -> str | None:
        data = self.json(event)
        if (error := data.get("error")) is not None:
            raise http.stream_error(self._endpoint, self._model, 500, error)
        if data.get("done") is True:
            self._last = data
        message = http.mapping(data.get("message"))
        piece: str | None = None
        if isinstance(text := message.get("content"), str) and text:
            self._text.append(text)
            piece = text
        if isinstance(calls := message.get("tool_calls"), list) and calls:
            self._calls.extend(calls)
            piece = piece or ""
        return piece

    def payload(self) -> dict[str, Any]:
        if self._last is None:
            raise http.cut_short(self._endpoint, self._model, 'its end (a line with "done": true)')
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self._text)}
        if self._calls:
            message["tool_calls"] = self._calls
        return {**self._last, "message": message}


def wire_request(request: ModelRequest) -> dict[str, Any]:
    """The ``/api/chat`` body for ``request``."""
    for message in request.messages:
        attachments.check("ollama", message.attachments, request.model)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_wire_message(m) for m in request.messages],
        "stream": False,
    }
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if options:
        body["options"] = options
    if request.output_schema is not None:
        body["format"] = request.output_schema
    if request.tools:
        body["tools"] = [wire_tool(t) for t in request.tools]
    return body


def _wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.attachments:  # images only (attachments.check refused anything else)
        wire["images"] = [a.data_base64 for a in message.attachments]
    if message.role == "tool" and message.tool_name:
        wire["tool_name"] = message.tool_name
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    return wire


def parse_reply(payload: dict[str, Any], endpoint: http.Endpoint, model: str) -> ModelReply:
    """Map an ``/api/chat`` reply to a ``ModelReply``; an ``error`` instead of a message
    (a failure answered with a 200) fails the call as a server error, as in a stream."""
    if (error := payload.get("error")) is not None:
        raise http.stream_error(endpoint, model, 500, error)
    usage = http.usage(payload, "prompt_eval_count", "eval_count", endpoint, model)
    message = payload.get("message")
    with http.billed(usage):
        if not isinstance(message, dict):
            raise http.malformed(endpoint, model, "a message object")
        calls = _tool_calls(message.get("tool_calls"), endpoint, model)
    content = message.get("content")
    reason = payload.get("done_reason")
    return ModelReply(
        text=content if isinstance(content, str) else "",
        tool_calls=calls,
        usage=usage,
        finish_reason="tool_calls" if calls else reason if isinstance(reason, str) else None,
        model=str(payload.get("model") or model),
    )


def _tool_calls(raw: Any, endpoint: http.Endpoint, model: str) -> tuple[ToolCall, ...]:
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise http.malformed(endpoint, model, "a tool_calls list")
    calls: list[ToolCall] = []
    for index, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        arguments = function.get("arguments", {}) if isinstance(function, dict) else None
        if not isinstance(name, str) or not isinstance(arguments, dict):
            raise http.malformed(
                endpoint, model, "a name and an arguments object in every tool call"
            )
        # Ollama gives calls no id (newer versions may); results are matched by position.
        call_id = item.get("id") if isinstance(item.get("id"), str) else f"call_{index}"
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
    return tuple(calls)
