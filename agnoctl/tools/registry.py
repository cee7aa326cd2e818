"""Tools built from the workflow's ``tools`` definitions, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from agnoctl.spec.models import CommandToolSpec, McpToolSpec, ReadFileToolSpec, ToolDef
from agnoctl.tools.base import Tool
from agnoctl.tools.command import CommandTool
from agnoctl.tools.executor import LOCAL, Executor
from agnoctl.tools.read_file import ReadFileTool

if TYPE_CHECKING:
    import httpx


def build_tools(
    tools: Mapping[str, ToolDef],
    *,
    http_client: Callable[[], httpx.AsyncClient] | None = None,
    executor: Executor = LOCAL,
) -> dict[str, Tool]:
    """One tool per definition (MCP entries aside); ``http_client`` returns the run's shared
    client for http_get; command tools run their programs on ``executor``.

    Raises UsageError when a command tool's ``parameters`` is not a valid JSON Schema.
    """
    built: dict[str, Tool] = {}
    for name, definition in tools.items():
        if isinstance(definition, McpToolSpec):
            continue  # a server's tools, listed when needed: agnoctl.tools.mcp
        if isinstance(definition, CommandToolSpec):
            built[name] = CommandTool(name, definition, executor=executor)
        elif isinstance(definition, ReadFileToolSpec):
            built[name] = ReadFileTool(name, definition)
        else:
            # httpx is imported only when a workflow has an http_get tool.
            from agnoctl.tools.http_get import HttpGetTool

            built[name] = HttpGetTool(name, definition, client=http_client)
    return built
