"""A provider whose every reply is decided by a Python callable (for tests and library users).

    def reply(request: ModelRequest) -> ModelReply:
        return ModelReply(text=request.messages[-1].content.upper())

    provider = FunctionProvider(reply)

The callable may be sync or async and may raise any ``ProviderError`` to simulate a failure.
Every call is recorded in ``calls`` as ``(context, request)``.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable

from agnoctl.providers.base import CallContext, ModelReply, ModelRequest

ReplyFunction = Callable[[ModelRequest], ModelReply | Awaitable[ModelReply]]


class FunctionProvider:
    """Calls ``fn`` for each request; keeps the last ``keep_calls`` calls (None: all)."""

    protocol = "function"
    base_url = ""

    def __init__(
        self, fn: ReplyFunction, *, name: str = "function", keep_calls: int | None = None
    ) -> None:
        self.name = name
        self._fn = fn
        self.calls: deque[tuple[CallContext, ModelRequest]] = deque(maxlen=keep_calls)

    async def request(self, request: ModelRequest) -> ModelReply:
        self.calls.append((request.context, request))
        reply = self._fn(request)
        if inspect.isawaitable(reply):
            return await reply
        return reply
