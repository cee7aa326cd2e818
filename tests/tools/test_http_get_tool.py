"""http_get: allowed hosts only, redirects re-checked before they are sent, bounded bodies."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from agnoctl.spec.models import HttpGetToolSpec
from agnoctl.tools.http_get import HttpGetTool

pytestmark = pytest.mark.anyio

BIG_BODY = b"x" * (3 << 20)


@dataclass
class LoopbackServer:
    port: int = 0
    paths: list[str] = field(default_factory=list)  # every path requested, in order
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.paths.append(self.path)
            if self.path == "/ok":
                self._reply(200, b"hello from 127.0.0.1")
            elif self.path == "/latin1":
                self._reply(200, b"caf\xe9", charset="iso-8859-1")
            elif self.path == "/not-utf8":
                self._reply(200, b"caf\xe9 ok")
            elif self.path == "/missing":
                self._reply(404, b"nothing here")
            elif self.path == "/big":
                self._reply(200, BIG_BODY)
            elif self.path == "/slow":
                server.release.wait(5)
                self._reply(200, b"late")
            elif self.path.startswith("/to/"):
                self._redirect(self.path[len("/to/") :].replace("PORT", str(server.port)))
            elif self.path == "/loop":
                self._redirect("/loop")
            else:
                self._reply(200, f"secret at {self.path}".encode())

        def _reply(self, status: int, body: bytes, charset: str = "utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"text/plain; charset={charset}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # The client may stop reading at its size cap.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    state = LoopbackServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def server(shared_server: LoopbackServer) -> LoopbackServer:
    """An HTTP server on 127.0.0.1 that records every path it is asked for (this test's)."""
    shared_server.paths.clear()
    return shared_server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The engine's client for http_get (``SharedClient``'s: httpx's own). No proxies."""
    async with httpx.AsyncClient(trust_env=False) as plain_client:
        yield plain_client


def make_tool(
    client: httpx.AsyncClient | None, *, max_bytes: int = 1 << 20, **fields: Any
) -> HttpGetTool:
    spec = HttpGetToolSpec(type="http_get", **{"allow_hosts": ["127.0.0.1"], **fields})
    factory: Callable[[], httpx.AsyncClient] | None = (lambda: client) if client else None
    return HttpGetTool("fetch", spec, client=factory, max_bytes=max_bytes)


async def test_an_allowed_host_is_fetched(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    result = await make_tool(client).call({"url": server.url("/ok")})
    assert result.ok
    assert result.text == "hello from 127.0.0.1"
    assert server.paths == ["/ok"]


async def test_a_host_not_allowed_is_refused_without_a_request(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    result = await make_tool(client).call({"url": server.url("/secret", host="localhost")})
    assert not result.ok
    assert "host 'localhost' is not allowed (allowed: 127.0.0.1)" in result.text
    assert server.paths == []


async def test_a_redirect_to_a_host_not_allowed_is_never_requested(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    url = server.url("/to/http://localhost:PORT/secret")
    result = await make_tool(client).call({"url": url})
    assert not result.ok
    assert result.text.startswith(f"refused: redirect to http://localhost:{server.port}/secret")
    assert server.paths == ["/to/http://localhost:PORT/secret"]


async def test_a_redirect_to_an_allowed_host_is_followed(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    result = await make_tool(client).call({"url": server.url("/to//ok")})
    assert result.ok
    assert result.text == "hello from 127.0.0.1"
    assert server.paths == ["/to//ok", "/ok"]


async def test_redirects_are_bounded(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    result = await make_tool(client).call({"url": server.url("/loop")})
    assert not result.ok
    assert "more than 5 redirects" in result.text
    assert server.paths == ["/loop"] * 6


async def test_the_body_is_capped_in_bytes_then_in_characters(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client, max_bytes=100_000, max_output_chars=50)
    result = await tool.call({"url": server.url("/big")})
    assert result.ok and result.truncated
    assert result.text == (
        "x" * 50 + "\n[truncated: 50 characters shown of a response larger than 100000 bytes]"
    )


async def test_only_the_byte_cap_is_read_of_a_large_body(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    result = await make_tool(client, max_bytes=1000).call({"url": server.url("/big")})
    assert result.truncated
    assert result.text.startswith("x" * 1000 + "\n[truncated: 1000 characters shown")


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "127.0.0.1/ok", "http://"],
)
async def test_other_schemes_and_bad_urls_are_refused(url: str, server: LoopbackServer) -> None:
    result = await make_tool(None).call({"url": url})
    assert not result.ok
    assert result.text.startswith("refused:")
    assert server.paths == []


async def test_an_error_status_is_a_failed_result_with_its_body(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    result = await make_tool(client).call({"url": server.url("/missing")})
    assert not result.ok
    assert result.text == "failed: HTTP 404 Not Found\nnothing here"


async def test_the_declared_charset_and_bad_bytes_are_decoded(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    tool = make_tool(client)
    assert (await tool.call({"url": server.url("/latin1")})).text == "café"
    assert (await tool.call({"url": server.url("/not-utf8")})).text == "caf\ufffd ok"


async def test_a_slow_server_times_out(server: LoopbackServer, client: httpx.AsyncClient) -> None:
    result = await make_tool(client, timeout=0.2).call({"url": server.url("/slow")})
    assert not result.ok
    assert "timed out after 0.2s" in result.text


async def test_a_refused_connection_is_a_failed_result() -> None:
    with socket_closed_port() as port:
        async with httpx.AsyncClient(trust_env=False) as client:
            result = await make_tool(client).call({"url": f"http://127.0.0.1:{port}/"})
    assert not result.ok
    assert result.text.startswith(f"failed: GET http://127.0.0.1:{port}/ failed")


async def test_hosts_match_exactly_ignoring_case(server: LoopbackServer) -> None:
    tool = make_tool(None, allow_hosts=["Example.COM", "127.0.0.1"])
    assert tool.allow_hosts == {"example.com", "127.0.0.1"}
    sub = await tool.call({"url": "http://www.example.com/"})
    assert "host 'www.example.com' is not allowed" in sub.text
    ok = await tool.call({"url": server.url("/ok").upper().replace("/OK", "/ok")})
    assert ok.ok, ok.text


async def test_without_a_client_each_call_uses_its_own(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    result = await make_tool(None).call({"url": server.url("/ok")})
    assert result.ok


async def test_the_model_must_pass_a_url() -> None:
    tool = make_tool(None)
    result = await tool.call({"link": "http://127.0.0.1/"})
    assert not result.ok
    assert "'url' is a required property" in result.text
    assert tool.spec.parameters["required"] == ["url"]


class socket_closed_port:
    """A loopback port that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
