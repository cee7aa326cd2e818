"""The aiohttp session trusts the environment only when a proxy variable is set: trusting it
costs two worker-thread look-ups (``~/.netrc``, proxies) on every request."""

from __future__ import annotations

import os

import pytest

from agnoctl.providers import http


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_no_proxy_variable_means_no_environment_lookups(
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    assert http._proxy_configured() is False
    no_proxy_variables.setenv("NO_PROXY", "127.0.0.1")  # an exclusion list is not a proxy
    assert http._proxy_configured() is False


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "http_proxy", "WS_PROXY"])
def test_a_proxy_variable_keeps_the_environment_trusted(
    no_proxy_variables: pytest.MonkeyPatch, name: str
) -> None:
    no_proxy_variables.setenv(name, "http://127.0.0.1:3128")
    assert http._proxy_configured() is True
