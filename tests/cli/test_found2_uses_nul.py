"""A `uses:` path holding a NUL character, through the real CLI.

Found by trying it: ``uses: "sub\\u0000.yaml"`` made ``validate``, ``plan``, ``graph``,
``tools list`` and ``run`` end in a ValueError traceback (``embedded null byte``, from
resolving the path). Now it is E430, as a path that names no file is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: caller
steps:
  child: {uses: "sub\\u0000.yaml"}
"""


@pytest.mark.parametrize("command", ["validate", "plan", "graph", "run"])
def test_a_nul_in_a_uses_path_is_an_error_not_a_traceback(
    run_cli: RunCli, tmp_path: Path, command: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = run_cli(command, "wf.yaml")
    assert result.returncode == 2, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "error E430 `uses` names 'sub\\x00.yaml', which holds a NUL character" in output
