"""A model calls a tool by its name, and OpenAI and Anthropic take a tool name only as letters,
digits, `_` and `-`, at most 64 of them: a tool named `fetch.page`, `my tool` or longer
validated, and every call of an agent listing it then failed with the provider's 400. Such a
name is E205 at its key now."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

LONG = "t" * 65


def test_a_tool_name_the_providers_refuse_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: t\n"
        "tools:\n"
        '  "fetch.page": {run: [echo]}\n'
        '  "my tool": {run: [echo]}\n'
        f"  {LONG}: {{run: [echo]}}\n"
        f"  {'t' * 64}: {{run: [echo]}}\n"
        "  fetch-page_2: {run: [echo]}\n"
        f"agents:\n  w: {{model: mock/echo, tools: [fetch.page, my tool, {LONG}, {'t' * 64},"
        " fetch-page_2]}\n"
        "steps:\n  a: {agent: w, prompt: p}\n",
        encoding="utf-8",
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    found = json.loads(done.stdout)["diagnostics"]
    assert [(d["code"], d["line"], d["col"]) for d in found] == [
        ("E205", 4, 3),
        ("E205", 5, 3),
        ("E205", 6, 3),
    ]
    assert "letters, digits, _ and -, at most 64" in found[0]["message"]
