"""The one HTTP client of a run, and the HTTP plumbing every wire protocol shares.

Every provider of a run calls over one ``aiohttp.ClientSession`` (aiohttp's own client, one
layer between a call and the socket): httpx over the ``httpx-aiohttp`` transport cost about
twice the client CPU per call, and httpx over its own pool, httpcore, collapses at high
fan-out (encode/httpcore#1035). ``bench/transport.py`` measures the client against bare
aiohttp on the project's fake server.

A run prepares the client before its first call, in a worker thread (``HttpClient.build``:
importing aiohttp takes a few hundred milliseconds the event loop must not spend, and so does
loading the CA bundle, which only an ``https://`` base URL needs: ``build(tls=True)``); other
users get it prepared on first use. The session itself is opened in the event loop on the
first request, and must be closed with ``await HttpClient.aclose()`` in that loop.

``post_json`` sends one request and turns every failure into the ``ProviderError`` tree:
429 is ``RateLimited``; 408, 409 and 5xx are ``ProviderUnavailable``; 401/403 are
``AuthenticationFailed`` naming where the key comes from; 3xx (redirects are never followed)
and other 4xx are ``BadRequest``; timeouts are ``ProviderTimeout``; refused, reset or
dropped connections and bodies cut short are ``ConnectionFailed``; a URL aiohttp cannot
request is a ``PermanentProviderError``; a body that is not a JSON object is
``MalformedResponse``. No message ever contains the API key.

Replies are streamed by default (``post_stream``: each protocol's ``StreamReader`` decodes
its framing with ``agnoctl.providers.stream`` and adds the events up to the reply a whole one
would parse to, noting the time to first token); a provider with ``stream: false`` asks for
whole replies (``post_json``). Either way the body is read as it comes, within the provider's
``ReplyLimits``: a body past
``max_bytes`` (32 MiB by default; a declared ``Content-Length`` past it is refused unread) is a
``PermanentProviderError`` (the same request would get the same reply), and a body that stops
coming (less than ``PROGRESS_BYTES`` in ``stall_timeout`` seconds, 60 by default, counted
from the headers or the last progress, a stream's keep-alives included) is a
``ProviderTimeout``, retried like any timeout.
The wait for the headers is the model's thinking time, bounded by the read timeout and the
step's own ``timeout``. Token counts past ``MAX_REPLY_TOKENS`` are a ``MalformedResponse``.
Rate-limit headers (``Retry-After``, OpenAI's ``x-ratelimit-*``, Anthropic's
``anthropic-ratelimit-*``) are read by one parser, ``rate_limit_hint``, for a 429's
``retry_after`` and for a 200's ``ModelReply.rate_limit`` alike.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio
import orjson

from agnoctl import redact
from agnoctl.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    PermanentProviderError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
    UsageError,
)
from agnoctl.providers.base import RateLimitHint, Usage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, Mapping

    import aiohttp
    from yarl import URL

    from agnoctl.providers.base import ModelReply, ModelRequest
    from agnoctl.redact import Redactor

_T = TypeVar("_T")
_E = TypeVar("_E")

DEFAULT_MAX_CONNECTIONS = 100
KEEPALIVE_SECONDS = 30.0
_ERROR_TEXT_LIMIT = 500
DEFAULT_MAX_RESPONSE_BYTES = 32 * 2**20
DEFAULT_STALL_TIMEOUT = 60.0
PROGRESS_BYTES = 1024
"""What a reply's body must deliver in each ``stall_timeout``: a trickle is a stall."""
MAX_REPLY_TOKENS = 100_000_000
"""More tokens than any model reads or writes in one call: a count past it is garbage."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The client's own bounds, in seconds (None: none). A safety net, not the step timeout:
    the engine bounds each attempt with a cancel scope.

    ``connect`` bounds opening a connection (not the wait for a free one: calls beyond
    ``max_connections`` queue for as long as their step allows); ``read`` bounds each wait
    for the server's next bytes, the headers included, which is the model's thinking time:
    long generations legitimately take minutes, so it is generous (and stretched past a
    provider's longer ``stall_timeout``: ``Client.timeout_for``)."""

    connect: float | None = 10.0
    read: float | None = 300.0


DEFAULT_TIMEOUT = Timeouts()


@dataclass(frozen=True, slots=True)
class ReplyLimits:
    """How large a provider's reply may be, and how long its body may stop coming."""

    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    stall_timeout: float = DEFAULT_STALL_TIMEOUT


class HttpClient:
    """Holds the run's shared ``Client``: prepared by ``build`` (from any thread), or on
    first use.

    ``max_connections`` should match the run's concurrency (``limits.max_concurrency``): a
    smaller pool queues calls inside the client where no limit or event can see them.
    ``trust_env`` makes the client honour ``HTTP(S)_PROXY``/``NO_PROXY`` and ``SSL_CERT_FILE``
    / ``SSL_CERT_DIR``.
    """

    def __init__(
        self,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        timeout: Timeouts = DEFAULT_TIMEOUT,
        trust_env: bool = True,
    ) -> None:
        self.max_connections = max_connections
        self.timeout = timeout
        self.trust_env = trust_env
        self._client: Client | None = None
        self._building = threading.Lock()  # one client, whichever thread asks first

    @property
    def client(self) -> Client:
        client = self._client
        return client if client is not None else self.build()

    def build(self, *, tls: bool = False) -> Client:
        """Prepare the client now unless it is (``create_client``), and its TLS context too
        when ``tls`` (some base URL is ``https://``); safe from any thread: a caller that asks
        while another thread builds it waits for that one."""
        with self._building:
            if self._client is None:
                self._client = create_client(
                    max_connections=self.max_connections,
                    timeout=self.timeout,
                    trust_env=self.trust_env,
                )
        if tls:
            self._client.ssl_for("https")
        return self._client

    async def aclose(self) -> None:
        """Close the pool; safe to call when no request was ever made, and twice."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class Client:
    """aiohttp's client, prepared: the session is opened in the event loop on the first
    request (an ``aiohttp.ClientSession`` belongs to the loop it was opened in), and the TLS
    context is loaded on the first ``https://`` request unless ``build(tls=True)`` did."""

    def __init__(self, *, max_connections: int, timeout: Timeouts, trust_env: bool) -> None:
        import aiohttp  # the import the worker thread of ``HttpClient.build`` takes off the loop

        self._limit = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=timeout.connect, sock_read=timeout.read
        )
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}  # by a longer stall_timeout
        # The proxy variables are read here, once, and each request is given its proxy: an
        # aiohttp session that trusts the environment would also send ``~/.netrc``'s entry for
        # a provider's host as its Authorization (a request carrying its own key then fails
        # with a ValueError; another provider would get the user's netrc password), and look
        # both up in a worker thread on every request.
        self._proxies = _env_proxies() if trust_env else {}
        self._proxy_of: dict[tuple[str, str | None], URL | None] = {}
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            session = self._session = self._open()
        return session

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp  # imported when this client was prepared

        connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=KEEPALIVE_SECONDS)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            trust_env=False,  # the proxy is given per request (``proxy_for``), no netrc
            cookie_jar=aiohttp.DummyCookieJar(),  # a provider's cookies mean nothing to a run
            auto_decompress=True,  # a compressed bomb counts at its full size
        )

    def timeout_for(self, stall_timeout: float) -> aiohttp.ClientTimeout:
        """The client's bounds for a reply read within ``stall_timeout``: a wait for the
        server's next bytes is bounded by the read timeout, and where the stall timeout is as
        long, by a second past it (a provider set to wait out a silent model must not be cut
        short by the client's own bound, and its stall is caught as one)."""
        read = self._timeout.sock_read
        if read is None or stall_timeout < read:
            return self._timeout
        timeout = self._timeouts.get(stall_timeout)
        if timeout is None:
            import aiohttp

            timeout = self._timeouts[stall_timeout] = aiohttp.ClientTimeout(
                total=None,
                connect=None,
                sock_connect=self._timeout.sock_connect,
                sock_read=stall_timeout + 1.0,
            )
        return timeout

    def proxy_for(self, url: URL) -> URL | None:
        """The proxy a request to ``url`` goes through: the environment's for its scheme
        unless ``NO_PROXY`` exempts its host; its user name and password, if any, are the
        proxy's credentials."""
        if not self._proxies:
            return None
        key = (url.scheme, url.host)
        if key not in self._proxy_of:
            import urllib.request

            bypass = url.host is not None and urllib.request.proxy_bypass(url.host)
            self._proxy_of[key] = None if bypass else self._proxies.get(url.scheme)
        return self._proxy_of[key]

    def ssl_for(self, scheme: str) -> ssl.SSLContext | bool:
        """What a request to a URL of ``scheme`` verifies TLS with: the CA bundle's context
        for ``https``, loaded once; ``True`` (no TLS to set up) for plain ``http``."""
        if scheme != "https":
            return True
        tls = self._tls
        if tls is None:
            tls = self._tls = _ssl_context(self._trust_env)
        return tls

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def create_client(
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    timeout: Timeouts = DEFAULT_TIMEOUT,
    trust_env: bool = True,
) -> Client:
    """A keep-alive client sized for ``max_connections`` calls in flight."""
    return Client(max_connections=max_connections, timeout=timeout, trust_env=trust_env)


def _env_proxies() -> dict[str, URL]:
    """The proxy of each scheme the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``): an
    ``http://`` or ``https://`` proxy (aiohttp's connector takes both when given one; its
    own reading of the environment would drop an ``https://`` one, sending the calls around
    it); one without a scheme (``proxy:3128``, as curl and httpx take it) is an ``http://``
    one. A value that is no such URL (``socks5://``) is a ``UsageError`` naming the variable.
    Read while the client is prepared, off the event loop, which is also where the standard
    library's HTTP modules load."""
    import urllib.request

    from yarl import URL

    proxies = {}
    for scheme, value in urllib.request.getproxies().items():
        if scheme not in ("http", "https"):
            continue
        try:
            proxy = URL(value if "://" in value else f"http://{value}")
        except ValueError as exc:  # yarl's messages never quote the URL (nor its password)
            variable = f"{scheme.upper()}_PROXY"
            raise UsageError(
                f"the proxy in {variable} is not a URL ({exc}); set it as "
                f"http://host:port, or unset {variable}"
            ) from None
        if proxy.scheme not in ("http", "https"):
            variable = f"{scheme.upper()}_PROXY"
            raise UsageError(
                f"the proxy in {variable} is a {proxy.scheme}:// proxy, which agnoctl cannot "
                f"use; set an http:// or https:// proxy, or unset {variable}"
            )
        proxies[scheme] = proxy
    return proxies


@functools.cache
def _ssl_context(trust_env: bool) -> ssl.SSLContext:
    """The CA bundle's TLS context, as httpx builds it: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``
    from the environment when trusted, else certifi's bundle. Loading it takes tens of
    milliseconds; a context is safe to share. A bundle that does not load is a
    ``UsageError`` naming the variable that points to it."""
    cafile = os.environ.get("SSL_CERT_FILE") if trust_env else None
    capath = os.environ.get("SSL_CERT_DIR") if trust_env and not cafile else None
    if not (cafile or capath):
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        variable = "SSL_CERT_FILE" if cafile else "SSL_CERT_DIR"
        raise UsageError(
            f"the CA certificates in {variable} ({cafile or capath}) could not be loaded: "
            f"{exc}; point {variable} at a PEM bundle (or a directory of them), or unset it"
        ) from None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Who a call goes to, for error messages: never holds the key itself in a message."""

    provider: str  # the provider entry's name
    key_hint: str  # where the key comes from: "OPENAI_API_KEY", "providers.local.api_key"
    secret: str | None = None  # the API key, only so it can be masked out of server messages


@dataclass(frozen=True, slots=True)
class Post:
    """One request to send: where, what, with which headers, and how its reply is bounded."""

    client: Client
    url: URL
    body: Mapping[str, Any]
    headers: Mapping[str, str]
    endpoint: Endpoint
    model: str
    limits: ReplyLimits = ReplyLimits()


async def post_json(post: Post) -> tuple[dict[str, Any], RateLimitHint | None]:
    """Send ``post`` and return the reply's JSON object and what its rate-limit headers say
    (``rate_limit_hint``), or raise a ``ProviderError``."""

    async def whole(
        response: aiohttp.ClientResponse,
    ) -> tuple[dict[str, Any], RateLimitHint | None]:
        content = await _read_body(response, post)
        if response.status != 200:
            raise error_for_status(response, content, endpoint=post.endpoint, model=post.model)
        payload = _json_object(response, content, endpoint=post.endpoint, model=post.model)
        return payload, rate_limit_hint(response.headers)

    return await _exchange(post, whole)


async def post_stream(post: Post, reader: StreamReader[Any]) -> ModelReply:
    """Send ``post`` and read the reply as a stream with ``reader`` (the protocol's framing and
    events), or raise a ``ProviderError``.

    The reader's clock is given each piece of text as it arrives. The reply says when the first
    piece of content came (``ttft``: text or a tool call, from the moment the request was
    sent) and how long the rest took (``stream_seconds``). Within ``limits`` as a whole reply
    is: a stream that brings less than ``PROGRESS_BYTES`` in ``stall_timeout`` seconds has
    stalled (keep-alives count; a model streaming even a token a second sends far more), and
    one trickling its bytes is stopped as a whole reply that trickles is."""
    started = time.perf_counter()
    endpoint, model = post.endpoint, post.model

    async def streamed(response: aiohttp.ClientResponse) -> ModelReply:
        if response.status != 200:
            content = await _read_body(response, post)
            raise error_for_status(response, content, endpoint=endpoint, model=model)
        if _is_json(response):  # a server that ignored `stream: true` and answered whole
            content = await _read_body(response, post)
            reply = reader.whole(_json_object(response, content, endpoint=endpoint, model=model))
            reply.rate_limit = rate_limit_hint(response.headers)
            return reply
        head = bytearray()  # the body's start, to quote if it holds no event at all

        def feed(chunk: bytes) -> None:
            if len(head) < _HEAD_KEPT:
                head.extend(chunk[: _HEAD_KEPT - len(head)])
            reader.feed(chunk)

        await _read_chunks(response, post, feed)
        try:
            reply = reader.reply()
        except ConnectionFailed:
            if reader.clock.events == 0 and head.strip():  # not cut short: never a stream
                raise _not_a_stream(response, bytes(head), endpoint, model) from None
            raise
        first = reader.clock.first
        if first is not None:
            reply.ttft = first - started
            reply.stream_seconds = time.perf_counter() - first
        reply.rate_limit = rate_limit_hint(response.headers)
        return reply

    return await _exchange(post, streamed)


class ContentClock:
    """When a streamed reply's first content came (text or a tool call), where its text goes
    as it comes (``on_text``: None when nobody shows it), and how many events it held."""

    __slots__ = ("events", "first", "on_text")

    def __init__(self, on_text: Callable[[str], None] | None = None) -> None:
        self.first: float | None = None  # time.perf_counter() of the first piece
        self.on_text = on_text
        self.events = 0  # counted by the reader: a body with none is no stream at all

    def content(self, text: str) -> None:
        """A piece of content came: its text, or "" for a tool call's name or arguments."""
        if self.first is None:
            self.first = time.perf_counter()
        if text and self.on_text is not None:
            self.on_text(text)


class Framing(Protocol[_E]):
    """How a stream's bytes are cut into events (``agnoctl.providers.stream``)."""

    def feed(self, chunk: bytes) -> list[_E]: ...

    def close(self) -> list[_E]: ...


class StreamReader(Generic[_E]):
    """A protocol's streamed reply: its framing, its events, and the reply they add up to.

    The body is pushed to it chunk by chunk (``feed``): decoding stays synchronous, with no
    await between the socket's bytes and the reply's pieces. A protocol reads each event
    (``piece``: the text it carries, "" for a piece of a tool call, None for no content) and
    gives the whole reply's JSON object the events stood for (``payload``), which its
    ``parse`` reads exactly as it reads a whole reply.
    """

    def __init__(
        self,
        framing: Framing[_E],
        parse: Callable[[dict[str, Any], Endpoint, str], ModelReply],
        endpoint: Endpoint,
        model: str,
        clock: ContentClock,
    ) -> None:
        self.clock = clock
        self._framing = framing
        self._parse = parse
        self._endpoint = endpoint
        self._model = model

    def feed(self, chunk: bytes) -> None:
        """Decode the next chunk of the body (cut anywhere), telling ``clock`` of content."""
        self._read(self._framing.feed(chunk))

    def reply(self) -> ModelReply:
        """At the body's end: the reply the events added up to, exactly as a whole reply would
        parse; a ``ProviderError`` when the stream ended before the protocol's end marker."""
        self._read(self._framing.close())
        return self.whole(self.payload())

    def whole(self, payload: dict[str, Any]) -> ModelReply:
        """The reply of a whole JSON object: the streamed one's, or a server's that answered
        with a whole reply after all."""
        return self._parse(payload, self._endpoint, self._model)

    def _read(self, events: list[_E]) -> None:
        clock = self.clock
        clock.events += len(events)
        for event in events:
            piece = self.piece(event)
            if piece is not None:
                clock.content(piece)

    def piece(self, event: _E) -> str | None:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def json(self, data: str) -> dict[str, Any]:
        """An event's data as the JSON object it must be; anything else is a
        ``MalformedResponse``, retried as a whole reply that does not parse is."""
        payload = _json_dict(data)
        if payload is not None:
            return payload
        start, _ = _redactor(self._endpoint).head(data, 80)
        raise MalformedResponse(
            f"{self._endpoint.provider} sent a stream event that is not a JSON object "
            f"(starting {start!r}); the server may not speak this protocol, check the "
            "provider type and base_url, or set `stream: false` on the provider if it "
            "cannot stream",
            provider=self._endpoint.provider,
            model=self._model,
            status=200,
        )


_QUOTED = 80  # characters of a body that is no stream, quoted in its error (masked)
# Kept of its start, far more than is quoted: the redactor must see a whole key to mask it
# (a key cut at the 80th byte would not be recognised, and its first part would be quoted).
_HEAD_KEPT = 4096


def _is_json(response: aiohttp.ClientResponse) -> bool:
    kind: str = response.headers.get("content-type", "")
    return kind.partition(";")[0].strip().lower() == "application/json"


def _not_a_stream(
    response: aiohttp.ClientResponse, head: bytes, endpoint: Endpoint, model: str
) -> MalformedResponse:
    start, _ = _redactor(endpoint).head(_text(response, head), _QUOTED)
    return MalformedResponse(
        f"{endpoint.provider} sent a reply that is no stream of events (starting {start!r}); "
        "the server may not speak this protocol, check the provider type and base_url, or "
        "set `stream: false` on the provider if it cannot stream",
        provider=endpoint.provider,
        model=model,
        status=response.status,
    )


async def _exchange(post: Post, consume: Callable[[aiohttp.ClientResponse], Awaitable[_T]]) -> _T:
    """Send one request and ``consume`` its response; transport failures become the
    ``ProviderError`` tree. Leaving it, early or not, releases the response: a connection
    whose reply was not read to the end is closed, never reused. Redirects are not followed
    (a 3xx is a ``BadRequest``): a provider that moved is a base_url to fix, and a redirect
    must not carry the key elsewhere."""
    client, url = post.client, post.url
    proxy = client.proxy_for(url)
    request = client.session.post(
        url,
        data=orjson.dumps(post.body),
        headers={**post.headers, "content-type": "application/json"},
        ssl=client.ssl_for(url.scheme),
        proxy=proxy,
        timeout=client.timeout_for(post.limits.stall_timeout),
        allow_redirects=False,
    )
    try:
        async with request as response:
            return await consume(response)
    except _aiohttp_errors() as exc:
        raise _transport_error(exc, url, post.endpoint, post.model, proxy) from exc
    except TimeoutError as exc:  # aiohttp's own timeouts (sock_connect, sock_read)
        raise _timeout_error(exc, url, post.endpoint, post.model) from exc


async def _read_body(response: aiohttp.ClientResponse, post: Post) -> bytes:
    """The body, read while it stays within the post's limits (``_read_chunks``)."""
    body = bytearray()
    await _read_chunks(response, post, body.extend)
    return bytes(body)


async def _read_chunks(
    response: aiohttp.ClientResponse, post: Post, feed: Callable[[bytes], object]
) -> None:
    """Give the body's chunks to ``feed`` as they come (decoded: a compressed bomb counts at
    its full size); raises past the size cap, or when less than ``PROGRESS_BYTES`` came in
    ``stall_timeout`` (one deadline, moved on by each ``PROGRESS_BYTES`` received)."""
    limits = post.limits
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(post, f"it declares {int(declared):,} bytes")
    received = progress = 0
    stall = limits.stall_timeout
    with anyio.CancelScope(deadline=anyio.current_time() + stall) as wait:
        async for chunk in response.content.iter_any():
            received += len(chunk)
            if received > limits.max_bytes:
                raise _too_large(post, "refused unread past that")
            progress += len(chunk)
            if progress >= PROGRESS_BYTES:
                wait.deadline, progress = anyio.current_time() + stall, 0
            feed(chunk)
    if wait.cancelled_caught:
        raise _stalled(response, post, received)


def _stalled(response: aiohttp.ClientResponse, post: Post, received: int) -> ProviderError:
    provider = post.endpoint.provider
    return ProviderTimeout(
        f"{provider} stopped sending its reply: less than {PROGRESS_BYTES:,} bytes "
        f"in {post.limits.stall_timeout:g}s "
        f"after {received:,} bytes (stall_timeout); the server or a proxy may be stuck",
        provider=provider,
        model=post.model,
        status=response.status,
    )


def _too_large(post: Post, how: str) -> ProviderError:
    # Not worth retrying: the same request would bring the same reply.
    provider = post.endpoint.provider
    return PermanentProviderError(
        f"{provider} sent a reply larger than {post.limits.max_bytes:,} bytes "
        f"(max_response_bytes), {how}; raise the provider's max_response_bytes if its "
        "replies are really this large",
        provider=provider,
        model=post.model,
    )


class JsonProvider:
    """What every HTTP wire protocol shares: one URL, fixed headers, JSON in and out.

    A protocol sets ``protocol`` (also the default ``name``), ``path`` (appended to
    ``base_url``), the default ``base_url`` and ``key_hint``, and implements ``wire`` (the
    request's body), ``stream_reader`` (which reads a reply, streamed or whole) and, where it
    differs, ``auth_headers`` and ``stream_body`` (``stream=False`` asks for whole replies).
    """

    protocol: str
    path: str
    default_base_url: str
    default_key_hint: str

    def __init__(
        self,
        http: HttpClient,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        key_hint: str | None = None,
        limits: ReplyLimits | None = None,
        stream: bool = True,
    ) -> None:
        self.name = name or self.protocol  # a provider entry's default name is its type
        self.stream = stream  # read replies as streams; False for servers that cannot stream
        self.limits = limits or ReplyLimits()
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._http = http
        from yarl import URL  # loaded with aiohttp (``HttpClient.build``)

        try:
            # The path goes before a query the base_url may hold (Azure's ?api-version=...).
            base = urlsplit(self.base_url)
            target = urlunsplit(base._replace(path=base.path.rstrip("/") + self.path))
            self._url = URL(target)  # parsed once, not per call
        except ValueError as exc:  # yarl's messages never quote the URL
            raise UsageError(
                f"the base_url of provider {self.name!r} is not a URL that can be called "
                f"({exc}); check base_url"
            ) from None
        self._endpoint = Endpoint(
            provider=self.name, key_hint=key_hint or self.default_key_hint, secret=api_key
        )
        if api_key is not None and _HEADER_CONTROL.search(api_key):
            raise UsageError(
                f"the API key of provider {self.name!r} holds a control character (often a "
                "line ending copied with it), which no HTTP header can carry; set "
                f"{self._endpoint.key_hint} without it"
            )
        self._headers = self.auth_headers(api_key)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def wire(self, request: ModelRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, payload: dict[str, Any], model: str) -> ModelReply:
        """A whole reply, read by the protocol's reader as the end of a streamed one is."""
        return self.stream_reader(model, ContentClock()).whole(payload)

    def stream_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` (``wire``'s) asking for the reply as a stream."""
        return {**body, "stream": True}

    def stream_reader(self, model: str, clock: ContentClock) -> StreamReader[Any]:
        """A reader of one streamed reply to a request for ``model``, telling ``clock``."""
        raise NotImplementedError

    async def request(self, request: ModelRequest) -> ModelReply:
        body = self.wire(request)
        if self.stream:
            body = self.stream_body(body)
        post = Post(
            self._http.client,
            self._url,
            body,
            self._headers,
            self._endpoint,
            request.model,
            self.limits,
        )
        if self.stream:
            clock = ContentClock(request.context.on_text)
            return await post_stream(post, self.stream_reader(request.model, clock))
        payload, hint = await post_json(post)
        reply = self.parse(payload, request.model)
        reply.rate_limit = hint
        return reply


_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what aiohttp refuses in a header


def _aiohttp_errors() -> tuple[type[Exception], ...]:
    import aiohttp

    return (aiohttp.ClientError,)


def _transport_error(
    exc: Exception, url: URL, endpoint: Endpoint, model: str, proxy: URL | None = None
) -> ProviderError:
    """aiohttp's error as the ``ProviderError`` it stands for: a timeout (connecting, or the
    server's next bytes) is a ``ProviderTimeout``; a URL it cannot request (no host, a scheme
    other than http and https) a ``PermanentProviderError``; any other (refused, reset or
    dropped connection, a body cut short, a TLS failure) a ``ConnectionFailed``; a proxy
    that refuses its credentials (407) an ``AuthenticationFailed``: no retry changes them."""
    import aiohttp

    if isinstance(exc, TimeoutError):
        return _timeout_error(exc, url, endpoint, model)
    if isinstance(exc, aiohttp.ClientHttpProxyError) and exc.status == 407:
        return AuthenticationFailed(
            f"the proxy for {shown_url(url)} refused its credentials (HTTP 407); check the "
            "user name and password in HTTPS_PROXY / HTTP_PROXY",
            provider=endpoint.provider,
            model=model,
        )
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return PermanentProviderError(
            f"{endpoint.provider} cannot be called at {shown_url(url)}: it is not an http(s) "
            "URL with a host; check base_url",
            provider=endpoint.provider,
            model=model,
        )
    return _connection_failed(exc, url, endpoint, model, proxy)


def _timeout_error(exc: Exception, url: URL, endpoint: Endpoint, model: str) -> ProviderError:
    return ProviderTimeout(
        f"{endpoint.provider} did not answer in time ({type(exc).__name__} from "
        f"{shown_url(url)}); "
        "the server may be overloaded, or the model slow for this prompt",
        provider=endpoint.provider,
        model=model,
    )


# aiohttp's "Cannot connect to host h:443 ssl:<ssl.SSLContext object at 0x7f...> [...]": the
# repr of its TLS settings (or `ssl:default`) says nothing to a user, and a report must not
# change with a memory address.
_AIOHTTP_SSL = re.compile(r" ssl:(?:<[^>]*>|\S+)")


def _connection_failed(
    exc: Exception, url: URL, endpoint: Endpoint, model: str, proxy: URL | None = None
) -> ProviderError:
    # The client's own message may quote the URL, its user name and query string included,
    # or the proxy's URL with its password (a proxy refusing the tunnel: 407).
    import aiohttp

    urls = (url,) if proxy is None else (url, proxy)
    detail = _masked(_AIOHTTP_SSL.sub("", str(exc)) or type(exc).__name__, endpoint, *urls)
    if proxy is not None and isinstance(exc, aiohttp.ClientProxyConnectionError):
        # The server was never reached: advice about it and its base_url would mislead.
        return ConnectionFailed(
            f"could not reach the proxy {shown_url(proxy)} ({url.scheme.upper()}_PROXY) for "
            f"{endpoint.provider} at {shown_url(url)}: {detail}; check that the proxy runs, "
            "or list the host in NO_PROXY",
            provider=endpoint.provider,
            model=model,
        )
    return ConnectionFailed(
        f"could not talk to {endpoint.provider} at {shown_url(url)}: {detail}; "
        "check that the server runs and base_url is right",
        provider=endpoint.provider,
        model=model,
    )


def error_for_status(
    response: aiohttp.ClientResponse, body: bytes, *, endpoint: Endpoint, model: str
) -> ProviderError:
    """The typed error for a non-200 reply (its ``body`` read), carrying the server's message."""
    status = response.status
    message, quota = _server_error(response, body, endpoint)
    where = f"{endpoint.provider} answered HTTP {status} for model {model!r}: {message}"
    return _error_for(status, where, response.headers, endpoint, model, quota=quota)


def stream_error(
    endpoint: Endpoint, model: str, status: int, message: Any, *, quota: bool = False
) -> ProviderError:
    """The typed error for an error a server reported after its 200 (Anthropic's ``error``
    event, an ``error`` object in an OpenAI-compatible chunk or whole body, an Ollama line), as
    the HTTP ``status`` its kind stands for: an overloaded server mid-stream is retried as its
    529 is. ``quota``: the error names a used-up quota (``names_quota``)."""
    text = message if isinstance(message, str) and message else "(no message)"
    where = (
        f"{endpoint.provider} reported an error after its HTTP 200 for model "
        f"{model!r} (as HTTP {status}): {_truncate(text, endpoint)}"
    )
    return _error_for(status, where, {}, endpoint, model, quota=quota)


QUOTA_CODE = "insufficient_quota"
"""OpenAI's name for a used-up quota or credit, in a 429's ``error.code`` and ``type``."""


def names_quota(error: Mapping[str, Any]) -> bool:
    """Whether an error object names a used-up quota (``QUOTA_CODE`` as its code or type)."""
    return QUOTA_CODE in (error.get("code"), error.get("type"))


def _error_for(
    status: int,
    where: str,
    headers: Mapping[str, str],
    endpoint: Endpoint,
    model: str,
    *,
    quota: bool,
) -> ProviderError:
    common: dict[str, Any] = {"provider": endpoint.provider, "model": model, "status": status}
    if quota:
        return QuotaExhausted(
            f"{where}; the account's quota or credit is used up ({QUOTA_CODE}): check the "
            f"plan and billing of the key in {endpoint.key_hint}",
            **common,
        )
    if status == 429:
        return RateLimited(
            f"{where}; slow down (rate_limit, max_concurrency) or wait",
            retry_after=limit_wait(headers, status=status),
            **common,
        )
    if status in (408, 409) or 500 <= status <= 599:
        return ProviderUnavailable(
            f"{where}; the provider is having trouble, a retry may succeed",
            retry_after=retry_after_seconds(headers),
            **common,
        )
    if status in (401, 403):
        return AuthenticationFailed(
            f"{where}; the API key is missing, wrong or lacks access: set {endpoint.key_hint}",
            **common,
        )
    if 300 <= status <= 399:
        return BadRequest(f"{where}; redirects are not followed: check base_url", **common)
    return BadRequest(f"{where}; the request was refused, retrying cannot help", **common)


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (preferred: finer) or ``Retry-After``.

    ``Retry-After`` is either seconds or an HTTP-date (RFC 9110 §10.2.3). Unparseable or
    negative values give ``None``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if (millis := _non_negative(lowered.get("retry-after-ms"))) is not None:
        return millis / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    if (seconds := _non_negative(value)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def rate_limit_hint(
    headers: Mapping[str, str], *, status: int = 200, now: float | None = None
) -> RateLimitHint | None:
    """What one reply's rate-limit headers say of the next calls; None when they say nothing.

    ``wait``, seconds every new call must wait: ``retry-after-ms`` / ``Retry-After`` on a 429
    or 503 (``retry_after_seconds``), or a token limit used up (remaining 0) until it is whole
    again. The request limit is told as it is (``remaining``, ``limit``, ``full_in``):

    - OpenAI: ``x-ratelimit-{remaining,limit,reset}-{requests,tokens}``, a reset being the
      time until that limit is whole again, as a duration (``20ms``, ``1s``, ``6m0s``; a bare
      number is seconds);
    - Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,
      limit,reset}``, a reset being when that limit is whole again (RFC 3339).

    A 200 counts too: a reply that used the last of a limit says the next call would be
    refused. The longest wait wins. A value that does not parse is ignored.
    """
    waits: list[float] = []
    if status in (429, 503) and (after := retry_after_seconds(headers, now=now)) is not None:
        waits.append(after)
    lowered = {name.lower(): value for name, value in headers.items()}
    remaining_requests: int | None = None
    limit_requests: int | None = None
    requests_full_in: float | None = None
    for remaining_header, (limit_header, reset_header, parse) in _LIMIT_HEADERS.items():
        remaining = _non_negative(lowered.get(remaining_header))
        if remaining is None:
            continue
        reset = lowered.get(reset_header)
        full_in = parse(reset, time.time() if now is None else now) if reset else None
        if remaining_header in _REQUEST_LIMITS:
            limit = _non_negative(lowered.get(limit_header))
            remaining_requests, requests_full_in = int(remaining), full_in
            limit_requests = None if limit is None else int(limit)
        elif remaining == 0 and full_in is not None:
            waits.append(full_in)
    if not waits and remaining_requests is None:
        return None
    wait = max(waits, default=None)
    return RateLimitHint(wait, remaining_requests, limit_requests, requests_full_in)


def limit_wait(
    headers: Mapping[str, str], *, status: int = 200, now: float | None = None
) -> float | None:
    """Seconds before the provider takes another call, or None (``rate_limit_hint``)."""
    hint = rate_limit_hint(headers, status=status, now=now)
    return None if hint is None else hint.longest_wait


def _duration(value: str, _: float) -> float | None:
    """OpenAI's reset: ``1s``, ``6m0s``, ``1h2m3.5s``, ``20ms`` (Go's notation), or seconds."""
    value = value.strip()
    if (seconds := _non_negative(value)) is not None:
        return seconds
    if not _DURATION.fullmatch(value):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))


def _timestamp(value: str, now: float) -> float | None:
    """Anthropic's reset: an RFC 3339 time (``2025-01-15T14:24:00Z``), as seconds from now."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:  # RFC 3339 always has an offset: a time without one is garbage
        return None
    return max(0.0, when.timestamp() - now)


_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_ANTHROPIC_LIMITS = ("requests", "tokens", "input-tokens", "output-tokens")
_REQUEST_LIMITS = ("x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining")
# A limit's "remaining" header: its "limit" header, its "reset" header and how to read the reset.
_LIMIT_HEADERS: dict[str, tuple[str, str, Callable[[str, float], float | None]]] = {
    "x-ratelimit-remaining-requests": (
        "x-ratelimit-limit-requests",
        "x-ratelimit-reset-requests",
        _duration,
    ),
    "x-ratelimit-remaining-tokens": (
        "x-ratelimit-limit-tokens",
        "x-ratelimit-reset-tokens",
        _duration,
    ),
    **{
        f"anthropic-ratelimit-{limit}-remaining": (
            f"anthropic-ratelimit-{limit}-limit",
            f"anthropic-ratelimit-{limit}-reset",
            _timestamp,
        )
        for limit in _ANTHROPIC_LIMITS
    },
}


def _non_negative(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    # inf and NaN are no number of seconds (nor of tokens) a server can mean.
    return number if number >= 0 and math.isfinite(number) else None


def _server_error(
    response: aiohttp.ClientResponse, body: bytes, endpoint: Endpoint
) -> tuple[str, bool]:
    """The error message the server put in its body, whatever the protocol's shape, masked,
    and whether it names a used-up quota (``names_quota``)."""
    text = _text(response, body).strip()
    try:
        payload = json.loads(text)
    except ValueError:
        if _HTML.match(text):
            return _html_title(text, endpoint) or response.reason or "(an HTML page)", False
        return _truncate(text, endpoint) or response.reason or "(empty body)", False
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            # OpenAI and Anthropic
            return _truncate(error["message"], endpoint), names_quota(error)
        if isinstance(error, str):
            return _truncate(error, endpoint), False  # Ollama
    return _truncate(text, endpoint), False


_HTML = re.compile(r"<(?:!doctype|html|head)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def _html_title(text: str, endpoint: Endpoint) -> str | None:
    """What an HTML error page (a proxy's, a CDN's: nginx, Cloudflare) says in its title,
    marked as a page: its markup, kilobytes before any text, would fill the message."""
    import html

    found = _TITLE.search(text)
    title = " ".join(html.unescape(found.group(1)).split()) if found else ""
    return f"{_truncate(title, endpoint)} (an HTML page: a proxy's or gateway's)" if title else None


def _text(response: aiohttp.ClientResponse, body: bytes) -> str:
    try:
        return body.decode(response.charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know, in the server's Content-Type
        return body.decode("utf-8", errors="replace")


def _json_dict(data: str | bytes) -> dict[str, Any] | None:
    """``data`` as the JSON object it should be (RFC 8259 JSON: UTF-8, no NaN), or None.

    A whole reply and each event of a streamed one are read alike. orjson reads the small
    documents a stream is made of (one every few tokens) at about a third of the standard
    decoder's cost (docs/performance.md), and refuses nesting past 1,024 levels with the
    error it gives for any other malformed text (the standard decoder runs out of stack);
    it reads an integer past 64 bits as a float (``usage`` refuses such a count all the same).
    """
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _json_object(
    response: aiohttp.ClientResponse, body: bytes, *, endpoint: Endpoint, model: str
) -> dict[str, Any]:
    payload = _json_dict(body)
    if payload is None:
        start, _ = _redactor(endpoint).head(_text(response, body), 80)
        raise MalformedResponse(
            f"{endpoint.provider} sent a reply that is not a JSON object "
            f"({len(body)} bytes starting {start!r}); the server may not speak "
            "this protocol, check the provider type and base_url",
            provider=endpoint.provider,
            model=model,
            status=response.status,
        )
    return payload


def malformed(endpoint: Endpoint, model: str, what: str) -> MalformedResponse:
    """The error for a JSON reply that lacks what the protocol promises."""
    return MalformedResponse(
        f"{endpoint.provider} sent a reply without {what}; "
        "the server may not speak this protocol, check the provider type and base_url",
        provider=endpoint.provider,
        model=model,
        status=200,
    )


def cut_short(endpoint: Endpoint, model: str, marker: str) -> ConnectionFailed:
    """The error for a stream that ended without the protocol's end marker: the connection
    closed in the middle of the reply (a proxy's timeout, a restart), which a retry may mend."""
    return ConnectionFailed(
        f"{endpoint.provider} ended its streamed reply before {marker}: the connection "
        "closed in the middle of the reply; a retry may succeed",
        provider=endpoint.provider,
        model=model,
    )


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: for optional parts of a reply."""
    return value if isinstance(value, dict) else {}


def usage(
    payload: Mapping[str, Any], input_key: str, output_key: str, endpoint: Endpoint, model: str
) -> Usage:
    """The token counts of a reply's ``payload`` (a usage object, or the reply itself), each as
    ``count`` reads it."""
    return Usage(
        input_tokens=count(payload, input_key, endpoint, model),
        output_tokens=count(payload, output_key, endpoint, model),
    )


def count(payload: Mapping[str, Any], key: str, endpoint: Endpoint, model: str) -> int:
    """The token count ``payload[key]`` of a reply's usage.

    A count the server left out or sent as nonsense (negative, not an integer) is 0; a count
    past ``MAX_REPLY_TOKENS`` (100 million) is refused as a malformed reply: budgets and costs
    would carry it, and no model reads or writes that much."""
    value = payload.get(key)
    if isinstance(value, int | float) and value > MAX_REPLY_TOKENS:  # a float: past 64 bits
        raise malformed(endpoint, model, f"a believable {key} (it says {value:.3g} tokens)")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return 0
    return value


@contextlib.contextmanager
def billed(counted: Usage) -> Iterator[None]:
    """A malformed reply raised inside carries ``counted``, the usage the reply reported: a
    reply read this far was answered, and is paid for, even if the rest cannot be used."""
    try:
        yield
    except MalformedResponse as exc:
        exc.tokens = (
            counted.input_tokens,
            counted.output_tokens,
            counted.cache_read_tokens,
            counted.cache_write_tokens,
        )
        raise


def _truncate(text: str, endpoint: Endpoint) -> str:
    shown, cut = _redactor(endpoint).head(text, _ERROR_TEXT_LIMIT)
    return f"{shown}..." if cut else shown


def _masked(text: str, endpoint: Endpoint, *urls: URL) -> str:
    """``text`` without the key, nor each of ``urls``' user name, password and query string."""
    hidden: list[str | None] = []
    for url in urls:
        userinfo = f"{url.raw_user or ''}:{url.raw_password}" if url.raw_password else url.raw_user
        hidden += (userinfo, url.raw_user, url.user, url.raw_password, url.password)
        hidden += (url.raw_query_string, url.query_string)
    return _redactor(endpoint).including(*hidden).redact(text)


def _redactor(endpoint: Endpoint) -> Redactor:
    """The run's redactor, knowing the endpoint's key too (a provider used outside a run)."""
    return redact.active().including(endpoint.secret)


def shown_url(url: URL) -> str:
    """``url`` fit for a message: a user name, a password or a query string (which may hold
    a key: ``?key=...``) is shown as ``***``."""
    if url.raw_user or url.raw_password:
        url = url.with_user("***").with_password(None)
    if url.raw_query_string:
        url = url.with_query("***")
    return str(url)


def shown_address(text: str) -> str:
    """``text``, a URL a user gave (``--metrics-push``, ``--otlp-endpoint``), fit for a message
    as ``shown_url`` makes one; text that cannot be read as a URL is shown as ``***``."""
    from yarl import URL

    try:
        return shown_url(URL(text))
    except ValueError:
        return "***"
