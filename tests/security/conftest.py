"""Hostile-input tests: the real CLI against the project's fake LLM server, as in tests/e2e."""

from tests.e2e.conftest import e2e, fake_server

__all__ = ["e2e", "fake_server"]
