"""Building providers from names, entries and the environment; the guard around a call."""

from __future__ import annotations

import anyio
import pytest

from agnoctl.errors import (
    AuthenticationFailed,
    BadRequest,
    CircuitOpen,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)
from agnoctl.providers.base import Message, ModelReply, ModelRequest, Usage
from agnoctl.providers.breaker import State
from agnoctl.providers.http import HttpClient
from agnoctl.providers.registry import build, build_provider, guard, resolve, secrets
from agnoctl.spec.models import CircuitBreakerSpec, ModelPrice, ProviderSpec, RateLimitSpec
from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread

pytestmark = pytest.mark.anyio

ENV = {
    "OPENAI_API_KEY": "sk-openai-000000",
    "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
    "ANTHROPIC_API_KEY": "sk-ant-000000",
    "OLLAMA_HOST": "127.0.0.1:11500",
}
REQUEST = ModelRequest(model="m", messages=(Message("user", "hi"),))


def test_builtins_read_the_environment():
    openai = resolve("openai", None, ENV)
    assert (openai.protocol, openai.base_url, openai.api_key) == (
        "openai",
        "http://127.0.0.1:1/v1",
        "sk-openai-000000",
    )
    assert openai.key_hint == "OPENAI_API_KEY"
    anthropic = resolve("anthropic", None, {})
    assert (anthropic.base_url, anthropic.api_key) == ("https://api.anthropic.com", None)
    assert anthropic.key_hint == "ANTHROPIC_API_KEY"
    assert resolve("ollama", None, ENV).base_url == "http://127.0.0.1:11500"
    assert resolve("ollama", None, {}).base_url == "http://127.0.0.1:11434"


def test_custom_entries_never_get_the_builtin_key():
    spec = ProviderSpec(type="openai", base_url="http://127.0.0.1:8000/v1/")
    local = resolve("local", spec, ENV)
    assert (local.base_url, local.api_key) == ("http://127.0.0.1:8000/v1", None)
    assert local.key_hint.startswith("providers.local.api_key")


def test_entry_values_win_over_the_environment():
    spec = ProviderSpec(type="openai", api_key="sk-entry-000000", max_concurrency=2)
    openai = resolve("openai", spec, ENV)
    assert openai.api_key == "sk-entry-000000"
    assert openai.base_url == "http://127.0.0.1:1/v1"  # what the entry leaves out
    assert openai.key_hint.startswith("providers.openai.api_key")


def test_empty_key_means_none():
    assert resolve("local", ProviderSpec(type="openai", api_key=""), {}).api_key is None


def test_unknown_and_mock_providers():
    with pytest.raises(UsageError, match="unknown provider 'nope'"):
        resolve("nope", None, {})
    with pytest.raises(UsageError, match=r"agnoctl\.providers\.mock"):
        resolve("mock", None, {})


def test_secrets_for_the_redactor():
    assert secrets("openai", None, ENV) == ["sk-openai-000000"]
    assert secrets("local", ProviderSpec(type="openai", api_key="k-123456"), ENV) == ["k-123456"]
    assert secrets("ollama", None, ENV) == []
    assert secrets("nope", None, ENV) == []


async def test_build_against_the_fake_server(fake_llm: FakeLLMThread, http: HttpClient):
    spec = ProviderSpec(
        type="openai",
        base_url=f"{fake_llm.url}/v1",
        api_key="sk-local-123456",
        max_concurrency=2,
        pricing={"m": ModelPrice(input=1.0, output=1.0)},
    )
    provider = build("local", spec, http, environ={})
    assert (provider.name, provider.protocol) == ("local", "openai")
    reply = await provider.request(
        ModelRequest(model="m", messages=(Message("user", "hi [[tokens:10:5]]"),))
    )
    assert reply.text == "echo: hi"
    assert provider.cost("m", reply.usage) == pytest.approx(15 / 1_000_000)


async def test_built_provider_names_the_key_it_needs(fake_llm: FakeLLMThread, http: HttpClient):
    fake_llm.server.config = FakeLLMConfig(api_key="right")
    provider = build_provider("anthropic", None, http, {"ANTHROPIC_BASE_URL": fake_llm.url})
    with pytest.raises(AuthenticationFailed, match="ANTHROPIC_API_KEY"):
        await provider.request(REQUEST)


class ScriptedProvider:
    """Raises the queued errors, then answers; counts calls and the most in flight."""

    name = "scripted"
    protocol = "openai"
    base_url = "http://127.0.0.1:9/v1"

    def __init__(self, *errors: Exception, delay: float = 0.0) -> None:
        self.errors = list(errors)
        self.delay = delay
        self.calls = self.in_flight = self.peak = 0

    async def request(self, request: ModelRequest) -> ModelReply:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await anyio.sleep(self.delay)
            if self.errors:
                raise self.errors.pop(0)
            return ModelReply(text="ok", usage=Usage(1, 1))
        finally:
            self.in_flight -= 1


async def test_guard_opens_the_breaker_and_fails_fast():
    inner = ScriptedProvider(*[ProviderUnavailable("down") for _ in range(2)])
    changes: list[tuple[str, State, State]] = []
    spec = ProviderSpec(type="openai", circuit_breaker=CircuitBreakerSpec(failure_threshold=2))
    provider = guard(inner, spec, on_breaker_change=lambda *c: changes.append(c))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await provider.request(REQUEST)
    with pytest.raises(CircuitOpen):
        await provider.request(REQUEST)
    assert inner.calls == 2
    assert changes == [("scripted", "closed", "open")]


async def test_guard_permanent_errors_leave_the_breaker_closed():
    inner = ScriptedProvider(*[BadRequest("400") for _ in range(10)])
    provider = guard(
        inner, ProviderSpec(type="openai", circuit_breaker=CircuitBreakerSpec(failure_threshold=1))
    )
    for _ in range(10):
        with pytest.raises(BadRequest):
            await provider.request(REQUEST)
    assert provider.breaker.state == "closed"


async def test_guard_timeout_is_a_counted_provider_timeout():
    inner = ScriptedProvider(delay=5.0)
    provider = guard(
        inner, ProviderSpec(type="openai", circuit_breaker=CircuitBreakerSpec(failure_threshold=1))
    )
    with pytest.raises(ProviderTimeout, match="step timeout"):
        await provider.request(REQUEST, timeout=0.05)
    assert provider.breaker.state == "open"


async def test_guard_caps_concurrency():
    inner = ScriptedProvider(delay=0.01)
    provider = guard(inner, ProviderSpec(type="openai", max_concurrency=3))
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(provider.request, REQUEST)
    assert (inner.calls, inner.peak) == (20, 3)


async def test_guard_429s_narrow_the_window_and_leave_the_breaker_closed():
    """A burst of 429s is backpressure: the breaker (threshold 1 here) stays closed, the window
    halves once for the burst, and later calls keep to it."""
    inner = ScriptedProvider(*[RateLimited("429", status=429) for _ in range(6)], delay=0.01)
    spec = ProviderSpec(
        type="openai", max_concurrency=6, circuit_breaker=CircuitBreakerSpec(failure_threshold=1)
    )
    provider = guard(inner, spec)

    async def call() -> None:
        with pytest.raises(RateLimited):
            await provider.request(REQUEST)

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(call)
    assert provider.breaker.state == "closed"
    assert provider.limiter.window.size == 3
    inner.peak = 0
    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(provider.request, REQUEST)
    assert inner.peak <= 5  # 3, then one more per window of successes: 4, 5
    assert provider.limiter.throttling.rate_limited == 6


async def test_guard_without_limits_has_defaults():
    provider = guard(ScriptedProvider())
    assert not provider.limiter.limited
    assert provider.breaker.failure_threshold == 5
    assert provider.breaker.recovery_timeout == 30.0
    assert (await provider.request(REQUEST)).text == "ok"


def test_guard_builds_rate_buckets():
    spec = ProviderSpec(type="openai", rate_limit=RateLimitSpec(tokens_per_minute=1000))
    provider = guard(ScriptedProvider(), spec)
    assert provider.limiter.tokens is not None
    assert provider.limiter.requests is None
