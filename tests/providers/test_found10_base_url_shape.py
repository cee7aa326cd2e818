"""A provider `base_url` that no request can go to validated, and each step using it then
failed at run time, after the steps before it had run (and spent): a URL without a scheme or
with another than http(s), and the endpoint pasted whole (`.../v1/chat/completions`, to which
agnoctl adds `/chat/completions` again, SPEC "Providers"), or a fragment. Each is an error on
the entry now. An ollama `base_url` may still be a bare host, as `OLLAMA_HOST` is.

A base_url with a query (Azure OpenAI's `?api-version=...`) had the path added after the query
(`/v1?api-version=1/chat/completions`): every request went to `/v1`, a 404. The path now goes
before the query, which is kept."""

from __future__ import annotations

import json
from pathlib import Path

from agnoctl.testing.fake_llm import FakeLLMThread
from tests.conftest import RunCli

BAD = {
    "noscheme": ("openai", "127.0.0.1:8000/v1?key=sk-123456789", "http(s) URL"),
    "ftp": ("anthropic", "ftp://example.com", "http(s) URL"),
    "nohost": ("openai", "http:///v1", "http(s) URL"),
    "chat": ("openai", "http://127.0.0.1:8000/v1/chat/completions/", "/chat/completions"),
    "messages": ("anthropic", "https://api.anthropic.com/v1/messages?key=sk-123456789", "***"),
    "api": ("ollama", "http://127.0.0.1:11434/api/chat", "/api/chat"),
    "fragment": ("anthropic", "http://127.0.0.1:8000/?key=sk-123456789#x", "fragment"),
}
GOOD = {
    "openai": ("openai", "http://127.0.0.1:8000/v1"),
    "anthropic": ("anthropic", "https://api.anthropic.com/"),
    "host": ("ollama", "gpu-box:11434"),
    "unset": ("openai", ""),
    "query": ("openai", "http://127.0.0.1:8000/v1/?api-version=2024-10-21"),
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


def test_a_base_url_query_comes_after_the_path(
    tmp_path: Path, run_cli: RunCli, fake_llm: FakeLLMThread
) -> None:
    base = f"{fake_llm.url}/v1/?api-version=2024-10-21"
    (tmp_path / "flow.yaml").write_text(
        _flow({"azure": ("openai", base)}) + "outputs:\n  o: '{{ steps.azure.output }}'\n",
        encoding="utf-8",
    )
    done = run_cli("run", "flow.yaml", "--no-cache", "--report-dir", "out", "-q")
    assert done.returncode == 0, done.stderr
    assert [r["path"] for r in fake_llm.stats()["recent"]] == ["/v1/chat/completions"]
    assert (tmp_path / "out" / "outputs" / "o.txt").read_text() == "echo: p"
