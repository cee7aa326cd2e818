"""A workflow's `${VAR}` whose value is no UTF-8 text, through the real CLI.

Found by the cli pass: a variable set to bytes in another encoding (`FOO=$'caf\\xe9'`, Latin-1
from an older system) reaches Python as lone surrogates; `validate` called the file valid, and
`run` ended in a UnicodeEncodeError traceback, exit 1 ("the run failed"), when it fingerprinted
the prompt. Now the file is invalid at the `${`, E120, naming the variable (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: env
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: "hi ${FOO}"}
"""


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("run", "-q")])
def test_a_variable_that_is_no_utf8_text_is_refused_where_it_is_read(
    run_cli: RunCli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli(*command, "wf.yaml", env={"FOO": "caf\udce9"})  # café in Latin-1
    assert done.returncode == 2, done.stderr
    assert "wf.yaml:6:29: error E120 environment variable FOO is not UTF-8 text" in (
        done.stdout + done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".agnoctl").exists()


def test_utf8_is_read(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "-q", "wf.yaml", env={"FOO": "café"})
    assert done.returncode == 0, done.stderr
