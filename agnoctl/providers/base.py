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
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # on role="tool": which call this result answers
    tool_name: str | None = None  # on role="tool": which tool produced it


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
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class ModelReply:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str = ""  # the model that answered, as the server names it


class Provider(Protocol):
    """A configured connection to one model server."""

    name: str  # the provider entry's name, e.g. "openai" or "local"
    protocol: str  # openai | anthropic | ollama | mock
    base_url: str  # "" for mock; part of the cache key

    async def request(self, request: ModelRequest) -> ModelReply: ...
