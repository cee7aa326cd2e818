"""The one seam between the engine and a model server: request in, reply out.

A provider implements ``Provider.request``. Retries, caching, rate limits, circuit breakers,
fallbacks and redaction wrap that method elsewhere; they are never flags inside a provider.
Errors come out as the ``ProviderError`` tree of ``agnoctl.errors``.

The values that cross it are slotted dataclasses, not frozen ones, though nothing changes them
once made: every model call builds a message, a context, a request, a usage and a reply, and a
frozen dataclass sets each field through ``object.__setattr__``, five times the cost of a plain
one. Treat them as values: ``dataclasses.replace`` makes a changed copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file or image sent with a message: its contents, or a ``url`` the provider fetches
    itself. ``name`` is how reports, fixtures and the model know it (the path as the workflow
    wrote it, or the URL); ``sha256`` and ``size`` describe the contents (empty and 0 for a
    URL) so that cache keys and reports never need them.

    The contents are kept base64-encoded, the inline form of every protocol (and of images
    that tools return): encoded once, in the worker thread that read the file, never on the
    event loop by each call that sends them."""

    name: str
    media_type: str  # image/png, image/jpeg, image/gif, image/webp, application/pdf
    data_base64: str = ""
    url: str | None = None
    sha256: str = ""
    size: int = 0

    def __repr__(self) -> str:  # never the contents: a repr ends up in logs and tracebacks
        return f"Attachment({self.name!r}, {self.media_type!r}, size={self.size})"

    def summary(self) -> dict[str, Any]:
        """What reports and events say of it: its name and type, and its size and SHA-256
        (or its URL), never its contents."""
        if self.url is not None:
            return {"name": self.name, "media_type": self.media_type, "url": self.url}
        return {
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(slots=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # on role="tool": which call this result answers
    tool_name: str | None = None  # on role="tool": which tool produced it
    attachments: tuple[Attachment, ...] = ()  # files and images sent after `content`


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object


@dataclass(slots=True)
class CallContext:
    """Where a call comes from. Not part of the cache key; the mock provider scripts by it."""

    step_id: str  # full step path, "group.child" for nested steps
    index: int | None = None  # for_each item index
    attempt: int = 1
    agent: str | None = None
    purpose: str = "task"  # "task" or "judge" (a judge gate scoring the step's output)
    # Given each piece of a streamed reply's text as it arrives (the live display); None
    # when nobody shows it, so a reply's chunks cost nothing more then.
    on_text: Callable[[str], None] | None = None


@dataclass(slots=True)
class ModelRequest:
    model: str  # the part after "<provider>/"
    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    output_schema: dict[str, Any] | None = None
    tools: tuple[ToolSpec, ...] = ()
    context: CallContext = field(default_factory=lambda: CallContext(step_id=""))


@dataclass(slots=True)
class Usage:
    """The tokens a call was billed for.

    ``input_tokens`` is every input token billed, those the provider's prompt cache served or
    stored included (OpenAI's ``prompt_tokens``; Anthropic's ``input_tokens`` plus its cache
    reads and writes, which it reports apart), so that ``max_tokens`` and reports see them
    all; ``cache_read_tokens`` and ``cache_write_tokens`` say how many of them were read from
    and written to that cache, which ``pricing.charge`` bills at their own prices."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0  # of input_tokens
    cache_write_tokens: int = 0  # of input_tokens

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class RateLimitHint:
    """What a reply's rate-limit headers say of the calls after it."""

    # Seconds every new call must wait: Retry-After (on a 429 or 503), a token limit used up.
    wait: float | None = None
    # The provider's request limit, when it tells it: what it still takes, what it holds
    # when whole, and the seconds until it is whole again.
    remaining: int | None = None
    limit: int | None = None
    full_in: float | None = None

    @property
    def longest_wait(self) -> float | None:
        """``wait``, or until the request limit is whole again if it is used up."""
        used_up = self.full_in if self.remaining == 0 else None
        waits = [w for w in (self.wait, used_up) if w is not None]
        return max(waits, default=None)


# Finish reasons (OpenAI's vocabulary, which the providers map theirs to) of a reply the
# server did not finish: cut at max_tokens or at the context window, withheld by a content
# filter, refused. Such a reply is not an answer: the engine fails its step, the cache keeps
# it out.
UNFINISHED = frozenset({"length", "model_context_window_exceeded", "content_filter", "refusal"})


@dataclass(slots=True)
class ModelReply:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str = ""  # the model that answered, as the server names it
    # What the reply's rate-limit headers say of the next calls (http.rate_limit_hint);
    # the provider's limiter pauses for it and sizes its window by it.
    rate_limit: RateLimitHint | None = None
    # Seconds the call waited for its provider's limits (window, pause, rate buckets) before
    # it went out; set by the registry's GuardedProvider.
    waited: float = 0.0
    # Answered from the response cache (Runtime.call_model): the tool calls it asks for are
    # answered from the recorded results too, so a cached conversation needs no MCP server.
    cached: bool = False
    # A streamed reply's timings: seconds from sending the request to its first content (text
    # or a tool call), and from then to its end. None for whole replies, cache hits and mocks.
    ttft: float | None = None
    stream_seconds: float | None = None
    # The Ray node that made the call (a step's model calls on the cluster); None here.
    node: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the server finished the reply (``UNFINISHED``)."""
        return self.finish_reason not in UNFINISHED


class Provider(Protocol):
    """A configured connection to one model server."""

    name: str  # the provider entry's name, e.g. "openai" or "local"
    protocol: str  # openai | anthropic | ollama | mock
    base_url: str  # "" for mock; part of the cache key

    async def request(self, request: ModelRequest) -> ModelReply: ...
