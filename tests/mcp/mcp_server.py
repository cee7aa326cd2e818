"""A tiny MCP server written with the official SDK, for the tests: `python mcp_server.py stdio`
serves over stdin/stdout, `python mcp_server.py http PORT_FILE` over streamable HTTP on
127.0.0.1 (a free port, written to PORT_FILE once it listens).

Every start appends the server's pid to the file named by ``MCP_PID_FILE`` (when set), so a test
can check that no server outlives its run. Tools: ``add`` and ``echo`` (plain answers),
``environment`` (its variables' names), ``shout`` (structured content only), ``picture`` (a caption
and a real PNG), ``scribble`` (an "image" that is not one), ``broken`` (a tool error),
``crash`` (the server kills itself mid-call), ``hang`` (never answers) and ``spawn`` (starts a
grandchild in a session of its own, which must die with the server).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ImageContent, TextContent

server = MCPServer("agnoctl-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool()
def environment() -> str:
    """The names of the variables the server was started with."""
    return " ".join(sorted(os.environ))


@server.tool()
def shout(text: str) -> CallToolResult:
    """Structured content only: the upper-cased text."""
    return CallToolResult(content=[], structured_content={"shouted": text.upper()})


def tiny_png() -> bytes:
    """A real 1x1 PNG (one red pixel), made here so the tests need no image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@server.tool()
def picture() -> list[TextContent | ImageContent]:
    """A caption and a real PNG image."""
    data = base64.b64encode(tiny_png()).decode("ascii")
    return [
        TextContent(type="text", text="a red pixel"),
        ImageContent(type="image", data=data, mime_type="image/png"),
    ]


@server.tool()
def scribble() -> ImageContent:
    """A 4-byte "PNG" that is no PNG: described in text, never sent as an image."""
    return ImageContent(type="image", data="AAECAw==", mime_type="image/png")


@server.tool()
def broken(reason: str) -> str:
    """Always fails with the reason."""
    raise ValueError(f"broken on purpose: {reason}")


@server.tool()
def crash() -> str:
    """Kill the server in the middle of the call."""
    os.kill(os.getpid(), signal.SIGKILL)
    return "never"


@server.tool()
def hang() -> str:
    """Never answer."""
    while True:
        time.sleep(3600)


@server.tool()
def spawn() -> str:
    """Start a grandchild in a session of its own that would outlive the server."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)"], start_new_session=True
    )
    _note_pid(child.pid)
    return f"spawned {child.pid}"


def _note_pid(pid: int) -> None:
    pid_file = os.environ.get("MCP_PID_FILE")
    if pid_file:
        with open(pid_file, "a", encoding="utf-8") as f:
            f.write(f"{pid}\n")


def _serve_http(port_file: Path) -> None:
    import anyio
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    app: Any = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning")
    port = sock.getsockname()[1]
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port), encoding="utf-8")
    tmp.replace(port_file)  # whole or absent: the test reads it once it exists
    anyio.run(uvicorn.Server(config).serve, [sock])


if __name__ == "__main__":
    _note_pid(os.getpid())
    if sys.argv[1:2] == ["http"]:
        _serve_http(Path(sys.argv[2]))
    else:
        server.run()
