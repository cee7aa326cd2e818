"""An agent task's MCP tools: its entries, the run's servers, and the recorded results.

The servers are the run's (``Runtime.mcp``); what this module adds is the step's view of the
response cache: a tool result is recorded under the entry's static definition, the tool and
its arguments, and a call that a cached reply asked for is answered from there, so a cached
conversation replays with no server. `cache: false` (step, agent, defaults) records nothing;
``--cache-only`` fails on a result that was never recorded, naming the step and the tool.

An ``http_get`` tool's results are not recorded (a page is fetched afresh each time), so
under ``--cache-only``, which runs offline, its call fails the step naming the tool rather
than reach the network (``offline_tools``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agnoctl.cache import CacheMode, ResponseCache, tool_result_key
from agnoctl.errors import CacheMiss
from agnoctl.spec.attachments import DEFAULT_MAX_BYTES
from agnoctl.tools.base import Tool, ToolResult

if TYPE_CHECKING:
    from agnoctl.engine.runtime import Runtime
    from agnoctl.engine.steps import Task
    from agnoctl.providers.base import CallContext, ToolSpec
    from agnoctl.spec.models import AgentSpec
    from agnoctl.tools.mcp import McpEntry, McpToolbox


def mcp_toolbox(
    rt: Runtime, task: Task, agent_name: str, agent: AgentSpec, context: CallContext
) -> McpToolbox | None:
    """The MCP tools ``agent`` sees in ``task``, or None when it lists no MCP entry."""
    servers = rt.mcp
    if servers is None:
        return None
    from agnoctl.tools.mcp import McpToolbox, entries_of, locator

    workflow = rt.workflow
    # A sub-workflow knows its file; the run's own is the one it was given.
    where = locator(workflow.file or rt.workflow_file)
    entries = entries_of(workflow.tools, agent.tools, where)
    if not entries:
        return None
    store = None
    mode = rt.cache_mode_of(task.step_path, context)
    if rt.cache is not None and mode != "off":
        store = _Recorded(rt.cache, mode, task.where)
    declared = [name for name in agent.tools if name not in {e.name for e in entries}]
    return McpToolbox(
        servers,
        entries,
        agent=agent_name,
        declared=declared,
        store=store,
        max_image_bytes=agent.max_attachment_bytes or DEFAULT_MAX_BYTES,
    )


def offline_tools(rt: Runtime, task: Task, tools: dict[str, Tool]) -> dict[str, Tool]:
    """``tools``, each ``http_get`` one failing its call under ``--cache-only``: that mode runs
    offline, and nothing recorded its results (a cached reply asking for one still replays)."""
    if rt.cache_mode != "only":
        return tools
    from agnoctl.spec.models import HttpGetToolSpec

    definitions = rt.workflow.tools
    return {
        name: _Offline(tool.name, tool.spec, task.where)
        if isinstance(definitions.get(name), HttpGetToolSpec)
        else tool
        for name, tool in tools.items()
    }


@dataclass(slots=True)
class _Offline:
    """An ``http_get`` tool under ``--cache-only``: its call raises ``CacheMiss``."""

    name: str
    spec: ToolSpec  # the tool's own: the model is offered what it was offered online
    where: str  # the step (and item)

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        raise CacheMiss(
            f"step '{self.where}' calls the http_get tool `{self.name}`, which fetches "
            "from the network, and --cache-only is set: nothing is fetched offline (run "
            "without --cache-only)"
        )


@dataclass(frozen=True, slots=True)
class _Recorded:
    """MCP tool results in the response cache, as one step uses it."""

    cache: ResponseCache
    mode: CacheMode  # "use" or "only"
    where: str  # the step (and item), for a miss's message

    def get(self, entry: McpEntry, tool: str, arguments: dict[str, Any]) -> ToolResult | None:
        found = self.cache.get_tool_result(tool_result_key(entry.definition, tool, arguments))
        return None if found is None else ToolResult(*found)

    def put(
        self, entry: McpEntry, tool: str, arguments: dict[str, Any], result: ToolResult
    ) -> None:
        if self.mode == "use":
            key = tool_result_key(entry.definition, tool, arguments)
            self.cache.put_tool_result(
                key, result.ok, result.text, result.truncated, result.attachments
            )

    def missing(self, tool: str) -> Exception | None:
        if self.mode != "only":
            return None  # the tool is called live, and its result recorded
        return CacheMiss(
            f"no recorded result of the MCP tool `{tool}` for step {self.where} and "
            "--cache-only is set (run once without --cache-only to fill the cache)"
        )
