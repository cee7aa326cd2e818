"""Fixtures of the resume tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from resume_helpers import API_KEY

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMThread]:
    """A fake OpenAI-compatible server on loopback that requires API_KEY."""
    with FakeLLMThread(FakeLLMConfig(latency_ms=5, api_key=API_KEY)) as server:
        yield server
