"""Fixtures of the provider tests: the project's fake LLM server on loopback, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from agnoctl.providers.http import HttpClient, Timeouts
from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, start_in_thread

# Short enough that a [[hang]] test takes a fraction of a second.
CLIENT_TIMEOUT = Timeouts(connect=5.0, read=0.3)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMThread]:
    with start_in_thread() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMThread) -> Iterator[FakeLLMThread]:
    """The session's fake server with fresh counters and default behaviour; left idle, so
    that no handler of one test ends in the next one's counts (a reply refused past its size
    cap leaves its handler writing the rest after the call has failed)."""
    fake_llm_server.server.config = FakeLLMConfig()
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.wait_idle(10)  # a bound on a broken test, not a measurement


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    # trust_env=False: a proxy configured in the environment must not see loopback traffic.
    client = HttpClient(max_connections=64, timeout=CLIENT_TIMEOUT, trust_env=False)
    yield client
    await client.aclose()
