"""`max_concurrency: "${N:-4}"` is a string (a quoted value stays text, loader.py), and the
error's hint said `write the number without quotes: max_concurrency: 4`, dropping the
variable the author meant to read. The hint now says to write the `${...}` unquoted, which
reads it as a number."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli


def test_a_quoted_variable_is_told_to_go_unquoted(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: t\n"
        "agents:\n  w:\n    model: mock/echo\n    max_concurrency: '${T_UNSET_N:-4}'\n"
        "steps:\n  a: {agent: w, prompt: p, for_each: '[1]'}\n",
        encoding="utf-8",
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert found["code"] == "E203"
    assert found["hint"] == (
        "write the variable without quotes, `max_concurrency: ${T_UNSET_N:-4}`, to read it "
        "as a number"
    )
