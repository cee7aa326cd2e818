"""Hostile-input tests: the real CLI against the project's fake LLM server, as in tests/e2e."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from agnoctl.testing.fake_llm import FakeLLMThread, start_in_thread
from tests.e2e.conftest import e2e, fake_server

__all__ = ["e2e", "fake_server"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMThread]:
    """A fake LLM server for the response-cache tests of one module."""
    with start_in_thread() as running:
        yield running


@pytest.fixture
def project(tmp_path: Path, server: FakeLLMThread) -> Path:
    """A folder holding a one-call workflow against ``server`` (the response-cache tests)."""
    (tmp_path / "flow.yaml").write_text(
        "version: 1\n"
        "name: cached\n"
        "providers:\n"
        f"  local: {{type: openai, base_url: '{server.url}/v1', api_key: sk-cache-test}}\n"
        "agents:\n"
        "  a: {model: local/m}\n"
        "steps:\n"
        "  ask: {agent: a, prompt: what is cached}\n",
        encoding="utf-8",
    )
    return tmp_path
