"""`agnoctl tools list`: the tools each agent of a workflow would see, its MCP servers started
to list theirs (declared tools too), with their descriptions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio

from agnoctl.spec.models import Workflow
from agnoctl.tools.mcp import McpServers, McpToolbox, entries_of, locator
from agnoctl.tools.registry import build_tools


@dataclass(frozen=True, slots=True)
class ListedTool:
    name: str
    description: str
    source: str  # the `tools` entry it comes from (an MCP entry lists many)
    kind: str  # command, http_get, read_file or mcp


def list_tools(workflow: Workflow, file: Path) -> dict[str, list[ListedTool]]:
    """Per agent (in the file's order), the tools it would see. Raises StepFailed (a server
    that cannot start or list its tools, two tools of one name) naming the entry."""
    return anyio.run(_list, workflow, file)


async def _list(workflow: Workflow, file: Path) -> dict[str, list[ListedTool]]:
    declared = build_tools(workflow.tools)
    where = locator(file)
    listed: dict[str, list[ListedTool]] = {}
    async with McpServers() as servers:
        for name, agent in workflow.agents.items():
            tools = [
                ListedTool(tool, declared[tool].spec.description, tool, workflow.tools[tool].type)
                for tool in agent.tools
                if tool in declared
            ]
            entries = entries_of(workflow.tools, agent.tools, where)
            if entries:
                box = McpToolbox(
                    servers, entries, agent=name, declared=declared.keys() & set(agent.tools)
                )
                for spec, entry in await box.sources():
                    tools.append(ListedTool(spec.name, spec.description, entry, "mcp"))
            listed[name] = tools
    return listed
