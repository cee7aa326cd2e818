"""OLLAMA_HOST is read as the ollama CLI reads it: a value without a scheme and without a port
means port 11434, and an empty host means 127.0.0.1. `OLLAMA_HOST=0.0.0.0` (how Ollama's FAQ
exposes a server) sent every call to port 80, and `OLLAMA_HOST=:11500` was no URL at all."""

from __future__ import annotations

import pytest

from agnoctl.providers.registry import resolve
from agnoctl.spec.models import ProviderSpec

CASES = {
    "0.0.0.0": "http://0.0.0.0:11434",
    "localhost": "http://localhost:11434",
    "gpu-box/": "http://gpu-box:11434",
    ":11500": "http://127.0.0.1:11500",
    "127.0.0.1:11500": "http://127.0.0.1:11500",
    " 10.0.0.5 ": "http://10.0.0.5:11434",
    "[::1]": "http://[::1]:11434",
    "http://gpu-box": "http://gpu-box",  # a scheme: that scheme's own port, as ollama does
    "https://ollama.example.com/": "https://ollama.example.com",
}


@pytest.mark.parametrize("value", sorted(CASES))
def test_ollama_host_as_the_ollama_cli_reads_it(value: str) -> None:
    assert resolve("ollama", None, {"OLLAMA_HOST": value}).base_url == CASES[value]


def test_an_ollama_entry_base_url_is_read_the_same_way() -> None:
    spec = ProviderSpec(type="ollama", base_url="gpu-box")
    assert resolve("box", spec, {}).base_url == "http://gpu-box:11434"
