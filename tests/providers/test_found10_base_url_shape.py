"""A provider `base_url` that no request can go to validated, and each step using it then
failed at run time, after the steps before it had run (and spent): a URL without a scheme or
with another than http(s), and the endpoint pasted whole (`.../v1/chat/completions`, to which
agnoctl adds `/chat/completions` again, SPEC "Providers"), or a query or fragment, after which
the path was added (`/v1?key=k/chat/completions`: a 404). Each is an error on the entry now.
An ollama `base_url` may still be a bare host, as `OLLAMA_HOST` is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

BAD = {
    "noscheme": ("openai", "127.0.0.1:8000/v1", "http(s) URL"),
    "ftp": ("anthropic", "ftp://example.com", "http(s) URL"),
    "nohost": ("openai", "http:///v1", "http(s) URL"),
    "chat": ("openai", "http://127.0.0.1:8000/v1/chat/completions/", "/chat/completions"),
    "messages": ("anthropic", "https://api.anthropic.com/v1/messages", "/v1/messages"),
    "api": ("ollama", "http://127.0.0.1:11434/api/chat", "/api/chat"),
    "query": ("openai", "http://127.0.0.1:8000/v1?key=sk-123456789", "query"),
    "fragment": ("anthropic", "http://127.0.0.1:8000#x", "query"),
}
GOOD = {
    "openai": ("openai", "http://127.0.0.1:8000/v1"),
    "anthropic": ("anthropic", "https://api.anthropic.com/"),
    "host": ("ollama", "gpu-box:11434"),
    "unset": ("openai", ""),
}


def _flow(entries: dict[str, tuple[str, str]]) -> str:
    providers = "".join(
        f"  {name}: {{type: {kind}, base_url: {json.dumps(url)}}}\n"
        for name, (kind, url) in entries.items()
    )
    agents = "".join(f"  {name}: {{model: {name}/m}}\n" for name in entries)
    steps = "".join(f"  {name}: {{agent: {name}, prompt: p}}\n" for name in entries)
    return f"version: 1\nname: t\nproviders:\n{providers}agents:\n{agents}steps:\n{steps}"


def test_a_base_url_no_request_can_go_to_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "bad.yaml").write_text(
        _flow({name: (kind, url) for name, (kind, url, _) in BAD.items()}), encoding="utf-8"
    )
    (tmp_path / "good.yaml").write_text(_flow(GOOD), encoding="utf-8")
    done = run_cli("validate", "--format", "json", "bad.yaml", "good.yaml")
    assert done.returncode == 2
    found = json.loads(done.stdout)["diagnostics"]
    assert [(d["file"], d["code"], d["line"]) for d in found] == [
        ("bad.yaml", "E206", line) for line in range(4, 4 + len(BAD))
    ]
    for finding, (name, (_, _, said)) in zip(found, BAD.items(), strict=True):
        assert finding["message"].startswith(f"`providers.{name}`: `base_url` ")
        assert said in finding["message"]
        assert "sk-123456789" not in finding["message"]
