"""A fake LLM server that speaks the real wire protocols, on loopback only.

Routes (any path prefix is accepted before them, e.g. ``/proxy/v1/chat/completions``, but not
the route itself again: ``/v1/chat/completions/chat/completions`` is a 404, as a provider's is):

- ``POST …/chat/completions``  OpenAI Chat Completions (a provider ``base_url`` of
  ``http://127.0.0.1:PORT/v1``)
- ``POST …/v1/messages``       Anthropic Messages (needs ``x-api-key`` and ``anthropic-version``)
- ``POST …/api/chat``          Ollama chat

A request that asks for a stream (``stream: true``; for Ollama, anything but ``stream: false``)
gets one in its protocol's framing: OpenAI chunks as server-sent events ending in ``data:
[DONE]`` (usage in a last chunk when ``stream_options.include_usage`` asks for it), Anthropic's
events (``message_start`` … ``message_stop``, tool input as ``input_json_delta`` pieces, a
``ping``), Ollama's JSON lines ending in ``done: true``. Text and tool arguments are cut into
pieces of ``STREAM_PIECE`` characters, one event (or line) each; the events of a reply go out
in one write (a fault below, or ``trickle``, splits them).
- ``GET /_stats``              counts as JSON: ``requests``, ``in_flight``, ``max_in_flight``, and
  counts by ``routes``, ``models``, directive ``keys``, ``prompts`` (``prompt_hash`` of the last
  user message) and ``statuses`` (0: the client gave up first; 499: closed by ``[[reset]]``),
  and ``recent``: the last ``RECENT_REQUESTS`` requests (``received``, epoch seconds; ``protocol``,
  ``path``, ``model``, ``prompt_hash`` and the JSON ``body``; never the headers, which hold the key)
- ``POST /_reset``             zero the counts (directive counters included), fill the rate bucket

By default a reply is ``echo: <last user message>`` (directives removed), or, when a JSON
schema is asked for (OpenAI ``response_format``, Ollama ``format``, an Anthropic ``tool_choice``
forcing a tool: the named one, or for ``any`` the last tool offered, which is then called), a
minimal valid instance of that schema. Token counts default to about a
quarter of the characters in and out.

Directives
----------
Write them anywhere in the last user message; they are removed from the echoed text. A
directive's *key* is its exact text: "the first N times" counts requests carrying that same
text, so add ``:key=<anything>`` to give two steps separate counters.

- ``[[fail:N]]``, ``[[fail:N:STATUS]]``: the first N requests fail with STATUS (default 503)
- ``[[429]]``: the first request gets 429 (options below)
- ``[[status:CODE]]``: every request fails with CODE (a 401/403 echoes the key it was sent,
  as a careless server would: clients must keep it out of their errors)
- ``[[malformed]]``, ``[[malformed:N]]``: a 200 whose body is not JSON (always / first N)
- ``[[body:TEXT]]``: the body is TEXT as written (up to the closing brackets), with the status
  of an error directive or 200: a careless server's own words, JSON or not
- ``[[reset]]``, ``[[reset:N]]``: close the connection without answering (always / first N)
- ``[[hang:S]]``, ``[[hang:S:N]]``: wait S seconds before answering (always / first N)
- ``[[delay_ms:MS]]``: wait MS milliseconds before answering
- ``[[huge:BYTES]]``: the reply's JSON comes after BYTES bytes of whitespace (still valid
  JSON), streamed in 64 KiB chunks: a body as large as you like without the memory
- ``[[trickle:MS]]``: the reply's body is sent one byte every MS milliseconds
- ``[[json:VALUE]]``: the reply text is VALUE, any JSON (structured output too)
- ``[[text:TEXT]]``: the reply text is TEXT (up to the closing brackets)
- ``[[tool:NAME:ARGS]]``: call tool NAME with the JSON object ARGS while the conversation holds
  no tool result, then answer ``tool result: <last result>``; several make parallel calls
- ``[[bad_args:NAME]]``: as ``tool``, a call to tool NAME whose arguments are JSON cut short
  (``{"path": ``): a model's broken tool call (OpenAI; Anthropic streams it as
  ``input_json_delta`` pieces, a whole reply as the text in ``input``)
- ``[[tokens:IN:OUT]]``: report IN input and OUT output tokens;
  ``[[tokens:IN:OUT:CACHED:WRITTEN]]``: of the IN input tokens billed, CACHED were read from
  the prompt cache and WRITTEN written to it, reported in each protocol's shape: OpenAI's
  ``prompt_tokens`` is IN, with ``prompt_tokens_details.cached_tokens`` (and, when WRITTEN is
  not 0, ``cache_write_tokens``, as OpenRouter reports a Claude model's); Anthropic's
  ``input_tokens`` leaves them out (IN - CACHED - WRITTEN), ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens`` give them (in a stream's ``message_start``)
- ``[[call_index:MODE]]``: on an OpenAI stream, number the tool calls' deltas as careless
  servers do: ``zero`` gives every call index 0 (Ollama's OpenAI-compatible endpoint), ``none``
  leaves the index out (Gemini's), ``repeat`` repeats the call's id in every delta (vLLM's)
- ``[[finish:REASON]]``: the reply's finish reason, in the OpenAI vocabulary (``length``,
  ``content_filter``), named as each protocol names it; ``refusal`` is Anthropic's stop reason,
  and on the OpenAI route the reply's text as ``message.refusal`` (``delta.refusal`` pieces in
  a stream) with no content and ``finish_reason: stop``, as OpenAI refuses
- ``[[content_parts]]``: on the OpenAI route, the reply's content is a list of typed chunks, a
  ``thinking`` one and then a ``text`` one holding the text (a stream sends one chunk a
  delta), as Mistral's reasoning models answer

Stream faults (a whole reply ignores them; ``T``: only the first T requests, else always):

- ``[[cut:N]]``, ``[[cut:N:T]]``: close the connection after N events (or lines)
- ``[[stall:N]]``, ``[[stall:N:T]]``: send nothing more after N events, until the client leaves
- ``[[bad_chunk:N]]``, ``[[bad_chunk:N:T]]``: event N (from 1) is not JSON
- ``[[error_event:N]]``, ``[[error_event:N:T]]``: after N events, the protocol's error in the
  stream (Anthropic ``overloaded_error``, an OpenAI ``error`` object, an Ollama ``error`` line)
- ``[[malformed]]`` on a stream: its first event is not JSON

Error directives (``fail``, ``429``, ``status``) take options: ``retry_after=S`` (a
``Retry-After`` header in seconds), ``retry_after_ms=MS`` (``retry-after-ms``),
``retry_after_date=S`` (``Retry-After`` as an HTTP-date S seconds ahead) and, for ``429``,
``times=N``. Example: ``[[429:retry_after=1:times=2]]``. A malformed directive answers 400.

Rate limits
-----------
In token-bucket mode (``FakeLLMConfig.rps`` and ``burst``, ``--rps`` and ``--burst``) the server
is rate limited as a real provider is: ``rps`` requests a second refill a bucket of ``burst``
(default: a second's worth); a request that finds it empty is answered 429 at once, before any
directive is counted, with ``retry-after-ms`` and ``Retry-After`` (whole seconds, rounded up).
Every reply of the OpenAI route carries ``x-ratelimit-limit-requests``,
``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests`` (until the bucket is full,
as ``950ms`` or ``1s``), and of the Anthropic route ``anthropic-ratelimit-requests-limit``,
``-remaining`` and ``-reset`` (an RFC 3339 time). The 429s count in ``/_stats`` ``statuses``;
``/_reset`` fills the bucket again.

From Python
-----------
``FakeLLMConfig`` sets a default latency, an API key to require, a queue of scripted
``FakeReply`` (``script``, consumed first), a ``responder`` callable (a ``FakeRequest`` in,
a ``FakeReply`` or ``None`` for the default behaviour out) and the token-bucket mode.
``start_in_thread()`` runs the server in a background thread (for pytest fixtures and
benchmarks); ``FakeLLMServer`` runs it in the current event loop.
``python -m agnoctl.testing.fake_llm --port 0 --latency-ms 50`` prints
``listening http://127.0.0.1:PORT`` and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import ipaddress
import json
import math
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from agnoctl.schema_instance import SchemaInstanceError, minimal_instance

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

LOOPBACK = "127.0.0.1"
_MAX_BODY = 64 * 1024 * 1024
RECENT_REQUESTS = 100  # bodies kept for tests that check what a client sent (retries, tools)
_JSON = "application/json"

# --------------------------------------------------------------------------- public types


@dataclass(frozen=True, slots=True)
class FakeToolCall:
    name: str
    arguments: dict[str, Any]
    raw: str | None = None  # the arguments' text as sent, JSON or not (openai, anthropic)


@dataclass(frozen=True, slots=True)
class FakeReply:
    """What the server does for one request; every field has a do-nothing default."""

    text: str | None = None  # None: the default reply (echo, schema instance, tool result)
    tool_calls: tuple[FakeToolCall, ...] = ()
    status: int = 200  # not 200: an error in the protocol's shape
    error: str | None = None  # the error's message
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, on top of the configured latency
    malformed: bool = False  # a 200 whose body is not JSON
    body: str | None = None  # sent as written, instead of the protocol's JSON
    reset: bool = False  # close the connection without answering
    pad: int = 0  # bytes of whitespace streamed before the body
    trickle: float = 0.0  # seconds between the body's bytes (0: all at once)
    input_tokens: int | None = None  # every input token billed, the cache's included
    output_tokens: int | None = None
    cached_tokens: int | None = None  # of input_tokens: read from the prompt cache
    cache_write_tokens: int | None = None  # of input_tokens: written to it
    finish_reason: str | None = None  # "stop" | "length" | "tool_calls", mapped per protocol
    content_parts: bool = False  # openai: content as typed chunks (thinking, then text)
    call_index: str | None = None  # openai streams: "zero", "none" or "repeat" (the id)
    # Stream faults, by events sent (a whole reply ignores them): close the connection after
    # N, send nothing more after N, make event N (from 1) not JSON, report an error after N.
    cut: int | None = None
    stall: int | None = None
    bad_chunk: int | None = None
    error_event: int | None = None


@dataclass(frozen=True, slots=True)
class Directive:
    key: str  # its exact text, e.g. "[[fail:3:503]]"
    name: str
    args: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    payload: Any = None  # the JSON of json/tool directives


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """One request, as the protocols have in common."""

    protocol: str  # openai | anthropic | ollama
    path: str
    model: str
    prompt: str  # the last user message's text, directives removed
    raw_prompt: str  # the same, as sent
    directives: tuple[Directive, ...]
    schema: dict[str, Any] | None  # the JSON Schema the reply must follow, if any
    forced_tool: str | None  # anthropic: the tool the reply must call
    tools: tuple[str, ...]  # names of the tools offered
    tool_results: tuple[str, ...]  # tool results already in the conversation
    input_chars: int  # characters of message text, for the token estimate
    attempt: int  # requests seen with this same raw prompt, this one included
    body: Mapping[str, Any]


@dataclass
class FakeLLMConfig:
    latency_ms: float = 0.0  # added to every answer
    api_key: str | None = None  # when set, requests must carry exactly this key
    script: deque[FakeReply] = field(default_factory=deque)  # consumed first, in order
    responder: Callable[[FakeRequest], FakeReply | None] | None = None
    rps: float | None = None  # token-bucket mode: requests a second beyond which it answers 429
    burst: int | None = None  # the bucket's size (default: a second's worth, at least 1)


# --------------------------------------------------------------------------- directives

_DIRECTIVE = re.compile(r"\[\[([a-z_0-9]+)")
_KNOWN = {
    "fail", "429", "status", "malformed", "reset", "hang", "delay_ms",
    "json", "text", "tool", "tokens", "body", "huge", "trickle",
    "cut", "stall", "bad_chunk", "error_event", "finish", "content_parts", "bad_args",
    "call_index",
}  # fmt: skip
_STREAM_FAULTS = {"cut", "stall", "bad_chunk", "error_event"}
_WHOLE = {"text", "body"}  # directives whose one argument runs to the closing brackets
_decoder = json.JSONDecoder()


class DirectiveError(ValueError):
    pass


def parse_directives(text: str) -> tuple[tuple[Directive, ...], str]:
    """The directives in ``text``, and ``text`` without them."""
    found: list[Directive] = []
    kept: list[str] = []
    pos = 0
    while match := _DIRECTIVE.search(text, pos):
        name = match.group(1)
        parsed = _parse_one(text, match.end(), name) if name in _KNOWN else None
        if parsed is None:
            kept.append(text[pos : match.end()])
            pos = match.end()
            continue
        directive_args, end = parsed
        kept.append(text[pos : match.start()])
        found.append(_directive(text[match.start() : end], name, *directive_args))
        pos = end
    kept.append(text[pos:])
    return tuple(found), re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()


def _parse_one(text: str, start: int, name: str) -> tuple[tuple[list[str], Any], int] | None:
    """(positional args, payload) and the end index, or None if this is not a directive."""
    if text.startswith("]]", start):
        return ([], None), start + 2
    if not text.startswith(":", start):
        return None
    start += 1
    args: list[str] = []
    payload = None
    if name == "tool":
        colon = text.find(":", start)
        if colon < 0:
            return None
        args.append(text[start:colon])
        start = colon + 1
    if name in ("json", "tool"):
        try:
            payload, start = _decoder.raw_decode(text, start)
        except ValueError:
            return None
        return ((args, payload), start + 2) if text.startswith("]]", start) else None
    end = text.find("]]", start)
    if end < 0:
        return None
    raw = text[start:end]
    args.extend([raw] if name in _WHOLE else raw.split(":"))
    return (args, payload), end + 2


def _directive(key: str, name: str, args: list[str], payload: Any) -> Directive:
    positional = tuple(a for a in args if "=" not in a or name in _WHOLE)
    options = dict(a.split("=", 1) for a in args if "=" in a and name not in _WHOLE)
    return Directive(key=key, name=name, args=positional, options=options, payload=payload)


def reply_from_directives(request: FakeRequest, seen: Mapping[str, int]) -> FakeReply:
    """The reply the directives of ``request`` ask for; ``seen`` counts requests per key."""
    fields: dict[str, Any] = {}
    for directive in request.directives:
        try:
            _apply(directive, seen[directive.key], fields)
        except (ValueError, IndexError) as exc:
            return FakeReply(status=400, error=f"fake_llm: bad directive {directive.key}: {exc}")
    if request.tool_results and "tool_calls" in fields:
        del fields["tool_calls"]
    return FakeReply(**fields)


def _apply(d: Directive, n: int, out: dict[str, Any]) -> None:
    """Fold directive ``d``, seen for the ``n``-th time, into the reply fields ``out``."""
    args = d.args
    if d.name == "fail":
        if n <= int(args[0]):
            _fail(out, int(args[1]) if len(args) > 1 else 503, d)
    elif d.name == "429":
        if n <= int(d.options.get("times", "1")):
            _fail(out, 429, d)
    elif d.name == "status":
        _fail(out, int(args[0]), d)
    elif d.name in ("malformed", "reset"):
        if not args or n <= int(args[0]):
            out[d.name] = True
    elif d.name == "hang":
        if len(args) < 2 or n <= int(args[1]):
            out["delay"] = out.get("delay", 0.0) + float(args[0])
    elif d.name == "delay_ms":
        out["delay"] = out.get("delay", 0.0) + float(args[0]) / 1000.0
    elif d.name == "json":
        out["text"] = json.dumps(d.payload)
    elif d.name == "text":
        out["text"] = args[0]
    elif d.name == "body":
        out["body"] = args[0]
    elif d.name == "huge":
        out["pad"] = int(args[0])
    elif d.name == "trickle":
        out["trickle"] = float(args[0]) / 1000.0
    elif d.name == "tool":
        if not isinstance(d.payload, dict):
            raise ValueError("tool arguments must be a JSON object")
        call = FakeToolCall(name=args[0], arguments=d.payload)
        out["tool_calls"] = (*out.get("tool_calls", ()), call)
    elif d.name == "bad_args":
        call = FakeToolCall(name=args[0], arguments={}, raw='{"path": ')
        out["tool_calls"] = (*out.get("tool_calls", ()), call)
    elif d.name == "tokens":
        out["input_tokens"], out["output_tokens"] = int(args[0]), int(args[1])
        if len(args) > 2:
            cached, written = int(args[2]), int(args[3]) if len(args) > 3 else 0
            if min(cached, written) < 0 or cached + written > out["input_tokens"]:
                raise ValueError("CACHED and WRITTEN are parts of IN")
            out["cached_tokens"], out["cache_write_tokens"] = cached, written
    elif d.name == "finish":
        out["finish_reason"] = args[0]
    elif d.name == "content_parts":
        out["content_parts"] = True
    elif d.name == "call_index":
        if args[0] not in ("zero", "none", "repeat"):
            raise ValueError("call_index is zero, none or repeat")
        out["call_index"] = args[0]
    elif d.name in _STREAM_FAULTS and (len(args) < 2 or n <= int(args[1])):
        out[d.name] = int(args[0])


def _fail(out: dict[str, Any], status: int, d: Directive) -> None:
    if not 400 <= status <= 599:
        raise ValueError("an error status is between 400 and 599")
    if "status" in out:
        return  # the first error directive wins
    headers: dict[str, str] = {}
    if "retry_after" in d.options:
        headers["Retry-After"] = d.options["retry_after"]
    if "retry_after_ms" in d.options:
        headers["retry-after-ms"] = d.options["retry_after_ms"]
    if "retry_after_date" in d.options:
        when = time.time() + float(d.options["retry_after_date"])
        headers["Retry-After"] = formatdate(when, usegmt=True)
    out.update(status=status, headers=headers, error=f"fake error {status} ({d.key})")


# --------------------------------------------------------------------------- rate limits


class RequestBucket:
    """The token-bucket mode: ``rps`` requests a second refill a bucket of ``burst``; a request
    takes one, or is answered 429 when none is there. Every reply says where the bucket stands
    as the provider of its route does (OpenAI's ``x-ratelimit-*-requests``, Anthropic's
    ``anthropic-ratelimit-requests-*``, a reset being when the bucket is full again), and a 429
    says when the next request will be taken (``retry-after-ms``, ``Retry-After`` in whole
    seconds rounded up)."""

    def __init__(
        self, rps: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rps <= 0 or (burst is not None and burst < 1):
            raise ValueError("rps must be positive and burst at least 1")
        self.rps = rps
        self.burst = burst if burst is not None else max(1, math.floor(rps))
        self._clock = clock
        self._level = float(self.burst)
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._level = min(self.burst, self._level + (now - self._updated) * self.rps)
        self._updated = now
        if self._level < 1:
            return False
        self._level -= 1
        return True

    def headers(self, protocol: str, *, admitted: bool) -> dict[str, str]:
        remaining = math.floor(self._level)
        full_in = (self.burst - self._level) / self.rps
        headers: dict[str, str] = {}
        if protocol == "openai":
            headers["x-ratelimit-limit-requests"] = str(self.burst)
            headers["x-ratelimit-remaining-requests"] = str(remaining)
            headers["x-ratelimit-reset-requests"] = go_duration(full_in)
        elif protocol == "anthropic":
            reset = datetime.fromtimestamp(time.time() + full_in, UTC)
            headers["anthropic-ratelimit-requests-limit"] = str(self.burst)
            headers["anthropic-ratelimit-requests-remaining"] = str(remaining)
            headers["anthropic-ratelimit-requests-reset"] = reset.isoformat().replace("+00:00", "Z")
        if not admitted:
            next_in = (1 - self._level) / self.rps
            headers["retry-after-ms"] = str(math.ceil(next_in * 1000))
            headers["Retry-After"] = str(math.ceil(next_in))
        return headers


def go_duration(seconds: float) -> str:
    """``seconds`` as OpenAI writes its resets (Go's notation): ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def _rate_limited(headers: dict[str, str]) -> FakeReply:
    return FakeReply(status=429, error="fake_llm: over the rate limit (--rps)", headers=headers)


# --------------------------------------------------------------------------- stats


def prompt_hash(raw_prompt: str) -> str:
    """The key of ``stats()["prompts"]`` for a last user message (as sent)."""
    return hashlib.sha256(raw_prompt.encode()).hexdigest()[:16]


class FakeLLMStats:
    """Thread-safe counts: the server's loop writes, tests and benchmarks read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # told when no request is in flight
        self._zero()

    def _zero(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.routes: Counter[str] = Counter()
        self.models: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()
        self.prompts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def begin(self, path: str) -> None:
        with self._lock:
            self.requests += 1
            self.routes[path] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self, status: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.statuses[status] += 1
            if self.in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (a handler still writing a reply its client
        gave up on included); False if one still is after ``timeout`` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self.in_flight == 0, timeout)

    def count(self, model: str, raw_prompt: str, keys: Sequence[str]) -> tuple[dict[str, int], int]:
        """Count one request; returns its number per directive key and per prompt."""
        digest = prompt_hash(raw_prompt)
        with self._lock:
            self.models[model] += 1
            self.prompts[digest] += 1
            for key in set(keys):
                self.keys[key] += 1
            return {key: self.keys[key] for key in keys}, self.prompts[digest]

    def remember(self, received: float, request: FakeRequest) -> None:
        """Keep ``request`` among the recent ones (``received``: epoch seconds)."""
        entry = {
            "received": received,
            "protocol": request.protocol,
            "path": request.path,
            "model": request.model,
            "prompt_hash": prompt_hash(request.raw_prompt),
            "body": request.body,
        }
        with self._lock:
            self.recent.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "routes": dict(self.routes),
                "models": dict(self.models),
                "keys": dict(self.keys),
                "prompts": dict(self.prompts),
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "recent": list(self.recent),
            }

    def reset(self) -> None:
        with self._lock:
            in_flight = self.in_flight
            self._zero()
            self.in_flight = in_flight


# --------------------------------------------------------------------------- protocols


_ENDPOINTS = (
    ("/chat/completions", "openai"),
    ("/v1/messages", "anthropic"),
    ("/api/chat", "ollama"),
)


def _protocol_for(path: str) -> str | None:
    for endpoint, protocol in _ENDPOINTS:
        if path.endswith(endpoint):
            # No real server has a route that holds its endpoint twice: a client whose
            # base_url already held it must get the 404 a provider would give.
            return protocol if path.count(endpoint) == 1 else None
    return None


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or a list of parts/blocks with text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _tool_result_texts(protocol: str, messages: list[Any]) -> list[str]:
    if protocol != "anthropic":
        return [_text_of(m.get("content")) for m in messages if m.get("role") == "tool"]
    return [
        _text_of(block.get("content"))
        for m in messages
        if m.get("role") == "user" and isinstance(m.get("content"), list)
        for block in m["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


_JSON_MODE = {"type": "object"}  # JSON mode without a schema asks for some object


def _tool_names(protocol: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    tools = body.get("tools") or ()
    if protocol == "anthropic":
        return tuple(str(t.get("name")) for t in tools)
    return tuple(str((t.get("function") or {}).get("name")) for t in tools)


def _forced_tool(protocol: str, body: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """Anthropic's tool_choice: a named tool, or for "any" the last one offered."""
    choice = body.get("tool_choice") or {}
    if protocol != "anthropic" or not isinstance(choice, dict):
        return None
    if choice.get("type") == "tool":
        return str(choice.get("name"))
    return names[-1] if choice.get("type") == "any" and names else None


def _requested_schema(
    protocol: str, body: Mapping[str, Any], forced: str | None
) -> dict[str, Any] | None:
    if protocol == "anthropic":
        schemas = {t.get("name"): t.get("input_schema") for t in body.get("tools") or ()}
        return schemas.get(forced) if forced else None
    if protocol == "openai":
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema") or _JSON_MODE
        return _JSON_MODE if fmt.get("type") == "json_object" else None
    fmt = body.get("format")
    if isinstance(fmt, dict):
        return fmt
    return _JSON_MODE if fmt == "json" else None


def _parse_body(protocol: str, path: str, body: Mapping[str, Any]) -> FakeRequest:
    """The request as the protocols have in common; ``attempt`` is filled in by the server."""
    messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
    user_texts = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    user_texts = [t for t in user_texts if t]
    texts = [_text_of(m.get("content")) for m in messages] + [_text_of(body.get("system"))]
    raw_prompt = user_texts[-1] if user_texts else ""
    directives, prompt = parse_directives(raw_prompt)
    tools = _tool_names(protocol, body)
    forced = _forced_tool(protocol, body, tools)
    return FakeRequest(
        protocol=protocol,
        path=path,
        model=str(body.get("model", "")),
        prompt=prompt,
        raw_prompt=raw_prompt,
        directives=directives,
        schema=_requested_schema(protocol, body, forced),
        forced_tool=forced,
        tools=tools,
        tool_results=tuple(_tool_result_texts(protocol, messages)),
        input_chars=sum(len(t) for t in texts),
        attempt=0,
        body=body,
    )


def _default_text(request: FakeRequest) -> str:
    if request.schema is not None:
        return json.dumps(minimal_instance(request.schema))
    if request.tool_results:
        return f"tool result: {request.tool_results[-1]}"
    return f"echo: {request.prompt}"


def _tokens(chars: int) -> int:
    return max(1, math.ceil(chars / 4))


_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _render_reply(request: FakeRequest, reply: FakeReply, serial: int) -> dict[str, Any]:
    text = reply.text if reply.text is not None else _default_text(request)
    calls = list(reply.tool_calls)
    if request.forced_tool and not calls:
        try:
            forced_input = json.loads(text)
        except ValueError:
            forced_input = None
        if isinstance(forced_input, dict):
            calls, text = [FakeToolCall(request.forced_tool, forced_input)], ""
    out_chars = len(text) + sum(len(json.dumps(c.arguments)) for c in calls)
    usage = FakeUsage(
        reply.input_tokens if reply.input_tokens is not None else _tokens(request.input_chars),
        reply.output_tokens if reply.output_tokens is not None else _tokens(out_chars),
        reply.cached_tokens,
        reply.cache_write_tokens,
    )
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    render = {"openai": _openai_reply, "anthropic": _anthropic_reply, "ollama": _ollama_reply}
    payload = render[request.protocol](request.model, text, calls, usage, finish, serial)
    if reply.content_parts and request.protocol == "openai":
        thinking = {"type": "thinking", "thinking": [{"type": "text", "text": "Let me think."}]}
        payload["choices"][0]["message"]["content"] = [thinking, {"type": "text", "text": text}]
    return payload


class FakeUsage(NamedTuple):
    """The tokens a reply reports: ``cached`` and ``written`` are parts of ``input``, None
    when no directive gave them (the reply then reports no cache fields at all)."""

    input: int
    output: int
    cached: int | None = None
    written: int | None = None


def _openai_reply(
    model: str, text: str, calls: list[FakeToolCall], usage: FakeUsage, finish: str, n: int
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if finish == "refusal":
        message["content"], message["refusal"], finish = None, text, "stop"
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": json.dumps(c.arguments) if c.raw is None else c.raw,
                },
            }
            for i, c in enumerate(calls)
        ]
    return {
        "id": f"chatcmpl-fake{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": usage.input,
            "completion_tokens": usage.output,
            "total_tokens": usage.input + usage.output,
            **({} if usage.cached is None else {"prompt_tokens_details": _openai_details(usage)}),
        },
    }


def _openai_details(usage: FakeUsage) -> dict[str, int]:
    """``prompt_tokens_details``: the cache's reads, and its writes when there are any, as
    OpenRouter reports a Claude model's (OpenAI itself reports no writes)."""
    details = {"cached_tokens": usage.cached or 0}
    if usage.written:
        details["cache_write_tokens"] = usage.written
    return details


def _anthropic_reply(
    model: str, text: str, calls: list[FakeToolCall], usage: FakeUsage, finish: str, n: int
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [
        {
            "type": "tool_use",
            "id": f"toolu_{i}",
            "name": c.name,
            "input": c.arguments if c.raw is None else c.raw,
        }
        for i, c in enumerate(calls)
    ]
    return {
        "id": f"msg_fake{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _ANTHROPIC_STOP.get(finish, finish),
        "stop_sequence": None,
        "usage": _anthropic_usage(usage),
    }


def _anthropic_usage(usage: FakeUsage) -> dict[str, int]:
    """Anthropic's usage: ``input_tokens`` without the cache's reads and writes, given apart."""
    if usage.cached is None:
        return {"input_tokens": usage.input, "output_tokens": usage.output}
    written = usage.written or 0
    return {
        "input_tokens": usage.input - usage.cached - written,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": usage.output,
    }


def _ollama_reply(
    model: str, text: str, calls: list[FakeToolCall], usage: FakeUsage, finish: str, n: int
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ]
    return {
        "model": model,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "message": message,
        "done": True,
        "done_reason": "stop" if finish == "tool_calls" else finish,
        "total_duration": 0,
        "prompt_eval_count": usage.input,
        "eval_count": usage.output,
    }


def _error_body(protocol: str, status: int, message: str) -> dict[str, Any]:
    if protocol == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if protocol == "ollama":
        return {"error": message}
    return {"error": {"message": message, "type": "fake_error", "param": None, "code": status}}


def _sent_key(protocol: str, headers: Mapping[str, str]) -> str:
    if protocol == "anthropic":
        return headers.get("x-api-key", "")
    return headers.get("authorization", "").removeprefix("Bearer ")


def _refusal(
    protocol: str, body: Mapping[str, Any], headers: Mapping[str, str], api_key: str | None
) -> FakeReply | None:
    """What a real server would refuse before looking at the prompt."""
    return _auth_error(protocol, headers, api_key)


def wants_stream(protocol: str, body: Mapping[str, Any]) -> bool:
    """Whether the request asks for a streamed reply (Ollama streams unless told not to)."""
    return body.get("stream") is True or (protocol == "ollama" and body.get("stream") is not False)


def _auth_error(protocol: str, headers: Mapping[str, str], api_key: str | None) -> FakeReply | None:
    if protocol == "anthropic" and "anthropic-version" not in headers:
        return FakeReply(status=400, error="anthropic-version: header is required")
    if protocol == "anthropic" and "x-api-key" not in headers:
        return FakeReply(status=401, error="x-api-key header is required")
    if api_key is not None and _sent_key(protocol, headers) != api_key:
        return FakeReply(status=401)
    return None


# --------------------------------------------------------------------------- server


def _check_loopback(host: str) -> str:
    address = LOOPBACK if host == "localhost" else host
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the fake LLM server only listens on loopback, not {host!r}")
    return address


class FakeLLMServer:
    """The server, in the current event loop: ``url = await start()``, ``await close()``."""

    def __init__(
        self, config: FakeLLMConfig | None = None, *, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.config = config or FakeLLMConfig()
        self.host = _check_loopback(host)
        self.port = port
        self.stats = FakeLLMStats()
        self.url = ""
        self._serial = 0
        self._runner: web.AppRunner | None = None
        self._bucket: RequestBucket | None = None

    async def start(self) -> str:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_get("/_stats", self._stats)
        app.router.add_post("/_reset", self._reset)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # No access log (it would be the bottleneck); a client that gives up cancels its handler.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _stats(self, _: web.Request) -> web.Response:
        return web.json_response(self.stats.snapshot())

    async def _reset(self, _: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        protocol = _protocol_for(request.path)
        if protocol is None or request.method != "POST":
            return web.json_response(
                {"error": f"no route {request.method} {request.path}"}, status=404
            )
        self.stats.begin(request.path)
        status = 0
        try:
            response = await self._answer(request, protocol)
            status = response.status
            return response
        finally:
            self.stats.end(status)

    async def _answer(self, request: web.Request, protocol: str) -> web.StreamResponse:
        received = time.time()
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(
                protocol, FakeReply(status=400, error="the body is not a JSON object"), ""
            )
        parsed = _parse_body(protocol, request.path, body)
        self.stats.remember(received, parsed)
        refusal = _refusal(protocol, body, request.headers, self.config.api_key)
        limit_headers: dict[str, str] = {}
        bucket = self._rate_bucket() if refusal is None else None
        if bucket is not None:
            admitted = bucket.take()
            limit_headers = bucket.headers(protocol, admitted=admitted)
            if not admitted:  # refused before the model sees it: no directive is counted
                return self._error(protocol, _rate_limited(limit_headers), "")
        keys = [d.key for d in parsed.directives]
        seen, attempt = self.stats.count(parsed.model, parsed.raw_prompt, keys)
        fake = replace(parsed, attempt=attempt)
        reply = refusal or self._reply(fake, seen)
        if limit_headers:
            reply = replace(reply, headers={**limit_headers, **reply.headers})
        delay = self.config.latency_ms / 1000.0 + reply.delay
        if delay > 0:
            await asyncio.sleep(delay)
        if _streams(fake, reply):
            return await self._stream(request, fake, reply)
        response = self._respond(request, fake, reply)
        if (reply.pad or reply.trickle) and isinstance(response, web.Response):
            return await _streamed(request, response, reply)
        return response

    def _rate_bucket(self) -> RequestBucket | None:
        """The bucket of the token-bucket mode (``rps``), made anew when the config changes."""
        rps, burst = self.config.rps, self.config.burst
        if rps is None:
            return None
        bucket = self._bucket
        if bucket is None or (bucket.rps, bucket.burst) != (rps, burst or bucket.burst):
            bucket = self._bucket = RequestBucket(rps, burst)
        return bucket

    def reset(self) -> None:
        """Zero the counts and fill the token bucket again."""
        self.stats.reset()
        self._bucket = None

    def _reply(self, request: FakeRequest, seen: Mapping[str, int]) -> FakeReply:
        if self.config.script:
            try:
                return self.config.script.popleft()
            except IndexError:  # emptied by a concurrent request since the check
                pass
        if self.config.responder is not None and (reply := self.config.responder(request)):
            return reply
        return reply_from_directives(request, seen)

    def _respond(
        self, request: web.Request, fake: FakeRequest, reply: FakeReply
    ) -> web.StreamResponse:
        if reply.reset:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)  # never sent: the connection is gone
        if reply.malformed:
            return web.Response(status=200, body=b'{"id": "broken', content_type=_JSON)
        if reply.body is not None:
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
        if reply.status != 200:
            return self._error(fake.protocol, reply, _sent_key(fake.protocol, request.headers))
        self._serial += 1
        try:
            payload = _render_reply(fake, reply, self._serial)
        except SchemaInstanceError as exc:  # a real server refuses an unusable schema too
            return self._error(fake.protocol, FakeReply(status=400, error=f"bad schema: {exc}"), "")
        return web.Response(
            body=json.dumps(payload).encode(), content_type=_JSON, headers=reply.headers
        )

    async def _stream(
        self, request: web.Request, fake: FakeRequest, reply: FakeReply
    ) -> web.StreamResponse:
        """The reply as its protocol streams it, with the stream faults ``reply`` asks for."""
        self._serial += 1
        try:
            payload = _render_reply(fake, reply, self._serial)
        except SchemaInstanceError as exc:
            return self._error(fake.protocol, FakeReply(status=400, error=f"bad schema: {exc}"), "")
        include_usage = bool((fake.body.get("stream_options") or {}).get("include_usage"))
        chunks = stream_chunks(
            fake.protocol, payload, include_usage=include_usage, call_index=reply.call_index
        )
        kind = "application/x-ndjson" if fake.protocol == "ollama" else "text/event-stream"
        stream = web.StreamResponse(status=200, headers=reply.headers)
        stream.content_type = kind
        await stream.prepare(request)
        with contextlib.suppress(ConnectionError):  # the client stopped reading
            await _write_faulty(request, stream, fake.protocol, chunks, reply)
        return stream

    def _error(self, protocol: str, reply: FakeReply, sent_key: str) -> web.Response:
        message = reply.error or f"fake error {reply.status}"
        if reply.status in (401, 403):
            # Like a careless server, echo the credential: clients must keep it out of errors.
            message = f"Incorrect API key provided: {sent_key}"
        payload = _error_body(protocol, reply.status, message)
        return web.Response(
            status=reply.status,
            body=json.dumps(payload).encode(),
            content_type=_JSON,
            headers=reply.headers,
        )


async def _streamed(
    request: web.Request, response: web.Response, reply: FakeReply
) -> web.StreamResponse:
    """``response`` sent as a stream: after ``reply.pad`` bytes of whitespace, and one byte
    every ``reply.trickle`` seconds. A client that gives up ends it."""
    stream = web.StreamResponse(status=response.status, headers=reply.headers)
    stream.content_type = response.content_type
    body = bytes(response.body) if isinstance(response.body, bytes) else b""
    await stream.prepare(request)
    try:
        for start in range(0, reply.pad, _CHUNK):
            await stream.write(b" " * min(_CHUNK, reply.pad - start))
        if reply.trickle:
            for index in range(len(body)):
                await stream.write(body[index : index + 1])
                await asyncio.sleep(reply.trickle)
        else:
            await stream.write(body)
        await stream.write_eof()
    except ConnectionError:
        pass  # the client stopped reading: what it refuses, it refuses
    return stream


_CHUNK = 64 * 1024


def _streams(fake: FakeRequest, reply: FakeReply) -> bool:
    """Whether ``reply`` goes out as a stream: asked for, and a 200 in the protocol's shape."""
    whole = reply.status != 200 or reply.reset or reply.body is not None
    return not whole and wants_stream(fake.protocol, fake.body)


async def _write_faulty(
    request: web.Request,
    stream: web.StreamResponse,
    protocol: str,
    chunks: list[bytes],
    reply: FakeReply,
) -> None:
    """Write ``chunks``, breaking the stream as ``reply`` asks. The events this fake has ready
    go out in one write, as a server holding several tokens at once sends them; a fault or a
    trickle sends what came before it first."""
    bad = 1 if reply.malformed else reply.bad_chunk
    faults = {reply.cut, reply.stall, reply.error_event}
    for start in range(0, reply.pad, _CHUNK):
        await stream.write(b" " * min(_CHUNK, reply.pad - start))
    ready = bytearray()
    for sent, chunk in enumerate(chunks):
        if sent in faults and ready:
            await stream.write(bytes(ready))
            ready.clear()
        if sent == reply.cut:
            if request.transport is not None:
                request.transport.abort()
            return
        if sent == reply.stall:
            await asyncio.sleep(_STALL_SECONDS)  # until the client gives up (it cancels this)
        if sent == reply.error_event:
            ready += _stream_error(protocol)
            break
        ready += _NOT_JSON[protocol] if sent + 1 == bad else chunk
        if reply.trickle:
            await stream.write(bytes(ready))
            ready.clear()
            await asyncio.sleep(reply.trickle)
    # The last events and the body's end in one write: a server that has the whole rest of
    # its reply ends the chunked body with it, rather than in a segment of its own.
    await stream.write_eof(bytes(ready))


_STALL_SECONDS = 3600.0
_NOT_JSON = {
    "openai": b'data: {"id": "broken\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type": "broken\n\n',
    "ollama": b'{"model": "broken\n',
}
STREAM_PIECE = 16
"""Characters of text (or of a tool's JSON arguments) per streamed event."""


def _pieces(text: str) -> list[str]:
    return [text[i : i + STREAM_PIECE] for i in range(0, len(text), STREAM_PIECE)]


def _sse(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def _stream_error(protocol: str) -> bytes:
    if protocol == "anthropic":
        error = {"type": "overloaded_error", "message": "fake overloaded (error_event)"}
        return _sse({"type": "error", "error": error}, "error")
    if protocol == "ollama":
        return json.dumps({"error": "fake error (error_event)"}).encode() + b"\n"
    return _sse({"error": {"message": "fake error (error_event)", "code": None}})


def stream_chunks(
    protocol: str,
    payload: Mapping[str, Any],
    *,
    include_usage: bool = False,
    call_index: str | None = None,
) -> list[bytes]:
    """A whole reply ``payload`` (as ``_render_reply`` makes it) cut into its protocol's
    stream: one element per event (SSE) or line (Ollama). ``call_index``: see the
    ``call_index`` directive."""
    if protocol == "anthropic":
        return _anthropic_stream(payload)
    if protocol == "ollama":
        return _ollama_stream(payload)
    return _openai_stream(payload, include_usage, call_index)


def _openai_stream(
    payload: Mapping[str, Any], include_usage: bool, call_index: str | None = None
) -> list[bytes]:
    head = {k: payload[k] for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"
    choice = payload["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        extra = {"usage": None} if include_usage else {}
        return _sse({**head, "choices": choices, **extra})

    chunks = [chunk({"role": "assistant", "content": ""})]
    content = message["content"]
    if isinstance(content, list):  # typed chunks: one a delta, as a list of one
        chunks += [chunk({"content": [part]}) for part in content]
    else:
        chunks += [chunk({"content": piece}) for piece in _pieces(content or "")]
    chunks += [chunk({"refusal": piece}) for piece in _pieces(message["refusal"] or "")]
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        number: dict[str, Any] = {"index": 0 if call_index == "zero" else index}
        if call_index == "none":
            number = {}
        elif call_index == "repeat":
            number["id"] = call["id"]
        opening = {**call, **number, "function": {"name": function["name"], "arguments": ""}}
        chunks.append(chunk({"tool_calls": [opening]}))
        chunks += [
            chunk({"tool_calls": [{**number, "function": {"arguments": piece}}]})
            for piece in _pieces(function["arguments"])
        ]
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append(_sse({**head, "choices": [], "usage": payload["usage"]}))
    return [*chunks, _sse("[DONE]")]


def _anthropic_stream(payload: Mapping[str, Any]) -> list[bytes]:
    usage = payload["usage"]
    start = {**payload, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}  # the input counts, the cache's apart
    chunks = [_sse({"type": "message_start", "message": start}, "message_start")]
    chunks.append(_sse({"type": "ping"}, "ping"))
    for index, block in enumerate(payload["content"]):
        opening: dict[str, Any]
        if block["type"] == "text":
            opening, kind, key, whole = {"type": "text", "text": ""}, "text_delta", "text", block
        else:
            opening = {**block, "input": {}}
            kind, key = "input_json_delta", "partial_json"
            given = block["input"]  # the arguments, or their text as sent (bad_args)
            whole = {"partial_json": given if isinstance(given, str) else json.dumps(given)}
        chunks.append(
            _sse(
                {"type": "content_block_start", "index": index, "content_block": opening},
                "content_block_start",
            )
        )
        chunks += [
            _sse(
                {"type": "content_block_delta", "index": index, "delta": {"type": kind, key: p}},
                "content_block_delta",
            )
            for p in _pieces(whole[key])
        ]
        chunks.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    delta = {"stop_reason": payload["stop_reason"], "stop_sequence": None}
    ending = {
        "type": "message_delta",
        "delta": delta,
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    chunks.append(_sse(ending, "message_delta"))
    return [*chunks, _sse({"type": "message_stop"}, "message_stop")]


def _ollama_stream(payload: Mapping[str, Any]) -> list[bytes]:
    head = {"model": payload["model"], "created_at": payload["created_at"]}
    message = payload["message"]

    def line(data: dict[str, Any]) -> bytes:
        return json.dumps({**head, **data}).encode() + b"\n"

    lines = [
        line({"message": {"role": "assistant", "content": piece}, "done": False})
        for piece in _pieces(message["content"])
    ]
    if message.get("tool_calls"):
        calls = {"role": "assistant", "content": "", "tool_calls": message["tool_calls"]}
        lines.append(line({"message": calls, "done": False}))
    last = {k: v for k, v in payload.items() if k not in ("model", "created_at")}
    return [*lines, line({**last, "message": {"role": "assistant", "content": ""}})]


class FakeLLMThread:
    """The server in a background thread with its own event loop; usable as a context manager."""

    def __init__(
        self, config: FakeLLMConfig | None = None, *, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.server = FakeLLMServer(config, host=host, port=port)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-llm", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def config(self) -> FakeLLMConfig:
        return self.server.config

    def stats(self) -> dict[str, Any]:
        return self.server.stats.snapshot()

    def reset(self) -> None:
        self.server.reset()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the server has no request in flight (``FakeLLMStats.wait_idle``)."""
        return self.server.stats.wait_idle(timeout)

    def start(self, timeout: float = 10.0) -> str:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the fake LLM server did not start in time")
        if self._failure is not None:
            raise self._failure
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.ident is None:  # never started
            return
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> FakeLLMThread:
        if not self._ready.is_set():  # start_in_thread() already started it
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.close()


def start_in_thread(
    config: FakeLLMConfig | None = None, *, host: str = LOOPBACK, port: int = 0
) -> FakeLLMThread:
    """Start a server in a background thread; ``.url``, ``.stats()``, ``.reset()``, ``.stop()``."""
    server = FakeLLMThread(config, host=host, port=port)
    server.start()
    return server


# --------------------------------------------------------------------------- command


async def _serve(config: FakeLLMConfig, host: str, port: int) -> None:
    server = FakeLLMServer(config, host=host, port=port)
    url = await server.start()
    sys.stdout.write(f"listening {url}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agnoctl.testing.fake_llm",
        description="A fake OpenAI/Anthropic/Ollama server on loopback, scripted by directives.",
    )
    parser.add_argument("--host", default=LOOPBACK, help="a loopback address (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--api-key", default=None, help="require this key on every request")
    parser.add_argument(
        "--rps", type=float, default=None, help="answer 429 beyond this many requests a second"
    )
    parser.add_argument(
        "--burst", type=int, default=None, help="requests taken at once (default: --rps)"
    )
    args = parser.parse_args(argv)
    try:
        _check_loopback(args.host)
        if args.rps is not None:
            RequestBucket(args.rps, args.burst)
    except ValueError as exc:
        parser.error(str(exc))
    config = FakeLLMConfig(
        latency_ms=args.latency_ms, api_key=args.api_key, rps=args.rps, burst=args.burst
    )
    asyncio.run(_serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
