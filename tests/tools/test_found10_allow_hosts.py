"""An `allow_hosts` entry that no URL's host can equal (a URL, a path, a `:port`, a wildcard,
an empty text, or no entry at all) validated, and the tool then refused every call the model
made: a setting silently ignored. It is an error naming the entry, with the host to write."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

ENTRIES = {
    "https://en.wikipedia.org": "not a URL",
    "en.wikipedia.org/wiki": "not a URL",
    "en.wikipedia.org:443": "any port",
    "*.example.com": "wildcard",
    "": "empty",
    "[::1]": "without brackets",
}


def _flow(hosts: list[str]) -> str:
    return (
        "version: 1\nname: t\n"
        f"tools:\n  web: {{type: http_get, allow_hosts: {json.dumps(hosts)}}}\n"
        "agents:\n  w: {model: mock/echo, tools: [web]}\n"
        "steps:\n  a: {agent: w, prompt: p}\n"
    )


def test_entries_no_host_can_match_are_errors(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "bad.yaml").write_text(_flow(list(ENTRIES)), encoding="utf-8")
    (tmp_path / "none.yaml").write_text(_flow([]), encoding="utf-8")
    (tmp_path / "good.yaml").write_text(
        _flow(["en.wikipedia.org", "EN.Wikipedia.org.", "127.0.0.1", "::1"]), encoding="utf-8"
    )
    done = run_cli("validate", "--format", "json", "bad.yaml", "none.yaml", "good.yaml")
    assert done.returncode == 2
    found = json.loads(done.stdout)["diagnostics"]
    bad = [d for d in found if d["file"].endswith("bad.yaml")]
    assert [(d["code"], d["line"]) for d in bad] == [("E206", 4)] * len(ENTRIES)
    for finding, (entry, reason) in zip(bad, ENTRIES.items(), strict=True):
        assert f"`tools.web.allow_hosts[{list(ENTRIES).index(entry)}]`" in finding["message"]
        assert reason in finding["message"]
    [empty] = [d for d in found if d["file"].endswith("none.yaml")]
    assert "`tools.web.allow_hosts`" in empty["message"]
    assert "no host" in empty["message"]
    assert not [d for d in found if d["file"].endswith("good.yaml")]
