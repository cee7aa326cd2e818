"""`agnoctl validate --strict --format json` on a file with warnings only, through the real CLI.

Found by the validate/plan pass: the command failed (exit 2, "invalid" on stderr), as
`--strict` says, but the JSON it printed said `"valid": true`: a tool reading the verdict from
the document (the reason to ask for JSON) took the file for valid. `valid` now says what the
exit code says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: warned
agents:
  w: {model: mock/echo}
  unused: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""


@pytest.mark.parametrize(("strict", "valid", "code"), [(True, False, 2), (False, True, 0)])
def test_valid_in_the_json_agrees_with_the_exit_code(
    run_cli: RunCli, tmp_path: Path, strict: bool, valid: bool, code: int
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", *(["--strict"] if strict else []), "wf.yaml")
    assert done.returncode == code
    found = json.loads(done.stdout)
    assert (found["valid"], found["errors"], found["warnings"]) == (valid, 0, 1)
