"""An ollama `base_url` written as a bare host (as `OLLAMA_HOST` is) skipped every check of
docs/providers.md: `gpu-box:11434/api/chat` (the endpoint pasted whole, sent to
`/api/chat/api/chat`), a fragment, or a port that is no number validated, and each step on the
entry then failed at run time (a port that is no number passed with a scheme too). A query was
dropped without a word, where a URL with a scheme keeps it. A bare host is now held to the
checks of `http://<host>` (E206), and keeps its query."""

from __future__ import annotations

import json
from pathlib import Path

from agnoctl.providers.registry import resolve
from agnoctl.spec.models import ProviderSpec
from tests.conftest import RunCli

BAD = {
    "endpoint": ("gpu-box:11434/api/chat/", "/api/chat"),
    "fragment": ("gpu-box:11434#x", "fragment"),
    "port": ("gpu-box:abc", "http(s) URL"),
    "schemeport": ("http://gpu-box:abc", "http(s) URL"),
}
GOOD = ("gpu-box", ":11500", "0.0.0.0", "[::1]:11500/", "gpu-box/ollama?k=v")


def _flow(urls: dict[str, str]) -> str:
    providers = "".join(
        f"  {name}: {{type: ollama, base_url: {json.dumps(url)}}}\n" for name, url in urls.items()
    )
    agents = "".join(f"  {name}: {{model: {name}/m}}\n" for name in urls)
    steps = "".join(f"  {name}: {{agent: {name}, prompt: p}}\n" for name in urls)
    return f"version: 1\nname: t\nproviders:\n{providers}agents:\n{agents}steps:\n{steps}"


def test_a_bare_ollama_host_is_checked_as_a_url(tmp_path: Path, run_cli: RunCli) -> None:
    bad = {name: url for name, (url, _) in BAD.items()}
    good = {f"good{i}": url for i, url in enumerate(GOOD)}
    (tmp_path / "bad.yaml").write_text(_flow(bad), encoding="utf-8")
    (tmp_path / "good.yaml").write_text(_flow(good), encoding="utf-8")
    done = run_cli("validate", "--format", "json", "bad.yaml", "good.yaml")
    found = json.loads(done.stdout)["diagnostics"]
    assert [(d["file"], d["code"], d["line"]) for d in found] == [
        ("bad.yaml", "E206", line) for line in range(4, 4 + len(BAD))
    ]
    for finding, (name, (url, said)) in zip(found, BAD.items(), strict=True):
        assert finding["message"].startswith(f"`providers.{name}`: `base_url` {url!r}")
        assert said in finding["message"]
    assert "so write 'gpu-box:11434" in found[0]["message"]


def test_a_bare_ollama_host_keeps_its_query() -> None:
    spec = ProviderSpec(type="ollama", base_url="gpu-box/ollama?k=v")
    assert resolve("box", spec, {}).base_url == "http://gpu-box:11434/ollama?k=v"
