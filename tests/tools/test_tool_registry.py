"""Building tools from the workflow's definitions, and what every tool shares (base.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agnoctl.errors import UsageError
from agnoctl.providers.base import ToolSpec
from agnoctl.spec.models import Workflow
from agnoctl.tools.base import BaseTool, ToolResult, cut
from agnoctl.tools.command import CommandTool
from agnoctl.tools.http_get import HttpGetTool
from agnoctl.tools.read_file import ReadFileTool
from agnoctl.tools.registry import build_tools

pytestmark = pytest.mark.anyio


def workflow_tools(tools: dict[str, Any]) -> Workflow:
    return Workflow.model_validate(
        {"version": 1, "name": "t", "tools": tools, "steps": {"s": {"run": ["true"]}}}
    )


def test_each_kind_is_built_with_the_spec_the_model_sees() -> None:
    workflow = workflow_tools(
        {
            "grep_notes": {
                "description": "Search the notes.",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                "run": ["grep", "-ri", "{{ args.q }}", "notes/"],
            },
            "fetch_page": {"type": "http_get", "allow_hosts": ["en.wikipedia.org"]},
            "notes": {"type": "read_file", "root": "notes"},
        }
    )
    tools = build_tools(workflow.tools)
    assert isinstance(tools["grep_notes"], CommandTool)
    assert isinstance(tools["fetch_page"], HttpGetTool)
    assert isinstance(tools["notes"], ReadFileTool)
    assert tools["grep_notes"].spec == ToolSpec(
        "grep_notes",
        "Search the notes.",
        {"type": "object", "properties": {"q": {"type": "string"}}},
    )
    fetch = tools["fetch_page"].spec
    assert fetch.name == "fetch_page"
    assert fetch.parameters["required"] == ["url"]
    assert fetch.parameters["properties"]["url"]["type"] == "string"
    assert "en.wikipedia.org" in fetch.description
    notes = tools["notes"].spec
    assert notes.parameters["required"] == ["path"]
    assert notes.parameters["properties"]["path"]["type"] == "string"


async def test_http_get_tools_get_the_run_client() -> None:
    handed_out: list[httpx.AsyncClient] = []

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"mocked {request.url.host}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:

        def factory() -> httpx.AsyncClient:
            handed_out.append(client)
            return client

        workflow = workflow_tools({"web": {"type": "http_get", "allow_hosts": ["example.org"]}})
        tools = build_tools(workflow.tools, http_client=factory)
        result = await tools["web"].call({"url": "https://example.org/page"})
    assert result == ToolResult(True, "mocked example.org")
    assert handed_out == [client]


def test_parameters_that_are_not_a_json_schema_are_a_clear_error() -> None:
    workflow = workflow_tools({"bad": {"parameters": {"type": "objekt"}, "run": ["true"]}})
    with pytest.raises(UsageError, match=r"tool 'bad': `parameters` is not a valid JSON Schema"):
        build_tools(workflow.tools)


class Fixed(BaseTool):
    def __init__(self, text: str, max_chars: int) -> None:
        super().__init__(ToolSpec("fixed", "", {"type": "object"}), max_chars)
        self._text = text

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(False, self._text)


async def test_every_result_is_capped_failures_included() -> None:
    result = await Fixed("e" * 30, 10).call({})
    assert result == ToolResult(
        False, "e" * 10 + "\n[truncated: 10 characters shown of 30 characters]", True
    )
    short = await Fixed("short", 10).call({})
    assert short == ToolResult(False, "short", False)


def test_cut_describes_a_whole_it_did_not_see() -> None:
    assert cut("abc", 5) == ("abc", False)
    assert cut("abc", 5, total="a 9000-byte file") == (
        "abc\n[truncated: 3 characters shown of a 9000-byte file]",
        True,
    )
