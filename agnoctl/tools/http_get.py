"""The ``http_get`` tool: GET a URL the model passes, from allowed hosts only.

- Only ``http`` and ``https`` URLs; the host must equal an ``allow_hosts`` entry
  (case-insensitive, a trailing dot ignored). Exact hosts only: ``example.com`` does not allow
  ``www.example.com``, so list each subdomain. Any port of an allowed host may be fetched.
- Redirects are followed by hand, at most ``MAX_REDIRECTS``; each ``Location`` is checked
  like the first URL *before* it is requested, so a redirect cannot lead off the list.
- The body is read as a stream and reading stops at ``max_bytes`` (1 MiB by default), before
  decoding; the text is then cut to ``max_output_chars``. A non-2xx status is a failed call
  whose result still shows the body.
- ``timeout`` bounds the whole call, redirects and body included.

The engine owns one ``SharedClient`` for the run's ``http_get`` calls and passes its ``get``
(one that sends nothing under ``--mock``); without one, each call opens and closes its own
client. It is httpx's own client, apart from
the providers' (aiohttp's, ``agnoctl.providers.http``): a tool's GET is a cold path, and its
hop-by-hop redirect checks are written on httpx's request and URL model.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from agnoctl.providers.base import ToolSpec
from agnoctl.spec.models import HttpGetToolSpec
from agnoctl.tools.base import BaseTool, ToolResult, cut, failed, refused

MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 1 << 20
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": {"type": "string", "description": "The http(s) URL to GET."}},
}

ClientFactory = Callable[[], httpx.AsyncClient]


class SharedClient:
    """The run's ``httpx.AsyncClient`` for ``http_get``: made on the first call (a run that
    never fetches loads no CA bundle), closed with the run (``aclose``, in its event loop).

    ``offline`` (a ``--mock`` run): the client sends nothing, and each GET the tool would
    send fails as not fetched. The call's arguments and the host list are still checked, so
    a rehearsal shows what the tool refuses; the mock's replies do not read tool results, so
    a replay of exported fixtures still takes its recorded path.
    """

    def __init__(self, *, offline: bool = False) -> None:
        self._client: httpx.AsyncClient | None = None
        self._offline = offline

    def get(self) -> httpx.AsyncClient:
        if self._client is None:
            transport = _NotSent() if self._offline else None
            self._client = httpx.AsyncClient(transport=transport)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class _NotSent(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("not fetched: a --mock run is offline", request=request)


class HttpGetTool(BaseTool):
    def __init__(
        self,
        name: str,
        spec: HttpGetToolSpec,
        *,
        client: ClientFactory | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        hosts = ", ".join(spec.allow_hosts)
        description = spec.description or f"GET a web page or file from one of: {hosts}."
        super().__init__(ToolSpec(name, description, PARAMETERS), spec.max_output_chars)
        self.allow_hosts = frozenset(_normal_host(h) for h in spec.allow_hosts)
        self._client = client
        self._timeout = spec.timeout
        self._max_bytes = max_bytes

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        with anyio.move_on_after(self._timeout):
            if self._client is not None:
                return await self._follow(self._client(), arguments["url"])
            async with httpx.AsyncClient() as client:
                return await self._follow(client, arguments["url"])
        return failed(f"GET {arguments['url']} timed out after {self._timeout:g}s")

    async def _follow(self, client: httpx.AsyncClient, url: str) -> ToolResult:
        for hop in range(MAX_REDIRECTS + 1):
            target = self._allowed(url, redirected=hop > 0)
            if isinstance(target, ToolResult):
                return target
            request = client.build_request("GET", target, timeout=self._timeout)
            try:
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    if not response.has_redirect_location:
                        return await self._read(response)
                    url = str(response.url.join(response.headers["location"]))
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                return failed(f"GET {target} failed: {str(exc) or type(exc).__name__}")
            except httpx.InvalidURL as exc:
                return refused(f"{target} redirects to an invalid URL: {exc}")
        return failed(f"more than {MAX_REDIRECTS} redirects, stopped at {url}")

    def _allowed(self, url: str, *, redirected: bool) -> httpx.URL | ToolResult:
        """The parsed URL when it may be fetched, else the refusal."""
        what = f"redirect to {url}" if redirected else url
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            return refused(f"{what} is not a valid URL: {exc}")
        if parsed.scheme not in ("http", "https"):
            return refused(f"{what}: only http and https URLs may be fetched")
        hosts = {_normal_host(parsed.host), _normal_host(parsed.raw_host.decode("ascii"))}
        if not hosts & self.allow_hosts:
            allowed = ", ".join(sorted(self.allow_hosts))
            return refused(f"{what}: host {parsed.host!r} is not allowed (allowed: {allowed})")
        return parsed

    async def _read(self, response: httpx.Response) -> ToolResult:
        body = bytearray()
        complete = True
        async for chunk in response.aiter_bytes():
            room = self._max_bytes - len(body)
            if len(chunk) > room:
                body += chunk[:room]
                complete = False
                break  # stop reading: the rest is never downloaded
            body += chunk
        text = _decode(bytes(body), response.charset_encoding)
        total = None if complete else f"a response larger than {self._max_bytes} bytes"
        text, truncated = cut(text, self.max_output_chars, total=total)
        if response.is_success:
            return ToolResult(True, text, truncated)
        status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        return ToolResult(False, f"failed: {status}\n{text}", truncated)


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _decode(body: bytes, charset: str | None) -> str:
    try:
        codec = codecs.lookup(charset or "utf-8")
    except LookupError:
        codec = codecs.lookup("utf-8")  # an unknown charset in Content-Type
    return codec.decode(body, "replace")[0]
