"""The proxy variables are read once per client and each request given its proxy: the aiohttp
session never trusts the environment itself, which would read ``~/.netrc`` too and cost two
worker-thread look-ups on every request."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import anyio.abc
import pytest

from agnoctl.errors import AuthenticationFailed, UsageError
from agnoctl.providers import http
from agnoctl.providers.base import CallContext, Message, ModelRequest
from agnoctl.providers.http import HttpClient
from agnoctl.testing.fake_llm import FakeLLMThread
from tests.providers.test_http_providers import make


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_no_proxy_variable_means_no_environment_lookups(
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    assert http._env_proxies() == {}
    no_proxy_variables.setenv("NO_PROXY", "127.0.0.1")  # an exclusion list is not a proxy
    assert http._env_proxies() == {}


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "http_proxy"])
def test_a_proxy_variable_is_read(no_proxy_variables: pytest.MonkeyPatch, name: str) -> None:
    no_proxy_variables.setenv(name, "http://127.0.0.1:3128")
    assert [str(url) for url in http._env_proxies().values()] == ["http://127.0.0.1:3128"]


def _ask() -> ModelRequest:
    return ModelRequest("m", (Message("user", "hi"),), context=CallContext(step_id="s"))


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_a_netrc_entry_for_the_provider_is_not_read_with_a_proxy_set(
    no_proxy_variables: pytest.MonkeyPatch,
    tmp_path: Path,
    fake_llm: FakeLLMThread,
    protocol: str,
) -> None:
    """aiohttp's trust_env reads ~/.netrc too: an entry for the provider's host made a call
    carrying its key a raw ValueError (Authorization twice), and would have sent the user's
    netrc password to a provider keyed otherwise."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    no_proxy_variables.setenv("NETRC", str(netrc))
    no_proxy_variables.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    no_proxy_variables.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient()
    try:
        reply = await make(protocol, client, fake_llm.url).request(_ask())
    finally:
        await client.aclose()
    assert reply.text


@pytest.mark.anyio
async def test_a_request_goes_through_the_proxy_the_environment_names(
    no_proxy_variables: pytest.MonkeyPatch, fake_llm: FakeLLMThread
) -> None:
    no_proxy_variables.setenv("HTTP_PROXY", fake_llm.url)  # the fake server as the proxy
    client = HttpClient()
    try:
        provider = make("openai", client, "http://provider.invalid")
        reply = await provider.request(_ask())
    finally:
        await client.aclose()
    assert reply.text
    assert fake_llm.stats()["requests"] == 1


def test_a_proxy_without_a_scheme_is_an_http_proxy(
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    """``HTTP_PROXY=proxy:3128`` works with curl and worked with httpx; aiohttp took it as a
    URL of scheme "proxy" and the call failed blaming base_url."""
    no_proxy_variables.setenv("HTTP_PROXY", "127.0.0.1:3128")
    assert [str(url) for url in http._env_proxies().values()] == ["http://127.0.0.1:3128"]


@pytest.mark.parametrize("value", ["http://127.0.0.1:99999", "http://user:pw@[::1"])
def test_a_proxy_that_is_no_url_is_a_usage_error_naming_the_variable(
    no_proxy_variables: pytest.MonkeyPatch, value: str
) -> None:
    no_proxy_variables.setenv("HTTPS_PROXY", value)
    with pytest.raises(UsageError, match="HTTPS_PROXY is not a URL") as caught:
        http._env_proxies()
    assert "pw" not in str(caught.value)


@pytest.mark.anyio
async def test_a_proxy_refusing_the_tunnel_is_reported_without_its_password(
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    """aiohttp's message for a proxy's 407 quotes the proxy's URL, credentials included."""

    async def refuse(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
            await stream.send(b"Content-Length: 0\r\n\r\n")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    no_proxy_variables.setenv("HTTPS_PROXY", f"http://someone:proxy-pw-123@127.0.0.1:{port}")
    client = HttpClient()
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, refuse)
        try:
            # Not a retried connection failure: the same credentials are refused again.
            with pytest.raises(AuthenticationFailed, match="refused its credentials") as caught:
                await make("openai", client, "https://provider.invalid").request(_ask())
        finally:
            await client.aclose()
            tasks.cancel_scope.cancel()
    assert "proxy-pw-123" not in str(caught.value)


def test_an_https_proxy_is_kept(no_proxy_variables: pytest.MonkeyPatch) -> None:
    """aiohttp's own reading of the environment drops an https:// proxy (the calls then go
    around it); its connector takes one given per request."""
    no_proxy_variables.setenv("HTTPS_PROXY", "https://proxy.example:3129")
    assert [str(url) for url in http._env_proxies().values()] == ["https://proxy.example:3129"]


def test_a_socks_proxy_is_refused(no_proxy_variables: pytest.MonkeyPatch) -> None:
    no_proxy_variables.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(UsageError, match="HTTPS_PROXY is a socks5:// proxy"):
        http._env_proxies()
