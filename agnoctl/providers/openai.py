"""OpenAI Chat Completions (``POST {base_url}/chat/completions``), and compatible servers.

``base_url`` ends where the official SDK's does (``https://api.openai.com/v1``), so vLLM,
llama.cpp, LiteLLM and other compatible servers work with their documented URL.
Structured output uses the native ``response_format: {type: json_schema}``; ``strict`` is set
only when the schema meets strict mode's rules (every object closed, every property required),
because strict mode refuses any other schema. The engine validates the reply either way.
Finish reasons are passed through: ``stop``, ``length``, ``tool_calls``, ``content_filter``;
a reply whose ``message.refusal`` says the model declined is given as ``refusal``, its text
the model's reason (the engine fails the step with it).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from agnoctl.errors import MalformedResponse
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

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Reasoning models refuse max_tokens and want max_completion_tokens instead; compatible
# servers (vLLM, llama.cpp) long accepted only max_tokens, so the choice follows the model.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


class OpenAIProvider(http.JsonProvider):
    """A Chat Completions endpoint; one instance per provider entry."""

    protocol = "openai"
    path = "/chat/completions"
    default_base_url = DEFAULT_BASE_URL
    default_key_hint = "OPENAI_API_KEY"

    def wire(self, request: ModelRequest) -> dict[str, Any]:
        return wire_request(request)

    def stream_body(self, body: dict[str, Any]) -> dict[str, Any]:
        # Usage comes in a last chunk only when asked for (servers that ignore the option
        # send none: the reply then counts no tokens, as a whole reply without usage does).
        return {**body, "stream": True, "stream_options": {"include_usage": True}}

    def stream_reader(self, model: str, clock: http.ContentClock) -> StreamedReply:
        return StreamedReply(self._endpoint, model, clock)


def wire_request(request: ModelRequest) -> dict[str, Any]:
    """The Chat Completions body for ``request``."""
    for message in request.messages:
        attachments.check("openai", message.attachments, request.model)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_wire_message(m) for m in request.messages],
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        limit_key = (
            "max_completion_tokens" if _REASONING_MODEL.match(request.model) else "max_tokens"
        )
        body[limit_key] = request.max_tokens
    if request.tools:
        body["tools"] = [wire_tool(t) for t in request.tools]
    if request.output_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": "output",
                "schema": request.output_schema,
                "strict": is_strict_compatible(request.output_schema),
            },
        }
    return body


def _wire_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _tool_text(message),
        }
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.attachments:
        wire["content"] = [
            *(_wire_attachment(a) for a in message.attachments),
            {"type": "text", "text": message.content},
        ]
    if message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return wire


def _tool_text(message: Message) -> str:
    """A tool message's text: Chat Completions takes text parts only there, so each image a
    tool returned is described in a line of its own (the model learns it exists)."""
    lines = [attachments.described(a.media_type, a.size) for a in message.attachments]
    return "\n".join([message.content, *lines] if message.content else lines)


def _wire_attachment(attachment: Attachment) -> dict[str, Any]:
    """An image part (a URL or a data: URL), or a file part for a PDF (files come first: the
    document, then the question about it, as OpenAI's own examples order them)."""
    if attachment.media_type == "application/pdf":
        return {
            "type": "file",
            "file": {
                "filename": attachments.file_name(attachment),
                "file_data": attachments.data_url(attachment),
            },
        }
    return {
        "type": "image_url",
        "image_url": {"url": attachment.url or attachments.data_url(attachment)},
    }


def wire_tool(tool: ToolSpec) -> dict[str, Any]:
    """A tool as Chat Completions declares one, a function with a JSON Schema (Ollama's
    `/api/chat` takes the same)."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def is_strict_compatible(schema: dict[str, Any]) -> bool:
    """Whether OpenAI strict mode accepts ``schema``: an object at the root, every object
    closed (``additionalProperties: false``) with every property required."""
    return schema.get("type") == "object" and _strict(schema)


def _strict(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required") or ()) != set(properties):
            return False
    return all(_strict(sub) for sub in _subschemas(schema))


def _subschemas(schema: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            found.extend(schema[key].values())
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(schema.get(key), list):
            found.extend(schema[key])
    found.append(schema.get("items"))
    return found


def parse_reply(payload: dict[str, Any], endpoint: http.Endpoint, model: str) -> ModelReply:
    """Map a Chat Completions reply to a ``ModelReply``.

    An ``error`` object instead of choices (OpenAI-compatible proxies and gateways answer a
    failure with a 200 this way) fails the call with the server's message, as in a stream."""
    if (error := payload.get("error")) is not None:
        raise _error_after_200(endpoint, model, error)
    usage = _usage(http.mapping(payload.get("usage")), endpoint, model)
    with http.billed(usage):
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise http.malformed(endpoint, model, "choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise http.malformed(endpoint, model, "choices[0].message")
        content = _content_text(message.get("content"), endpoint, model)
        finish = _str_or_none(choices[0].get("finish_reason"))
        calls = _tool_calls(message.get("tool_calls"), endpoint, model, cut=finish == "length")
    if isinstance(refusal := message.get("refusal"), str) and refusal:
        # A model declining to answer (structured outputs above all) says why in `refusal`,
        # with no content and `finish_reason: stop`: the reply is the refusal, not "".
        content, finish = refusal, "refusal"
    return ModelReply(
        text=content,
        tool_calls=calls,
        usage=usage,
        finish_reason=finish,
        model=str(payload.get("model") or model),
    )


def _usage(raw: dict[str, Any], endpoint: http.Endpoint, model: str) -> Usage:
    """A reply's usage: ``prompt_tokens`` (every input token, those of the prompt cache
    included), ``completion_tokens``, and the parts of the prompt the cache served and stored,
    billed at the model's cached-input and cache-write prices.

    OpenAI reports cache reads as ``prompt_tokens_details.cached_tokens`` (it bills no writes);
    compatible servers and gateways add their own names, each a part of ``prompt_tokens``:
    DeepSeek's ``prompt_cache_hit_tokens``, and for a Claude model behind a gateway, the writes
    as OpenRouter (``prompt_tokens_details.cache_write_tokens``) and LiteLLM
    (``prompt_tokens_details.cache_creation_tokens``, ``cache_creation_input_tokens``) name
    them.

    Cache parts past the prompt cannot be: a count is wrong, and which is unknown. They are
    dropped, as ``http.count`` drops other nonsense: the prompt is billed whole at the input
    price, the most it can cost if ``prompt_tokens`` is right, rather than all of it at the
    cached price, which a budget would trust to let a run go on."""
    usage = http.usage(raw, "prompt_tokens", "completion_tokens", endpoint, model)
    details = http.mapping(raw.get("prompt_tokens_details"))
    read = _first_count(
        ((details, "cached_tokens"), (raw, "prompt_cache_hit_tokens")), endpoint, model
    )
    written = _first_count(
        (
            (details, "cache_write_tokens"),
            (details, "cache_creation_tokens"),
            (raw, "cache_creation_input_tokens"),
        ),
        endpoint,
        model,
    )
    if read + written <= usage.input_tokens:
        usage.cache_read_tokens, usage.cache_write_tokens = read, written
    return usage


def _first_count(
    places: tuple[tuple[dict[str, Any], str], ...], endpoint: http.Endpoint, model: str
) -> int:
    """The first count of ``places`` (a usage object, a key) that is not 0: the names
    servers give one count."""
    for payload, key in places:
        if value := http.count(payload, key, endpoint, model):
            return value
    return 0


def _content_text(content: Any, endpoint: http.Endpoint, model: str) -> str:
    """The text of a message's (or a delta's) ``content``: a string, or a list of typed
    chunks, as Mistral's reasoning models send it (a ``thinking`` chunk, then ``text``
    chunks), whose text chunks are the answer (thinking is not, as Anthropic's is not);
    null is no text."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise http.malformed(endpoint, model, "a content that is text or a list of chunks")
    return "".join(
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
    )


class StreamedReply(http.StreamReader[SseEvent]):
    """A Chat Completions stream (server-sent events of ``chat.completion.chunk`` objects,
    ended by ``data: [DONE]``) put together into the whole reply it stands for, then parsed
    by ``parse_reply``: a streamed reply and a whole one are the same ``ModelReply``.

    A chunk's ``choices[0].delta`` carries a piece of ``content`` (text, or typed chunks:
    ``_content_text``), of ``refusal`` or of ``tool_calls`` (by
    ``index``: the id and name once, the arguments as pieces of one JSON text); the choice's
    ``finish_reason`` comes once; with ``stream_options.include_usage`` a last chunk with no
    choices carries ``usage``. An ``error`` object in a chunk (OpenAI-compatible servers report
    a failure after the 200 this way) fails the call as its ``code`` says, a server error if
    none.
    """

    def __init__(self, endpoint: http.Endpoint, model: str, clock: http.ContentClock) -> None:
        super().__init__(SseDecoder(), parse_reply, endpoint, model, clock)
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._calls: list[_CallPieces] = []  # in the order they were opened
        self._by_index: dict[int, _CallPieces] = {}
        self._last_call: _CallPieces | None = None
        self._finish: Any = None
        self._usage: Any = None
        self._served: Any = None
        self._done = False

    def piece(self, event: SseEvent) -> str | None:
        if event.data == "[DONE]":
            self._done = True  # the body is still read to its end: the connection is reused
            return None
        chunk = self.json(event.data)
        if (error := chunk.get("error")) is not None:
            raise _error_after_200(self._endpoint, self._model, error)
        self._served = chunk.get("model") or self._served
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return None
        choice = http.mapping(choices[0])
        self._finish = choice.get("finish_reason") or self._finish
        delta = http.mapping(choice.get("delta"))
        piece: str | None = None
        if text := _content_text(delta.get("content"), self._endpoint, self._model):
            self._text.append(text)
            piece = text
        if isinstance(refusal := delta.get("refusal"), str) and refusal:
            self._refusal.append(refusal)
            piece = piece or ""
        if isinstance(calls := delta.get("tool_calls"), list) and calls:
            for call in calls:
                self._call_piece(http.mapping(call))
            piece = piece or ""
        return piece

    def _call_piece(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        pieces = self._call_of(index if isinstance(index, int) else None, call.get("id"))
        function = http.mapping(call.get("function"))
        pieces.id = pieces.id or call.get("id")
        pieces.name = pieces.name or function.get("name")
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            pieces.arguments.append(arguments)
        elif isinstance(arguments, dict):  # a server that sends them whole, as an object
            pieces.arguments.append(json.dumps(arguments))

    def _call_of(self, index: int | None, call_id: Any) -> _CallPieces:
        """The call a tool-call delta adds to: the one of its ``index``, as the protocol
        numbers them (the last one opened when the index is left out, as Gemini's compatible
        endpoint does), unless the delta names another call by its id (Ollama's gives every
        call of a turn index 0); then it opens that call."""
        pieces = self._last_call if index is None else self._by_index.get(index)
        if pieces is None or (call_id and pieces.id and call_id != pieces.id):
            pieces = _CallPieces()
            self._calls.append(pieces)
            if index is not None:
                self._by_index[index] = pieces
        self._last_call = pieces
        return pieces

    def payload(self) -> dict[str, Any]:
        if not self._done:
            raise http.cut_short(self._endpoint, self._model, "its end (data: [DONE])")
        message: dict[str, Any] = {
            "content": "".join(self._text),
            "refusal": "".join(self._refusal),
        }
        if self._calls:
            message["tool_calls"] = [
                {
                    "id": pieces.id,
                    "type": "function",
                    "function": {"name": pieces.name, "arguments": "".join(pieces.arguments)},
                }
                for pieces in self._calls
            ]
        return {
            "model": self._served,
            "choices": [{"message": message, "finish_reason": self._finish}],
            "usage": self._usage,
        }


class _CallPieces:
    """What the chunks told of one tool call so far."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: Any = None
        self.name: Any = None
        self.arguments: list[str] = []


# The HTTP status an error's ``code`` or ``type`` stands for, when it names no status itself.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "invalid_api_key": 401,
    "model_not_found": 404,
    "rate_limit_exceeded": 429,
    http.QUOTA_CODE: 429,
}


def _error_after_200(endpoint: http.Endpoint, model: str, error: Any) -> Exception:
    """An error object, as the HTTP status its ``code`` is (LiteLLM writes it as a string:
    ``"429"``) or its ``code`` or ``type`` names; a server error when it names none."""
    error = error if isinstance(error, dict) else {"message": error}
    code, kind = error.get("code"), error.get("type")
    status = _status(code) or _ERROR_STATUS.get(str(code)) or _ERROR_STATUS.get(str(kind)) or 500
    quota = http.names_quota(error)
    return http.stream_error(endpoint, model, status, error.get("message"), quota=quota)


def _status(code: Any) -> int | None:
    if isinstance(code, str) and code.isdigit() and len(code) == 3:
        code = int(code)
    return code if isinstance(code, int) and 400 <= code <= 599 else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tool_calls(
    raw: Any, endpoint: http.Endpoint, model: str, *, cut: bool
) -> tuple[ToolCall, ...]:
    """The reply's tool calls. When the reply was ``cut`` at max_tokens, a call whose
    arguments the cut left unfinished is dropped: the reply is a cut one, which the engine
    fails once naming max_tokens, not a malformed one retried into the same cut."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise http.malformed(endpoint, model, "a tool_calls list")
    calls: list[ToolCall] = []
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise http.malformed(endpoint, model, "a function name in every tool call")
        try:
            arguments = _arguments(function.get("arguments"), endpoint, model)
        except MalformedResponse:
            if cut:
                continue
            raise
        call_id = str(item.get("id") or f"call_{len(calls)}")
        calls.append(ToolCall(id=call_id, name=function["name"], arguments=arguments))
    return tuple(calls)


def _arguments(raw: Any, endpoint: http.Endpoint, model: str) -> dict[str, Any]:
    # The protocol sends arguments as a JSON string; a model can still produce broken JSON,
    # which another attempt usually fixes, hence a (retryable) MalformedResponse.
    if raw is None or raw == "":
        return {}
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise http.malformed(endpoint, model, "tool call arguments that are a JSON object")
    return arguments
