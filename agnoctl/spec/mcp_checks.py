"""Static checks of `type: mcp` tool entries: what `validate` can tell without starting a server.

One transport per entry (`command` for stdio, `url` for streamable HTTP), only the fields that
transport reads (a field it would ignore is an error: fail closed), `allow` patterns that can
match a tool, and names the environment and HTTP accept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

from agnoctl.spec.models import McpToolSpec

PathKey = str | int
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# RFC 9110 token characters: what a header name may hold.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# What httpx refuses in a header value (a tab is allowed).
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STDIO_ONLY = ("env", "cwd")
_HTTP_ONLY = ("headers",)


class Finding(NamedTuple):
    path: tuple[PathKey, ...]
    code: str
    message: str
    hint: str
    at_key: bool = False  # at the key of `path` (a name), not its value


def check_mcp_tool(name: str, tool: McpToolSpec) -> Iterator[Finding]:
    """Every static problem of the MCP entry ``tools.<name>``."""
    base: tuple[PathKey, ...] = ("tools", name)
    yield from _transport(base, name, tool)
    yield from _allow(base, tool.allow)
    yield from _names(
        (*base, "env"),
        tool.env,
        _ENV_NAME,
        "environment variable",
        "use letters, digits and _, not starting with a digit",
    )
    yield from _names(
        (*base, "headers"),
        tool.headers,
        _HEADER_NAME,
        "HTTP header",
        "use letters, digits and -, e.g. Authorization or X-Api-Key",
    )
    yield from _header_values((*base, "headers"), tool.headers)


def _header_values(where: tuple[PathKey, ...], headers: dict[str, str] | None) -> Iterator[Finding]:
    """E454 at each header value no request can carry; the value, often a secret, unquoted."""
    for key, value in (headers or {}).items():
        if _HEADER_CONTROL.search(value):
            yield Finding(
                (*where, key),
                "E454",
                f"the value of header `{key}` holds a control character (often a line ending "
                "copied with it), which no HTTP header can carry",
                "remove it, from the variable the value reads when it is a ${VAR}",
            )


def _names(
    where: tuple[PathKey, ...],
    values: dict[str, str] | None,
    pattern: re.Pattern[str],
    what: str,
    hint: str,
) -> Iterator[Finding]:
    """E454 at each key of ``values`` that is not a valid ``what`` name."""
    for key in values or {}:
        if not pattern.match(key):
            yield Finding((*where, key), "E454", f"`{key}` is not a valid {what} name", hint, True)


def _transport(base: tuple[PathKey, ...], name: str, tool: McpToolSpec) -> Iterator[Finding]:
    if (tool.command is None) == (tool.url is None):
        both = tool.command is not None
        yield Finding(
            base if not both else (*base, "url"),
            "E450",
            f"MCP tool `{name}` needs exactly one of `command` (stdio) and `url` (HTTP)"
            + (", not both" if both else ""),
            "e.g. command: [uvx, mcp-server-git] or url: https://example.com/mcp",
        )
        return
    if tool.command is not None:
        if not tool.command[0].strip():
            yield Finding(
                (*base, "command", 0),
                "E450",
                "`command` starts with an empty program name",
                "the first element is the program, e.g. npx or uvx",
            )
        yield from _foreign(base, tool, _HTTP_ONLY, "a `url` server", "stdio (`command`)")
        return
    assert tool.url is not None
    if not _http_url(tool.url):
        yield Finding(
            (*base, "url"),
            "E451",
            f"`url` {tool.url!r} is not an http(s) URL with a host",
            "e.g. https://example.com/mcp (the streamable HTTP endpoint)",
        )
    yield from _foreign(base, tool, _STDIO_ONLY, "a stdio server (`command`)", "`url`")


def _http_url(url: str) -> bool:
    """Whether ``url`` is http(s) with a host (and, if it has one, a port that can be)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:  # `http://[::1` (an unclosed IPv6 bracket), `http://h:99999`
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _foreign(
    base: tuple[PathKey, ...],
    tool: McpToolSpec,
    fields: tuple[str, ...],
    belongs: str,
    used: str,
) -> Iterator[Finding]:
    for field in fields:
        if getattr(tool, field) is not None:
            yield Finding(
                (*base, field),
                "E452",
                f"`{field}` applies to {belongs} only; this entry uses {used}, which would "
                "ignore it",
                f"remove `{field}`",
            )


def _allow(base: tuple[PathKey, ...], allow: list[str] | None) -> Iterator[Finding]:
    if allow is None:
        return
    if not allow:
        yield Finding(
            (*base, "allow"),
            "E453",
            "`allow` is empty, so agents would see none of the server's tools",
            "list tool names or globs (e.g. [read_*]), or drop `allow` to admit every tool",
        )
    for index, pattern in enumerate(allow):
        problem = _pattern_problem(pattern)
        if problem is not None:
            yield Finding(
                (*base, "allow", index),
                "E453",
                f"`allow` pattern {pattern!r} {problem}",
                "a tool name, or a glob with * ? and [...] (e.g. read_*)",
            )


def _pattern_problem(pattern: str) -> str | None:
    if not pattern.strip():
        return "is empty"
    if pattern != pattern.strip():
        return "has spaces around it, which no tool name has"
    if pattern.count("[") != pattern.count("]"):
        return "has an unclosed `[`: fnmatch would read it as a literal"
    return None
