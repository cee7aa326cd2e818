"""The MCP client's parts without a server: results as the model sees them, the static
definition (cache keys: no secret), allow patterns, one agent's toolbox (replay from recorded
results, --cache-only misses, two tools of one name), the tool loop's handling of a server
failure, and the cache's record of tool results."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp.types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)
from mcp.types import Tool as SdkTool

from agnoctl import redact
from agnoctl.cache import ResponseCache, request_key, tool_result_key
from agnoctl.engine.toolbox import _Recorded
from agnoctl.errors import CacheMiss, StepFailed, ToolServerFailed
from agnoctl.providers.base import Attachment, Message, ModelReply, ModelRequest, ToolCall
from agnoctl.redact import Redactor
from agnoctl.spec.models import McpToolSpec
from agnoctl.tools.base import ToolResult
from agnoctl.tools.loop import run_tool_loop
from agnoctl.tools.mcp import (
    McpEntry,
    McpServers,
    McpTool,
    McpToolbox,
    _capped,
    _result,
    admits,
    definition,
)
from tests.mcp.mcp_server import tiny_png

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _spec(**fields: Any) -> McpToolSpec:
    return McpToolSpec.model_validate({"type": "mcp", "command": ["srv"], **fields})


def test_text_blocks_are_joined_and_structured_content_stands_in_for_none() -> None:
    two = CallToolResult(
        content=[TextContent(type="text", text="a"), TextContent(type="text", text="b")]
    )
    assert _result(two, "fs.read") == ToolResult(True, "a\nb")
    structured = CallToolResult(content=[], structured_content={"n": 1})
    assert _result(structured, "fs.read") == ToolResult(True, '{"n": 1}')
    assert _result(CallToolResult(content=[]), "fs.read") == ToolResult(True, "(no output)")


def test_images_and_resources_are_described_and_errors_are_failed_results() -> None:
    image = ImageContent(type="image", data="AAECAw==", mime_type="image/png")
    resource = EmbeddedResource(
        type="resource", resource=TextResourceContents(uri="file:///a.txt", text="inside")
    )
    both = CallToolResult(content=[image, resource])
    assert _result(both, "fs.read").text == "[image: image/png, 4 bytes]\ninside"
    error = CallToolResult(content=[TextContent(type="text", text="no such file")], is_error=True)
    assert _result(error, "fs.read") == ToolResult(False, "failed: no such file")


def test_the_definition_holds_no_header_value_and_no_secret_env_value() -> None:
    spec = McpToolSpec.model_validate(
        {
            "type": "mcp",
            "url": "https://example.com/mcp",
            "headers": {"Authorization": "Bearer tok-123456"},
        }
    )
    assert "tok-123456" not in str(definition("remote", spec))
    assert definition("remote", spec)["headers"] == ["Authorization"]
    stdio = _spec(env={"GITHUB_TOKEN": "ghp-abcdef123", "ROOT": "/srv"})
    assert definition("gh", stdio)["env"] == {"GITHUB_TOKEN": "***", "ROOT": "/srv"}
    with redact.masking(Redactor(["/srv-secret-dir"])):
        assert "/srv-secret-dir" not in str(
            definition("gh", _spec(cwd=None, env={"D": "/srv-secret-dir"}))
        )


def test_allow_takes_names_and_globs() -> None:
    spec = _spec(allow=["read_*", "list_directory"])
    assert admits(spec, "read_file") and admits(spec, "list_directory")
    assert not admits(spec, "write_file")
    assert admits(_spec(), "anything")


class _Servers:
    """Stands in for McpServers: fixed tools, and a count of the calls that reached it."""

    def __init__(self, entry: McpEntry, names: list[str]) -> None:
        self.tools_of = tuple(
            McpTool(entry, SdkTool(name=name, input_schema={"type": "object"}), self)  # type: ignore[arg-type]
            for name in names
        )
        self.calls: list[str] = []
        self.listed = 0

    async def tools(self, entry: McpEntry) -> tuple[McpTool, ...]:
        self.listed += 1
        return self.tools_of

    async def call(self, entry: McpEntry, tool: str, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append(tool)
        return ToolResult(True, f"live {tool}")


class _Store:
    def __init__(self, offline: bool = False) -> None:
        self.results: dict[tuple[str, str], ToolResult] = {}
        self.offline = offline

    def get(self, entry: McpEntry, tool: str, arguments: dict[str, Any]) -> ToolResult | None:
        return self.results.get((entry.name, tool))

    def put(
        self, entry: McpEntry, tool: str, arguments: dict[str, Any], result: ToolResult
    ) -> None:
        self.results[(entry.name, tool)] = result

    def missing(self, tool: str) -> Exception | None:
        return CacheMiss(f"no recorded result of {tool}") if self.offline else None


def _box(store: _Store, declared: tuple[str, ...] = ()) -> tuple[McpToolbox, _Servers]:
    entry = McpEntry("fs", _spec(), "wf.yaml:7")
    servers = _Servers(entry, ["read", "list"])
    box = McpToolbox(servers, [entry], agent="a", declared=declared, store=store)  # type: ignore[arg-type]
    return box, servers


async def test_a_live_call_is_recorded_and_a_replayed_one_needs_no_server() -> None:
    store = _Store()
    box, _ = _box(store)
    assert await box.call(ToolCall("1", "read", {}), replayed=False) == ToolResult(
        True, "live read"
    )
    fresh, fresh_servers = _box(store)
    assert await fresh.call(ToolCall("1", "read", {}), replayed=True) == ToolResult(
        True, "live read"
    )
    assert fresh_servers.listed == 0 and fresh_servers.calls == []
    refused = await fresh.call(ToolCall("2", "nope", {}), replayed=False)
    assert refused.text == "refused: there is no tool named 'nope'; available tools: list, read"
    assert await fresh.call(ToolCall("2", "nope", {}), replayed=True) == refused


async def test_cache_only_fails_on_a_result_never_recorded() -> None:
    box, servers = _box(_Store(offline=True))
    with pytest.raises(CacheMiss, match="no recorded result of read"):
        await box.call(ToolCall("1", "read", {}), replayed=True)
    assert servers.listed == 0


async def test_a_server_tool_named_like_a_declared_tool_is_an_error() -> None:
    box, _ = _box(_Store(), declared=("read",))
    with pytest.raises(StepFailed, match=r"two tools named `read`.*`fs` \(wf.yaml:7\)"):
        await box.specs()


async def test_the_loop_fails_the_attempt_when_a_server_fails() -> None:
    class Failing:
        async def call(self, call: ToolCall, *, replayed: bool) -> ToolResult:
            raise ToolServerFailed("gone", kind="tool_server", retryable=True)

    class Watch:
        def called(self, call: ToolCall) -> None: ...

        def answered(self, *args: Any) -> None: ...

    async def model(messages: tuple[Message, ...]) -> ModelReply:
        return ModelReply("", tool_calls=(ToolCall("1", "read", {}),))

    with pytest.raises(ToolServerFailed, match="gone"):
        await run_tool_loop(
            model, (Message("user", "hi"),), {}, max_tool_calls=3, watch=Watch(), more=Failing()
        )


def test_the_cache_records_tool_results_but_none_holding_a_secret(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache", redact=Redactor(["sk-secret-123"]).redact)
    key = tool_result_key({"name": "fs"}, "read", {"path": "a"})
    assert key != tool_result_key({"name": "fs"}, "read", {"path": "b"})
    cache.put_tool_result(key, True, "contents", False)
    assert cache.get_tool_result(key) == (True, "contents", False, ())
    other = tool_result_key({"name": "fs"}, "read", {"path": "c"})
    cache.put_tool_result(other, True, "leaks sk-secret-123", False)
    assert cache.get_tool_result(other) is None
    cache.close()


async def test_without_the_sdk_a_server_start_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mcp" else real(name, *a)
    )
    entry = McpEntry("fs", _spec(), "wf.yaml:7")
    async with McpServers() as servers:
        with pytest.raises(ToolServerFailed) as caught:
            await servers.tools(entry)
    assert "MCP tool `fs` (wf.yaml:7) needs the MCP SDK" in str(caught.value)
    assert "pip install -e '.[mcp]'" in str(caught.value)
    assert not caught.value.retryable


def test_a_rotated_header_token_keeps_the_runs_fingerprints() -> None:
    from agnoctl.engine.resume import Fingerprints
    from agnoctl.spec.models import Workflow

    def workflow(token: str) -> Workflow:
        return Workflow.model_validate(
            {
                "version": 1,
                "name": "w",
                "agents": {"a": {"model": "mock/echo", "tools": ["remote"]}},
                "tools": {
                    "remote": {
                        "type": "mcp",
                        "url": "https://example.com/mcp",
                        "headers": {"Authorization": f"Bearer {token}"},
                    }
                },
                "steps": {"s": {"agent": "a", "prompt": "hi"}},
            }
        )

    old, new = Fingerprints(workflow("token-one-123")), Fingerprints(workflow("token-two-456"))
    assert old.run({}) == new.run({})


async def test_a_json_rpc_error_is_the_servers_answer_and_a_closed_connection_a_failure() -> None:
    import anyio
    from mcp.shared.exceptions import MCPError

    from agnoctl.tools.mcp import _Connection

    class Client:
        def __init__(self, error: MCPError) -> None:
            self.error = error

        async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
            raise self.error

    entry = McpEntry("fs", _spec(), "wf.yaml:7")
    async with McpServers() as servers:
        said_no = _Connection(Client(MCPError(-32602, "unknown argument")), (), anyio.Event(), None)  # type: ignore[arg-type]
        servers._live[entry.key] = said_no
        result = await servers.call(entry, "read", {})
        assert result == ToolResult(False, "failed: the server refused the call: unknown argument")
        assert said_no.alive
        gone = _Connection(Client(MCPError(-32000, "Connection closed")), (), anyio.Event(), None)  # type: ignore[arg-type]
        servers._live[entry.key] = gone
        with pytest.raises(ToolServerFailed, match="failed during a call of `read`: Connection"):
            await servers.call(entry, "read", {})
        assert not gone.alive and gone.stop.is_set()


def test_tools_list_prints_each_agents_declared_tools(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agnoctl.cli import app

    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: w\n"
        "agents:\n  a: {model: mock/echo, tools: [notes]}\n  b: {model: mock/echo}\n"
        "tools:\n  notes: {type: read_file, root: ., description: Read a note.}\n"
        "steps:\n  s: {agent: a, prompt: hi}\n  t: {agent: b, prompt: hi}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["tools", "list", str(tmp_path / "wf.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout == "a: 1 tool(s)\n  notes (read_file): Read a note.\nb: 0 tool(s)\n"


async def test_calls_that_wait_on_a_failing_start_share_its_failure() -> None:
    import anyio

    entry = McpEntry("fs", _spec(command=["no-such-mcp-server-4711"]), "wf.yaml:7")
    failures: list[str] = []

    async def need() -> None:
        with pytest.raises(ToolServerFailed) as caught:
            await servers.tools(entry)
        failures.append(caught.value.message)

    async with McpServers() as servers:
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(need)
        assert servers.started == 1  # one start for the five that waited on it
        assert len(failures) == 5 and len(set(failures)) == 1
        with pytest.raises(StepFailed):  # a later attempt tries again
            await servers.tools(entry)
        assert servers.started == 2


PNG = tiny_png()


def _png_block() -> ImageContent:
    return ImageContent(type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png")


def test_an_image_block_becomes_an_attachment_named_by_entry_tool_and_place() -> None:
    caption = TextContent(type="text", text="a red pixel")
    result = _result(CallToolResult(content=[caption, _png_block(), _png_block()]), "fs.read")
    assert result.text == "a red pixel"
    assert [a.name for a in result.attachments] == ["fs.read#1.png", "fs.read#2.png"]
    image = result.attachments[0]
    assert (image.media_type, image.size) == ("image/png", len(PNG))
    assert image.sha256 == hashlib.sha256(PNG).hexdigest()
    assert base64.b64decode(image.data_base64) == PNG
    alone = _result(CallToolResult(content=[_png_block()]), "fs.read")
    assert alone.text == "" and len(alone.attachments) == 1  # no "(no output)" beside it


def test_an_image_over_the_agents_cap_is_described_instead() -> None:
    result = _result(CallToolResult(content=[_png_block()]), "fs.read")
    assert _capped(result, len(PNG)) is result
    capped = _capped(result, len(PNG) - 1)
    assert capped.attachments == ()
    assert capped.text.startswith(f"[image: image/png, {len(PNG)} bytes] (not sent: over")


def test_a_recorded_image_replays_whole_and_keys_name_it(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache", redact=Redactor(["sk-secret-123"]).redact)
    recorded = _Recorded(cache, "use", "shots")
    entry = McpEntry("fs", _spec(), "wf.yaml:7")
    live = _result(CallToolResult(content=[_png_block()]), "fs.read")
    recorded.put(entry, "read", {"path": "a"}, live)
    assert recorded.get(entry, "read", {"path": "a"}) == live
    # A model call's key names a tool message's images by media type and SHA-256 (as a
    # user message's attachments), never their bytes.
    tool = Message("tool", "", tool_call_id="1", tool_name="read", attachments=live.attachments)
    other = Attachment("x.png", "image/png", live.attachments[0].data_base64, sha256="0" * 64)
    request = ModelRequest(model="m", messages=(Message("user", "hi"), tool))
    changed = replace(request, messages=(request.messages[0], replace(tool, attachments=(other,))))
    assert request_key("p", "u", request) != request_key("p", "u", changed)
    cache.close()


async def test_a_missing_cwd_is_named_not_the_program(tmp_path: Path) -> None:
    import sys

    cwd = str(tmp_path / "no-such-dir")
    entry = McpEntry("fs", _spec(command=[sys.executable], cwd=cwd), "wf.yaml:7")
    async with McpServers() as servers:
        with pytest.raises(ToolServerFailed) as caught:
            await servers.tools(entry)
    assert f"its `cwd` {cwd!r} is not a directory" in caught.value.message
    assert "was not found" not in caught.value.message
    assert not caught.value.retryable


def test_tools_list_raises_a_failure_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from agnoctl.tools import listing

    async def full_disk(workflow: Any, file: Path) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(listing, "_list", full_disk)
    with pytest.raises(OSError, match="No space left"):  # the CLI's one line, not a group
        listing.list_tools(None, Path("wf.yaml"))  # type: ignore[arg-type]


async def test_a_start_cut_short_closes_the_servers_stderr_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import tempfile

    import anyio

    made: list[Any] = []
    real = tempfile.TemporaryFile

    def recorded() -> Any:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(tempfile, "TemporaryFile", recorded)
    # A server that never answers its handshake, and ends when its stdin closes.
    silent = _spec(command=[sys.executable, "-c", "import sys; sys.stdin.read()"])
    async with McpServers() as servers:
        with anyio.move_on_after(0.5):  # the run cancelled while the server starts
            await servers.tools(McpEntry("silent", silent, "wf.yaml:7"))
    assert made and all(file.closed for file in made)


@pytest.mark.parametrize("url", ["http://[::1/mcp", "http://example.com:99999/mcp"])
def test_a_url_python_cannot_split_is_e451_not_a_traceback(url: str) -> None:
    from agnoctl.spec.mcp_checks import check_mcp_tool

    spec = McpToolSpec.model_validate({"type": "mcp", "url": url})
    assert [finding.code for finding in check_mcp_tool("remote", spec)] == ["E451"]


def test_an_env_value_named_like_a_secret_is_one_of_the_runs_secrets() -> None:
    from agnoctl.session import mcp_secret_values
    from agnoctl.spec.models import Workflow

    workflow = Workflow.model_validate(
        {
            "version": 1,
            "name": "w",
            "agents": {"a": {"model": "mock/echo", "tools": ["gh"]}},
            "tools": {
                "gh": {
                    "type": "mcp",
                    "command": ["srv"],
                    "env": {"GITHUB_TOKEN": "ghp-literal-0123456789", "ROOT": "/srv"},
                }
            },
            "steps": {"s": {"agent": "a", "prompt": "hi"}},
        }
    )
    # Masked wherever a server's stderr line or answer would quote it, as its cache key is.
    assert mcp_secret_values(workflow) == ["ghp-literal-0123456789"]
