"""Fixtures of the approval tests: the fake LLM server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMThread]:
    """A fake OpenAI-compatible server on loopback."""
    with FakeLLMThread(FakeLLMConfig(latency_ms=5, api_key="sk-approval-test")) as server:
        yield server
