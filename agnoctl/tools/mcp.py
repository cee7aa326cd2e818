"""MCP servers as agent tools, over the official SDK (`mcp`, the `mcp` extra).

A `type: mcp` entry names a server: a program spoken to over stdio (`command`) or a streamable
HTTP endpoint (`url`). An agent that lists the entry sees every tool of the server that
`allow` admits, under the server's own names, and calls them through the tool loop like any
other tool (arguments validated against the tool's inputSchema, per-call timeout, output cap).

Lifecycle: ``McpServers`` holds the run's servers. A server starts when first needed (its tool
list for a model call, or a call to one of its tools), once per run, shared by every step and
item; concurrent calls share its session. Each connection lives in a host task of the
servers' own task group, so whichever step started it, it ends when the run ends, fails, is
interrupted or times out. A stdio server runs in a session of its own: the SDK ends its
process group on close, and the process tag of ``agnoctl.tools.command`` finds what the
server started outside its group (``setsid``) and kills that too. A signal that stops the run
sends the groups SIGTERM at once (``interrupt_servers``), not after the SDK's grace.

Failures are the attempt's, never a result the model sees: a server that cannot start, that
crashes or stops answering fails the step's attempt with ``ToolServerFailed``, retried per the
step's policy when retrying may help (a crashed server is started again for the next attempt).
A tool result with ``isError`` is an ordinary failed result the model sees.

The SDK costs about a second to import, so nothing here imports it until a server starts.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fnmatch
import functools
import hashlib
import json
import logging
import signal
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import anyio
import anyio.abc

from agnoctl import redact
from agnoctl.errors import SpecError, StepFailed, ToolServerFailed, UsageError
from agnoctl.providers.attachments import described
from agnoctl.providers.base import Attachment, ModelRequest, ToolCall, ToolSpec
from agnoctl.redact import SECRET_NAME
from agnoctl.spec.attachments import DEFAULT_MAX_BYTES, IMAGE_TYPES, MEDIA_TYPES, sniff
from agnoctl.spec.loader import load_file
from agnoctl.spec.models import McpToolSpec
from agnoctl.tools.base import BaseTool, ToolResult, failed
from agnoctl.tools.command import end_escaped, kill_tagged, tag_environment
from agnoctl.tools.loop import unknown_tool

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import CallToolResult
    from mcp.types import Tool as SdkTool

INSTALL_HINT = (
    "pip install 'mcp>=2.3' into agnoctl's environment (its `mcp` extra: "
    "pip install -e '.[mcp]' in a checkout of agnoctl)"
)
_STDERR_TAIL = 4096
# A server that dies says why over a few lines (a traceback ends with the error, after the
# frame that raised it): the message quotes that many, bounded as a whole.
_STDERR_LINES = 5
_STDERR_CHARS = 600
_RUNNING: set[str] = set()  # the process tags of the stdio servers running now
_ERROR_LINE_CHARS = 300
_CONNECT_SECONDS = 30.0
_STREAM_READ_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class McpEntry:
    """One `tools.<name>` entry of type mcp, and where the workflow declares it."""

    name: str
    spec: McpToolSpec
    where: str  # "file:line" of the entry, for messages
    definition: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "definition", definition(self.name, self.spec))

    @property
    def key(self) -> str:
        """The entry's static definition as one text: servers are shared by it."""
        return json.dumps(self.definition, sort_keys=True)


def definition(name: str, spec: McpToolSpec) -> dict[str, Any]:
    """What the entry is, for cache keys: known before any server starts, and no secret.

    Header values are credentials (the names stay); an `env` value whose name reads like a
    secret (GITHUB_TOKEN) is masked, as are values the run knows to be secrets.
    """
    mask = redact.active().redact
    env = {
        key: redact.MASK if SECRET_NAME.search(key) else mask(value)
        for key, value in (spec.env or {}).items()
    }
    return {
        "name": name,
        "type": "mcp",
        "command": [mask(part) for part in spec.command] if spec.command else None,
        "url": mask(spec.url) if spec.url else None,
        "cwd": spec.cwd,
        "env": env or None,
        "headers": sorted(spec.headers) if spec.headers else None,
        "allow": spec.allow,
        "max_output_chars": spec.max_output_chars,
    }


def stand_in(entry: McpEntry) -> ToolSpec:
    """What a model call's cache key holds for an MCP entry instead of its live tool list."""
    return ToolSpec(f"mcp:{entry.name}", entry.key, {})


def kill_servers() -> None:
    """SIGKILL every stdio server still running: the process exits now (a second signal)."""
    kill_tagged(_RUNNING)


def interrupt_servers() -> None:
    """SIGTERM every stdio server's process group now (a signal stopped the run). Closing a
    server's stdin asks it to exit, and the SDK sends SIGTERM only after a grace of seconds:
    one busy with a call, or not reading its stdin, held Ctrl-C up that long. The SDK's close
    still follows (stdin closed, SIGKILL for a server that ignores SIGTERM)."""
    kill_tagged(_RUNNING, signal.SIGTERM)


def admits(spec: McpToolSpec, tool: str) -> bool:
    """Whether `allow` lets agents see ``tool`` (no `allow`: every tool)."""
    if spec.allow is None:
        return True
    return any(fnmatch.fnmatchcase(tool, pattern) for pattern in spec.allow)


# --------------------------------------------------------------------------- servers


@dataclass(slots=True)
class _Connection:
    """One running server: its session, its admitted tools, and what ends its host task."""

    client: Client
    tools: tuple[McpTool, ...]
    stop: anyio.Event
    stderr: IO[bytes] | None
    alive: bool = True


class McpServers:
    """The run's MCP servers, by static definition; enter it for the run's lifetime."""

    def __init__(self) -> None:
        self._group: anyio.abc.TaskGroup | None = None
        self._live: dict[str, _Connection] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._failed: dict[str, StepFailed] = {}  # the last failed start, by entry
        self.started = 0  # servers started (restarts included)

    async def __aenter__(self) -> McpServers:
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        group, self._group = self._group, None
        assert group is not None
        for connection in self._live.values():
            connection.stop.set()
        # Closing must finish even when the run is cancelled: shield the group's own scope
        # (a scope around it would break the nesting anyio checks); every host ends on `stop`.
        # The body's own error goes on as it is, never wrapped in the group's.
        group.cancel_scope.shield = True
        await group.__aexit__(None, None, None)
        return None

    async def tools(self, entry: McpEntry) -> tuple[McpTool, ...]:
        """The entry's admitted tools, starting its server if it is not running."""
        return (await self._connection(entry)).tools

    async def call(self, entry: McpEntry, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """Call ``tool`` on the entry's server, within the entry's `timeout`."""
        connection = await self._connection(entry)
        timeout = entry.spec.timeout
        try:
            with anyio.fail_after(timeout):
                result = await connection.client.call_tool(tool, arguments)
        except TimeoutError:
            raise ToolServerFailed(
                f"MCP server `{entry.name}` ({entry.where}): tool `{tool}` did not answer "
                f"within its timeout of {timeout:g}s",
                kind="timeout",
                retryable=True,
            ) from None
        except Exception as exc:
            if _answered(exc):  # the server lives and said no: a failed result the model sees
                return failed(f"the server refused the call: {_describe(exc)}")
            connection.alive = False
            connection.stop.set()  # a broken session: the next call starts the server again
            raise ToolServerFailed(
                f"MCP server `{entry.name}` ({entry.where}) failed during a call of `{tool}`: "
                f"{_describe(exc)}{_stderr_tail(connection.stderr)}",
                kind="tool_server",
                retryable=True,
            ) from None
        return _result(result, f"{entry.name}.{tool}")

    async def _connection(self, entry: McpEntry) -> _Connection:
        key = entry.key
        lock = self._locks.setdefault(key, anyio.Lock())
        known = self._failed.get(key)  # the last failed start this call knows of
        async with lock:  # one start, however many steps need the server at once
            connection = self._live.get(key)
            if connection is not None and connection.alive:
                return connection
            failure = self._failed.get(key)
            if failure is not None and failure is not known:
                # It failed to start while this call waited: a fan-out of a hundred items
                # gets that answer, not a hundred starts one after another. A later attempt
                # (it knows this failure) tries again.
                again = type(failure)(
                    failure.message, kind=failure.kind, retryable=failure.retryable
                )
                raise again from None
            try:
                connection = self._live[key] = await self._start(entry)
            except StepFailed as exc:
                self._failed[key] = exc
                raise
            self._failed.pop(key, None)
            return connection

    async def _start(self, entry: McpEntry) -> _Connection:
        group = self._group
        if group is None:
            raise UsageError("MCP servers are used outside their run (McpServers not entered)")
        _require_sdk(entry)
        self.started += 1
        # The server's stderr, for the last line a failure message quotes; the host task
        # owns (and closes) it once the server has started.
        stderr = tempfile.TemporaryFile() if entry.spec.command else None  # noqa: SIM115
        try:
            with anyio.fail_after(entry.spec.startup_timeout):
                connection: _Connection = await group.start(_host, self, entry, stderr)
        except Exception as exc:
            failure = _start_failure(entry, exc, stderr)
            if stderr is not None:
                stderr.close()
            raise failure from None
        except BaseException:  # cancelled (a signal, the run's timeout) before the host took it
            if stderr is not None:
                stderr.close()
            raise
        return connection


async def _host(
    servers: McpServers,
    entry: McpEntry,
    stderr: IO[bytes] | None,
    *,
    task_status: anyio.abc.TaskStatus[_Connection],
) -> None:
    """Connect, list the tools, hand the connection over, and hold it until told to stop."""
    from mcp import Client

    tag = None
    stop = anyio.Event()
    started = False
    try:
        async with contextlib.AsyncExitStack() as stack:
            if entry.spec.command:
                transport, tag = _stdio(entry, stderr)
                _RUNNING.add(tag)
            else:
                transport = await _http(entry, stack)
            client = await stack.enter_async_context(Client(transport, cache=None))
            tools = await _list_tools(client, entry, servers)
            task_status.started(_Connection(client, tools, stop, stderr))
            started = True
            await stop.wait()
    except Exception:
        # Before it started, start() re-raises this to the step that asked for the server.
        # After, a failed call has told its step; the run's other servers go on.
        if not started:
            raise
    finally:
        if tag is not None:
            with anyio.CancelScope(shield=True):
                await end_escaped(tag)
            _RUNNING.discard(tag)
        if stderr is not None and started:
            stderr.close()


def _stdio(entry: McpEntry, stderr: IO[bytes] | None) -> tuple[Any, str]:
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    _quiet_sdk_logs()
    command = entry.spec.command
    assert command
    # Only the tag is added to what the server gets: the SDK passes HOME, LOGNAME, PATH,
    # SHELL, TERM and USER, and `env` on top; nothing else of agnoctl's environment (its keys).
    tagged, tag = tag_environment({})
    params = StdioServerParameters(
        command=command[0],
        args=list(command[1:]),
        env={**(entry.spec.env or {}), **tagged},
        cwd=entry.spec.cwd,
    )
    return stdio_client(params, errlog=stderr), tag  # type: ignore[arg-type]


async def _http(entry: McpEntry, stack: contextlib.AsyncExitStack) -> Any:
    """The streamable HTTP transport, over an HTTP client that ``stack`` closes (the SDK
    closes only a client it made, and that one cannot carry the entry's headers)."""
    import httpx2  # the SDK's own HTTP client library
    from mcp.client.streamable_http import streamable_http_client

    _quiet_sdk_logs()
    assert entry.spec.url
    # The SDK's defaults: a server may hold a reply's event stream open for minutes, and
    # redirects stay off (its transport follows those within the endpoint's origin itself).
    http = httpx2.AsyncClient(
        headers=dict(entry.spec.headers or {}),
        timeout=httpx2.Timeout(_CONNECT_SECONDS, read=_STREAM_READ_SECONDS),
    )
    client = await stack.enter_async_context(http)
    return streamable_http_client(entry.spec.url, http_client=client)


async def _list_tools(client: Client, entry: McpEntry, servers: McpServers) -> tuple[McpTool, ...]:
    """Every page of tools/list, as tools, keeping those `allow` admits."""
    found: list[SdkTool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        found.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tuple(McpTool(entry, tool, servers) for tool in found if admits(entry.spec, tool.name))


def _require_sdk(entry: McpEntry) -> None:
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        raise ToolServerFailed(
            f"MCP tool `{entry.name}` ({entry.where}) needs the MCP SDK, which is not "
            f"installed: {INSTALL_HINT}",
            kind="tool_server",
            retryable=False,
        )


def _quiet_sdk_logs() -> None:
    """The SDK logs a server's death with a traceback; agnoctl reports it as a step failure."""
    logger = logging.getLogger("mcp")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _start_failure(entry: McpEntry, exc: Exception, stderr: IO[bytes] | None) -> StepFailed:
    """Why the server could not be used, and whether trying again may help."""
    exc = _unwrap(exc)
    if isinstance(exc, StepFailed):  # a tool list agnoctl cannot use
        return exc
    retryable = True
    if isinstance(exc, TimeoutError):
        problem = (
            "it did not start, answer its handshake and list its tools within "
            f"startup_timeout {entry.spec.startup_timeout:g}s"
        )
    elif isinstance(exc, OSError) and not isinstance(exc, ConnectionError) and entry.spec.command:
        # The program cannot be run (not on PATH, not executable): no attempt will change it.
        problem, retryable = _spawn_problem(entry, exc), False
    elif entry.spec.command and _closed(exc):
        # The SDK's "Connection closed": the server ended its output before the handshake,
        # which is a server that exited (its stderr, quoted below, says why).
        problem = "it closed its output (exited) before answering its handshake"
    else:
        problem = _describe(exc)
    return ToolServerFailed(
        f"MCP server `{entry.name}` ({entry.where}) could not be used: {problem}"
        f"{_stderr_tail(stderr)}",
        kind="tool_server",
        retryable=retryable,
    )


def _spawn_problem(entry: McpEntry, exc: OSError) -> str:
    program = (entry.spec.command or ["?"])[0]
    cwd = entry.spec.cwd
    if isinstance(exc, FileNotFoundError):
        if cwd and not Path(cwd).is_dir():  # the spawn fails alike; the program may be fine
            return f"its `cwd` {cwd!r} is not a directory (create it, or fix the path)"
        where = "in `cwd` " + repr(cwd) if cwd else "on PATH"
        return f"`{program}` was not found {where} (install it, or give its full path)"
    return f"`{program}` could not be started: {exc.strerror or exc}"


def _describe(exc: Exception) -> str:
    """An SDK or transport error in a few words."""
    exc = _unwrap(exc)
    text = str(exc) or type(exc).__name__
    if hasattr(exc, "error") and hasattr(exc.error, "message"):  # MCPError: the server's words
        text = str(exc.error.message)
    return redact.head(text, _ERROR_LINE_CHARS)[0]


def _answered(exc: Exception) -> bool:
    """Whether ``exc`` is the server's JSON-RPC error answer to the call (an MCPError): the
    SDK gives a call the server never answered (its connection ended, or the SDK's own read
    timeout) codes of its own; every other code is the server's answer."""
    from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT  # loaded: a call was made

    error = getattr(_unwrap(exc), "error", None)
    code = getattr(error, "code", None)
    return isinstance(code, int) and code not in (CONNECTION_CLOSED, REQUEST_TIMEOUT)


def _closed(exc: Exception) -> bool:
    """Whether ``exc`` is the SDK's word that the server's side of the connection ended."""
    from mcp.types import CONNECTION_CLOSED  # loaded: a server was started

    return getattr(getattr(exc, "error", None), "code", None) == CONNECTION_CLOSED


def _unwrap(exc: Exception) -> Exception:
    """The one error inside the exception groups of the SDK's task groups."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _stderr_tail(stderr: IO[bytes] | None) -> str:
    """`; server stderr: <its last lines, joined by | >` when the server wrote any."""
    if stderr is None or stderr.closed:
        return ""
    try:
        stderr.seek(0, 2)
        size = stderr.tell()
        stderr.seek(max(0, size - _STDERR_TAIL))
        tail = stderr.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()][-_STDERR_LINES:]
    if not lines:
        return ""
    return f"; server stderr: {redact.tail(' | '.join(lines), _STDERR_CHARS)[0]}"


# --------------------------------------------------------------------------- tools, results


class McpTool(BaseTool):
    """One tool of a server, as the model sees it and the tool loop calls it."""

    def __init__(self, entry: McpEntry, tool: SdkTool, servers: McpServers) -> None:
        schema = dict(tool.input_schema or {"type": "object", "properties": {}})
        spec = ToolSpec(tool.name, tool.description or tool.title or "", schema)
        try:
            super().__init__(spec, entry.spec.max_output_chars)
        except UsageError as exc:
            raise ToolServerFailed(
                f"MCP server `{entry.name}` ({entry.where}) lists tool `{tool.name}` with an "
                f"inputSchema that is not a valid JSON Schema ({exc}); fix the server, or leave "
                "the tool out with `allow`",
                kind="tool_server",
                retryable=False,
            ) from None
        self.entry = entry
        self._servers = servers

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        return await self._servers.call(self.entry, self.name, arguments)


def _result(result: CallToolResult, name: str) -> ToolResult:
    """A tools/call result as the model sees it: text content joined; structured content as
    JSON when there is no text; images as attachments named ``<name>#<n>.<ext>`` (the
    provider's protocol module decides how they travel); audio and other binary blocks as a
    line that describes them; ``isError`` a failed result."""
    parts: list[str] = []
    images: list[Attachment] = []
    for block in result.content:
        image = _image(block, f"{name}#{len(images) + 1}")
        if image is not None:
            images.append(image)
        else:
            parts.append(_block_text(block))
    text = "\n".join(part for part in parts if part)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False, sort_keys=True)
    if result.is_error:
        text = f"failed: {text or 'the tool reported an error'}"
        return ToolResult(False, text, attachments=tuple(images))
    return ToolResult(True, text or ("" if images else "(no output)"), attachments=tuple(images))


# An image's file extension by its media type, for its name (.jpg before .jpeg).
_EXTENSIONS = {media: ext for ext, media in reversed(MEDIA_TYPES.items())}


def _image(block: Any, name: str) -> Attachment | None:
    """An image block as an attachment; None for any other block, a type no provider takes
    (image/svg+xml) or bytes that are not of their stated type (described in text instead:
    a provider would refuse the whole request)."""
    media = getattr(block, "mime_type", "")
    if getattr(block, "type", "") != "image" or media not in IMAGE_TYPES:
        return None
    try:
        data = base64.b64decode(block.data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not sniff(data, media):
        return None
    return Attachment(
        name=f"{name}{_EXTENSIONS[media]}",
        media_type=media,
        data_base64=base64.b64encode(data).decode("ascii"),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return described(block.mime_type, _decoded_size(block.data))
    if kind == "resource":
        resource = block.resource
        if hasattr(resource, "text"):
            return str(resource.text)
        size = _decoded_size(resource.blob)
        return f"[resource: {resource.uri}, {resource.mime_type or 'binary'}, {size} bytes]"
    if kind == "resource_link":
        return f"[resource link: {block.uri}]"
    return f"[{kind or 'unknown'} content]"


def _capped(result: ToolResult, max_bytes: int) -> ToolResult:
    """``result`` with each image over ``max_bytes`` (the agent's `max_attachment_bytes`)
    described in its text instead of sent. Applied after the cache, which records the result
    whole: agents with other caps may replay it."""
    over = [a for a in result.attachments if a.size > max_bytes]
    if not over:
        return result
    lines = [
        f"{described(a.media_type, a.size)} (not sent: over the agent's max_attachment_bytes "
        f"of {max_bytes})"
        for a in over
    ]
    kept = tuple(a for a in result.attachments if a.size <= max_bytes)
    text = "\n".join([result.text, *lines] if result.text else lines)
    return replace(result, text=text, attachments=kept)


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)


# --------------------------------------------------------------------------- one agent's view


class ResultStore(Protocol):
    """Recorded MCP tool results (the response cache), for replaying a cached conversation."""

    def get(self, entry: McpEntry, tool: str, arguments: dict[str, Any]) -> ToolResult | None:
        """The recorded result, or None."""

    def put(
        self, entry: McpEntry, tool: str, arguments: dict[str, Any], result: ToolResult
    ) -> None:
        """Record a result."""

    def missing(self, tool: str) -> Exception | None:
        """The error a replay without this result must fail with (--cache-only), or None
        when the tool may be called live."""


class McpToolbox:
    """The MCP tools one agent sees, listed when first needed.

    ``declared`` are the names of the agent's other tools: a server tool of the same name, or
    two servers with a tool of one name, would make a call ambiguous, so listing fails.
    """

    def __init__(
        self,
        servers: McpServers,
        entries: Sequence[McpEntry],
        *,
        agent: str,
        declared: Iterable[str] = (),
        store: ResultStore | None = None,
        max_image_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._servers = servers
        self._max_image_bytes = max_image_bytes
        self.entries = tuple(entries)
        self._agent = agent
        self._declared = frozenset(declared)
        self._store = store
        self._tools: dict[str, McpTool] | None = None

    def stand_ins(self) -> tuple[ToolSpec, ...]:
        return tuple(stand_in(entry) for entry in self.entries)

    async def specs(self) -> tuple[ToolSpec, ...]:
        """Every tool the agent sees from its servers (starting those not running)."""
        return tuple(tool.spec for tool in (await self._listed()).values())

    async def sources(self) -> list[tuple[ToolSpec, str]]:
        """Every tool the agent sees from its servers, with the entry it comes from."""
        return [(tool.spec, tool.entry.name) for tool in (await self._listed()).values()]

    async def sent(self, request: ModelRequest) -> ModelRequest:
        """``request`` as it is sent: the stand-ins of its key replaced by the live tools."""
        mine = {spec.name for spec in self.stand_ins()}
        declared = tuple(spec for spec in request.tools if spec.name not in mine)
        return replace(request, tools=(*declared, *(await self.specs())))

    async def call(self, call: ToolCall, *, replayed: bool) -> ToolResult:
        """``call``'s result; refused when neither a server nor the agent has that tool.

        A call that a cached reply asked for (``replayed``) is answered from the recorded
        results, so a cached conversation replays with no server running. A refusal is
        recorded too (under the agent's first entry), so it replays as well.
        """
        if replayed and self._store is not None:
            for entry in self.entries:
                found = self._store.get(entry, call.name, call.arguments)
                if found is not None:
                    return _capped(found, self._max_image_bytes)
            problem = self._store.missing(call.name)
            if problem is not None:
                raise problem
        listed = await self._listed()
        tool = listed.get(call.name)
        if tool is None:
            entry, result = self.entries[0], unknown_tool(call.name, [*self._declared, *listed])
        else:
            entry, result = tool.entry, await tool.call(call.arguments)
        if self._store is not None:
            self._store.put(entry, call.name, call.arguments, result)
        return _capped(result, self._max_image_bytes)

    async def check_names(self) -> None:
        """A ``StepFailed`` when two tools the agent sees share a name (starting the servers
        not running; a listing is made once)."""
        await self._listed()

    async def _listed(self) -> dict[str, McpTool]:
        if self._tools is None:
            tools: dict[str, McpTool] = {}
            for entry in self.entries:
                for tool in await self._servers.tools(entry):
                    self._check_unique(tool, tools)
                    tools[tool.name] = tool
            self._tools = tools
        return self._tools

    def _check_unique(self, tool: McpTool, seen: Mapping[str, McpTool]) -> None:
        other = seen.get(tool.name)
        if other is None and tool.name not in self._declared:
            return
        first = f"MCP tool entry `{other.entry.name}`" if other else f"the tool `{tool.name}`"
        raise StepFailed(
            f"agent `{self._agent}` would see two tools named `{tool.name}`: from {first} and "
            f"from MCP tool entry `{tool.entry.name}` ({tool.entry.where}); leave one out "
            "with `allow`, or give the agent only one of them",
            kind="tool_conflict",
        )


def entries_of(
    tools: Mapping[str, Any], names: Iterable[str], where: Callable[[str], str]
) -> list[McpEntry]:
    """The MCP entries among ``names`` (an agent's `tools`), in its order."""
    return [
        McpEntry(name, tools[name], where(name))
        for name in names
        if isinstance(tools.get(name), McpToolSpec)
    ]


@functools.cache
def locator(file: Path | None) -> Callable[[str], str]:
    """``tools.<name>``'s `file:line` in the workflow file, for the servers' messages (the
    file is read again only when a workflow has MCP tools; the loaded one keeps no marks)."""
    if file is None:
        return lambda name: f"tools.{name}"
    try:
        source = load_file(file).source
    except SpecError:  # changed since the run read it: the file alone still helps
        return lambda name: f"{file}: tools.{name}"

    def where(name: str) -> str:
        line, _ = source.key_position(("tools", name))
        return f"{file}:{line}"

    return where
