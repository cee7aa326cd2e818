"""An agent with an MCP server and a declared tool of the same name fails its step
(`tool_conflict`, docs/mcp.md) when the servers are listed for a model request. On the mock
provider no request lists them, so a call of that name went to the declared tool and a
`--mock` rehearsal passed where the real run fails. A live call of a declared tool now lists
the agent's servers first (once: the listing is kept); a replayed one still needs none."""

from __future__ import annotations

from typing import Any

import pytest

from agnoctl.errors import StepFailed
from agnoctl.providers.base import Message, ModelReply, ToolCall
from agnoctl.tools.base import ToolResult
from agnoctl.tools.loop import run_tool_loop
from agnoctl.tools.mcp import McpEntry, McpToolbox
from tests.mcp.test_mcp_unit import _Servers, _spec, _Store

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Declared:
    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(True, "declared read")


class _Watch:
    def called(self, call: ToolCall) -> None: ...

    def answered(self, *args: Any) -> None: ...


async def _loop(*, cached: bool) -> _Servers:
    entry = McpEntry("fs", _spec(), "wf.yaml:7")
    servers = _Servers(entry, ["read", "list"])
    box = McpToolbox(servers, [entry], agent="a", declared=("read",), store=_Store())  # type: ignore[arg-type]
    replies = iter([ModelReply("", tool_calls=(ToolCall("1", "read", {}),), cached=cached)])

    async def model(messages: tuple[Message, ...]) -> ModelReply:
        return next(replies, ModelReply("done"))

    tools: dict[str, Any] = {"read": _Declared()}
    await run_tool_loop(
        model, (Message("user", "hi"),), tools, max_tool_calls=3, watch=_Watch(), more=box
    )
    return servers


async def test_a_declared_tool_shadowing_a_server_tool_fails_without_a_listing_request() -> None:
    with pytest.raises(StepFailed, match=r"two tools named `read`.*`fs` \(wf.yaml:7\)") as caught:
        await _loop(cached=False)
    assert caught.value.kind == "tool_conflict"


async def test_a_replayed_call_of_a_declared_tool_starts_no_server() -> None:
    assert (await _loop(cached=True)).listed == 0
