"""Where a duplicate key's first occurrence is, through the real CLI.

Found by the validate/plan pass: `{agent: w, prompt: x, prompt: y}` said "duplicate key
'prompt' (first at line 5)" at 5:28: the same line, so the message named no place the reader
could tell from the error's own. The first one is named by line and column.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli


def test_the_first_key_is_named_by_line_and_column(run_cli: RunCli, tmp_path: Path) -> None:
    text = "version: 1\nname: d\nsteps:\n  a: {run: [echo], cwd: x, cwd: y}\n"
    (tmp_path / "wf.yaml").write_text(text)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    [found] = json.loads(done.stdout)["diagnostics"]
    line = text.splitlines()[3]
    assert (found["code"], found["line"], found["col"]) == ("E110", 4, line.rindex("cwd") + 1)
    assert found["message"] == f"duplicate key 'cwd' (first at 4:{line.index('cwd') + 1})"
