"""Builds the providers of a run from their names and ``providers:`` entries.

``build(name, spec, http)`` returns a ``GuardedProvider``: the protocol's provider wrapped in
the entry's limits (``max_concurrency``, ``rate_limit``, the adaptive window and the pauses of
``ratelimit``) and circuit breaker, in that order:

    breaker admits (fails fast while open) → wait for a place in the window → wait out a pause
    of the provider → wait for the rate buckets → the call, bounded by ``timeout`` → the
    limiter learns the outcome (a 429 narrows the window; Retry-After or a used-up limit
    pauses the provider) → the breaker records it (only outages count: ``breaker``)

Retries, caching and fallbacks wrap a ``GuardedProvider`` from outside (the engine): a cache hit
must not spend rate limit, and each retry is a separate call through the breaker.

Built-in names work without an entry: ``openai`` (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``),
``anthropic`` (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``), ``ollama`` (``OLLAMA_HOST``).
An entry named after a built-in (``openai:`` with ``type: openai``) still reads that
environment for what it leaves out. Any other entry gets a key only from its own ``api_key``:
a local server must never be sent the OpenAI key. ``mock`` entries are built by
``agnoctl.providers.mock``; ``guard`` wraps them like any other provider.

Provider modules import the HTTP plumbing, so they are imported here only when a provider is
built.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import anyio

from agnoctl.errors import ProviderTimeout, UsageError
from agnoctl.providers import pricing
from agnoctl.providers.breaker import CircuitBreaker, State
from agnoctl.providers.ratelimit import (
    DEFAULT_CEILING,
    LimiterWatch,
    ProviderLimiter,
    estimate_tokens,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    from agnoctl.providers.anthropic import AnthropicProvider
    from agnoctl.providers.base import ModelReply, ModelRequest, Provider, Usage
    from agnoctl.providers.http import HttpClient
    from agnoctl.providers.ollama import OllamaProvider
    from agnoctl.providers.openai import OpenAIProvider
    from agnoctl.spec.models import ProviderSpec

BUILTINS = ("openai", "anthropic", "ollama")
_BASE_URL_ENV = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "ollama": "OLLAMA_HOST",
}
_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_OLLAMA_PORT = 11434


@dataclass(frozen=True, slots=True)
class Connection:
    """Where a provider's requests go and with which key, resolved from spec and environment."""

    protocol: str
    base_url: str
    api_key: str | None
    key_hint: str  # what to set when the key is refused


def resolve(
    name: str, spec: ProviderSpec | None, environ: Mapping[str, str] | None = None
) -> Connection:
    """The connection for provider ``name``; raises ``UsageError`` for an unknown name."""
    env = os.environ if environ is None else environ
    protocol = spec.type if spec is not None else name
    if protocol == "mock":
        raise UsageError(
            f"provider {name!r} is a mock provider: build it with agnoctl.providers.mock"
        )
    if spec is None and name not in BUILTINS:
        raise UsageError(
            f"unknown provider {name!r}: declare it under providers: in the workflow, "
            f"or use one of {', '.join((*BUILTINS, 'mock'))}"
        )
    builtin_env = name == protocol  # e.g. an "openai:" entry of type openai
    base_url = (spec.base_url if spec else None) or (
        _env_base_url(protocol, env) if builtin_env else None
    )
    api_key = (spec.api_key if spec else None) or (
        env.get(_KEY_ENV[protocol]) if builtin_env and protocol in _KEY_ENV else None
    )
    return Connection(
        protocol=protocol,
        base_url=_normalise(base_url or _default_base_url(protocol), protocol),
        api_key=api_key or None,
        key_hint=_key_hint(name, spec, protocol),
    )


def _env_base_url(protocol: str, env: Mapping[str, str]) -> str | None:
    """The environment's base URL for a built-in provider, held to a `base_url`'s checks (an
    entry's are made as the workflow loads; a variable is read only now)."""
    from agnoctl.spec.models import base_url_problem

    variable = _BASE_URL_ENV[protocol]
    value = env.get(variable)
    if not value:
        return None
    problem = base_url_problem(protocol, value)
    if problem is not None:
        raise UsageError(f"{variable} {problem}")
    return value


def _key_hint(name: str, spec: ProviderSpec | None, protocol: str) -> str:
    if (spec is None or not spec.api_key) and name == protocol and protocol in _KEY_ENV:
        return _KEY_ENV[protocol]
    return f"providers.{name}.api_key (write it as ${{VAR}} to read it from the environment)"


def _default_base_url(protocol: str) -> str:
    from agnoctl.providers import anthropic, ollama, openai

    defaults = {
        "openai": openai.DEFAULT_BASE_URL,
        "anthropic": anthropic.DEFAULT_BASE_URL,
        "ollama": ollama.DEFAULT_BASE_URL,
    }
    return defaults[protocol]


def _normalise(base_url: str, protocol: str) -> str:
    if protocol == "ollama" and "://" not in base_url:
        base_url = _ollama_host(base_url.strip())
    return base_url.rstrip("/")


def _ollama_host(value: str) -> str:
    # As the ollama CLI reads OLLAMA_HOST without a scheme: http, 127.0.0.1 for an empty host
    # and 11434 for a missing port (OLLAMA_HOST=0.0.0.0 is how Ollama's FAQ exposes a server;
    # http://0.0.0.0 would be port 80).
    parts = urlsplit(f"http://{value}")
    try:
        port = parts.port
    except ValueError:  # not a port: left for the caller's URL check to report
        return f"http://{value}"
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = _OLLAMA_PORT if port is None else port
    return urlunsplit(("http", f"{host}:{port}", parts.path, parts.query, ""))


def build_provider(
    name: str, spec: ProviderSpec | None, http: HttpClient, environ: Mapping[str, str] | None = None
) -> Provider:
    """The bare protocol provider for ``name`` (no limits, no breaker)."""
    from agnoctl.providers.http import ReplyLimits

    connection = resolve(name, spec, environ)
    limits = ReplyLimits()
    if spec is not None:
        limits = ReplyLimits(
            spec.max_response_bytes or limits.max_bytes,
            spec.stall_timeout or limits.stall_timeout,
        )
    return _provider_class(connection.protocol)(
        http,
        name=name,
        base_url=connection.base_url,
        api_key=connection.api_key,
        key_hint=connection.key_hint,
        limits=limits,
        stream=spec is None or spec.stream is not False,
    )


def _provider_class(
    protocol: str,
) -> type[OpenAIProvider] | type[AnthropicProvider] | type[OllamaProvider]:
    if protocol == "openai":
        from agnoctl.providers.openai import OpenAIProvider

        return OpenAIProvider
    if protocol == "anthropic":
        from agnoctl.providers.anthropic import AnthropicProvider

        return AnthropicProvider
    from agnoctl.providers.ollama import OllamaProvider

    return OllamaProvider


def secrets(
    name: str, spec: ProviderSpec | None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The secret values provider ``name`` uses, for the run's ``Redactor``."""
    if spec is not None and spec.type == "mock":
        return [spec.api_key] if spec.api_key else []
    try:
        key = resolve(name, spec, environ).api_key
    except UsageError:
        return []
    return [key] if key else []


@dataclass(slots=True)
class Dispatch:
    """Whether a call is still held by its provider's guard (the breaker, the concurrency
    window, a pause, the rate limits): until the guard lets it go, the provider was not asked,
    so the call is no call (docs/cost-control.md), whether it then fails or is cancelled."""

    held: bool = False


_DISPATCH: ContextVar[Dispatch | None] = ContextVar("agnoctl_dispatch", default=None)


@contextmanager
def watched_dispatch() -> Iterator[Dispatch]:
    """Watch the guarded provider call made inside the block: whether its guard held it."""
    dispatch = Dispatch()
    token = _DISPATCH.set(dispatch)
    try:
        yield dispatch
    finally:
        _DISPATCH.reset(token)


class GuardedProvider:
    """A provider behind its limits and circuit breaker; implements ``Provider``."""

    def __init__(
        self,
        inner: Provider,
        *,
        breaker: CircuitBreaker,
        limiter: ProviderLimiter,
        prices: Mapping[str, pricing.PriceLike] | None = None,
        name: str | None = None,
    ) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.protocol = inner.protocol
        self.base_url = inner.base_url
        self.breaker = breaker
        self.limiter = limiter
        self.prices = dict(prices or {})

    async def request(self, request: ModelRequest, *, timeout: float | None = None) -> ModelReply:
        """One call. ``timeout`` bounds the call itself, not the wait for a slot; when it
        expires the call fails with ``ProviderTimeout``, which the breaker counts."""
        dispatch = _DISPATCH.get()
        if dispatch is not None:
            dispatch.held = True
        ticket = self.breaker.admit()
        limiter = self.limiter
        tokens = estimate_tokens(request) if limiter.tokens is not None else 0
        try:
            async with limiter.slot(tokens) as slot:
                if ticket != self.breaker.generation:  # it changed state while we queued
                    ticket = self.breaker.admit()
                if dispatch is not None:
                    dispatch.held = False
                try:
                    if timeout is None:
                        reply = await self.inner.request(request)
                    else:
                        reply = await self._bounded(request, timeout)
                except BaseException as exc:
                    slot.failed(exc)
                    raise
                slot.answered(reply)
        except BaseException as exc:
            self.breaker.record_outcome(ticket, exc)
            raise
        self.breaker.record_success(ticket)
        # A copy only when the call waited: a provider may hand out one reply object twice.
        return replace(reply, waited=slot.waited) if slot.waited else reply

    async def _bounded(self, request: ModelRequest, timeout: float) -> ModelReply:
        try:
            with anyio.fail_after(timeout):
                return await self.inner.request(request)
        except TimeoutError:
            raise ProviderTimeout(
                f"{self.name} did not answer within the step timeout ({timeout:g}s)",
                provider=self.name,
                model=request.model,
            ) from None

    def cost(self, model: str, usage: Usage) -> float:
        """USD for ``usage`` on ``model``: the entry's pricing first, then the built-in table."""
        return pricing.cost(self.prices, model, usage, protocol=self.protocol)


def guard(
    inner: Provider,
    spec: ProviderSpec | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    on_breaker_change: Callable[[str, State, State], None] | None = None,
    ceiling: int = DEFAULT_CEILING,
    watch: LimiterWatch | None = None,
    name: str | None = None,
) -> GuardedProvider:
    """Wrap ``inner`` in the limits and breaker ``spec`` configures (breaker defaults if none).

    ``ceiling`` bounds the adaptive window of a provider without ``max_concurrency`` (the run's
    concurrency); ``watch`` is told what the limiter does. ``name`` is the workflow's name for
    the provider, which events and reports use (``inner.name`` by default: every mock entry
    shares one mock).
    """
    name = name or inner.name
    from agnoctl.spec.models import CircuitBreakerSpec

    breaker_spec = (spec.circuit_breaker if spec is not None else None) or CircuitBreakerSpec()
    rate = spec.rate_limit if spec is not None else None
    breaker = CircuitBreaker(
        name,
        failure_threshold=breaker_spec.failure_threshold,
        recovery_timeout=breaker_spec.recovery_timeout,
        half_open_max_calls=breaker_spec.half_open_max_calls,
        clock=clock,
        on_change=on_breaker_change,
    )
    limiter = ProviderLimiter(
        name=name,
        max_concurrency=spec.max_concurrency if spec is not None else None,
        ceiling=ceiling,
        requests_per_minute=rate.requests_per_minute if rate else None,
        tokens_per_minute=rate.tokens_per_minute if rate else None,
        clock=clock,
        sleep=sleep,
        watch=watch,
    )
    prices = spec.pricing if spec is not None else None
    return GuardedProvider(inner, breaker=breaker, limiter=limiter, prices=prices, name=name)


def build(
    name: str,
    spec: ProviderSpec | None,
    http: HttpClient,
    *,
    environ: Mapping[str, str] | None = None,
    on_breaker_change: Callable[[str, State, State], None] | None = None,
    ceiling: int = DEFAULT_CEILING,
    watch: LimiterWatch | None = None,
) -> GuardedProvider:
    """The guarded provider for ``name`` (``spec`` is its ``providers:`` entry, if any)."""
    inner = build_provider(name, spec, http, environ)
    return guard(inner, spec, on_breaker_change=on_breaker_change, ceiling=ceiling, watch=watch)
