"""The providers' client itself (aiohttp's session, agnoctl/providers/http.py): TLS set up only
for https:// base URLs, redirects never followed, URLs it cannot request and CA bundles that do
not load refused with a clear error."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from agnoctl.errors import BadRequest, PermanentProviderError, UsageError
from agnoctl.providers import http as wire
from agnoctl.providers.http import HttpClient
from agnoctl.testing.fake_llm import FakeLLMThread, FakeReply
from tests.providers.test_http_providers import ask, make

pytestmark = pytest.mark.anyio


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each time a TLS context is loaded (its ``trust_env``)."""
    calls: list[bool] = []

    def counting(trust_env: bool) -> ssl.SSLContext:
        calls.append(trust_env)
        return ssl.create_default_context()

    monkeypatch.setattr(wire, "_ssl_context", counting)
    return calls


async def test_plain_http_loads_no_ca_bundle(
    fake_llm: FakeLLMThread, http: HttpClient, loaded: list[bool]
) -> None:
    assert (await make("openai", http, fake_llm.url).request(ask("x"))).text == "echo: x"
    assert loaded == []


def test_build_loads_the_ca_bundle_once_when_asked(loaded: list[bool]) -> None:
    holder = HttpClient(trust_env=False)
    holder.build()
    assert loaded == []
    holder.build(tls=True)
    holder.build(tls=True)
    assert loaded == [False]
    assert holder.client.ssl_for("http") is True  # plain http sets no TLS up


async def test_a_redirect_is_not_followed(fake_llm: FakeLLMThread, http: HttpClient) -> None:
    provider = make("openai", http, fake_llm.url)
    with pytest.raises(BadRequest, match="redirects are not followed") as caught:
        fake_llm.server.config.script.append(FakeReply(status=307, error="moved"))
        await provider.request(ask("x"))
    assert caught.value.status == 307
    assert fake_llm.stats()["requests"] == 1


@pytest.mark.parametrize("base_url", ["http://", "ftp://127.0.0.1:9"])
async def test_a_url_it_cannot_request_is_a_permanent_error(
    base_url: str, http: HttpClient
) -> None:
    provider = make("openai", http, base_url, api_key="sk-planted-SECRET-0123456789")
    with pytest.raises(PermanentProviderError, match=r"not an http\(s\) URL with a host") as e:
        await provider.request(ask("x"))
    assert not e.value.retryable
    assert "SECRET" not in str(e.value)


def test_a_ca_bundle_that_does_not_load_names_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "corporate.pem"
    bundle.write_text("not a certificate\n", encoding="utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with pytest.raises(UsageError, match=r"CA certificates in SSL_CERT_FILE .*could not be loaded"):
        wire._ssl_context.__wrapped__(True)
