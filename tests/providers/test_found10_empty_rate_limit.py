"""`rate_limit: {}` (or with both limits left out) validated and limited nothing: a setting
silently ignored. It is an error naming the two limits it may set."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli


def test_a_rate_limit_that_sets_no_limit_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: t\n"
        "providers:\n  local: {type: openai, base_url: 'http://127.0.0.1:9/v1', rate_limit: {}}\n"
        "agents:\n  w: {model: local/m}\n"
        "steps:\n  a: {agent: w, prompt: p}\n",
        encoding="utf-8",
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["line"]) == ("E206", 4)
    assert "`providers.local.rate_limit`" in found["message"]
    assert "requests_per_minute" in found["message"] and "tokens_per_minute" in found["message"]
