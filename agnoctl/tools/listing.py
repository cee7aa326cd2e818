"""`agnoctl tools list`: the tools each agent of a workflow would see, its MCP servers started
to list theirs (declared tools too), with their descriptions."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio

from agnoctl import redact
from agnoctl.spec.models import Workflow
from agnoctl.tools.mcp import McpServers, McpToolbox, entries_of, interrupt_servers, locator
from agnoctl.tools.registry import build_tools


@dataclass(frozen=True, slots=True)
class ListedTool:
    name: str
    description: str
    source: str  # the `tools` entry it comes from (an MCP entry lists many)
    kind: str  # command, http_get, read_file or mcp


def list_tools(workflow: Workflow, file: Path) -> dict[str, list[ListedTool]] | None:
    """Per agent (in the file's order), the tools it would see; None when SIGINT, SIGTERM or
    SIGHUP stopped it, as they stop a run (its servers closed, one being started too). Raises
    StepFailed (a server that cannot start or list its tools, two tools of one name) naming
    the entry."""
    outcome = anyio.run(_until_stopped, workflow, file)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def _until_stopped(
    workflow: Workflow, file: Path
) -> dict[str, list[ListedTool]] | Exception | None:
    # The signal cancels the listing's scope itself: asyncio's own SIGINT handling cancels
    # the main task, which a server's start does not pass on, so Ctrl-C would wait out its
    # startup_timeout and then be lost.
    outcome: dict[str, list[ListedTool]] | Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_cancel_on_signal, group.cancel_scope)
        try:
            outcome = await _list(workflow, file)
        except Exception as exc:  # raised as it is, not in the task group's ExceptionGroup
            outcome = exc
        group.cancel_scope.cancel()
    return outcome


async def _cancel_on_signal(scope: anyio.CancelScope) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only: a caller elsewhere handles them
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for _ in signals:
            scope.cancel()
            interrupt_servers()
            return


async def _list(workflow: Workflow, file: Path) -> dict[str, list[ListedTool]]:
    declared = build_tools(workflow.tools)
    where = locator(file)
    # A description may hold a secret: one a `${VAR}` put there, or one a server wrote.
    masked = redact.active().redact
    listed: dict[str, list[ListedTool]] = {}
    async with McpServers() as servers:
        for name, agent in workflow.agents.items():
            tools = [
                ListedTool(
                    tool, masked(declared[tool].spec.description), tool, workflow.tools[tool].type
                )
                for tool in agent.tools
                if tool in declared
            ]
            entries = entries_of(workflow.tools, agent.tools, where)
            if entries:
                box = McpToolbox(
                    servers, entries, agent=name, declared=declared.keys() & set(agent.tools)
                )
                for spec, entry in await box.sources():
                    tools.append(ListedTool(spec.name, masked(spec.description), entry, "mcp"))
            listed[name] = tools
    return listed
