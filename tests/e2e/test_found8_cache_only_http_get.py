"""``--cache-only`` runs offline, ``http_get`` tools included, through the real CLI.

Found by replaying a cached conversation whose reply asked for an ``http_get`` call: the model
calls came from the cache, but the tool fetched its URL live (an offline run reaching the
network; nothing records such a tool's results, unlike an MCP server's). The call now fails
the step as a cache miss naming the step and the tool, and nothing is fetched.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc


@pytest.fixture(scope="module")
def offline(e2e: E2E) -> E2ERun:
    call = json.dumps({"url": f"{e2e.url}/page"})
    doc = workflow_doc(
        "offline-http-get",
        providers={"p": e2e.provider()},
        agents={"reader": {"model": "p/m", "tools": ["web"]}},
        steps={"read": {"agent": "reader", "prompt": f"Read it. [[tool:web:{call}]]"}},
    ) | {"tools": {"web": {"type": "http_get", "allow_hosts": ["127.0.0.1"]}}}
    filled = e2e.run(doc)
    assert filled.exit_code == 0, filled.proc.stdout + filled.proc.stderr
    assert len(filled.events_of("tool_result", "read")) == 1  # the GET ran, online
    return e2e.run(doc, "--cache-only")


def test_an_http_get_call_fails_the_step_naming_the_tool(offline: E2ERun) -> None:
    assert offline.exit_code == 1
    error = offline.step("read")["error"]
    assert error["kind"] == "cache_miss"
    assert "http_get tool `web`" in error["message"], error
    assert "--cache-only" in error["message"], error


def test_nothing_is_fetched(offline: E2ERun) -> None:
    assert offline.events_of("tool_result", "read") == []
    assert offline.stats["requests"] == 0
