"""`agnoctl plan wf.yaml | head`: a reader that goes away does not change a command's exit
code (found by the secondary commands pass).

`schema`, `plan`, `graph`, `report show`, `report diff`, `runs list`, `cache stats`... exited 1
when stdout's reader had gone (click's ending for a broken pipe): 1 is "the run failed"
(docs/ci.md), and a CI step under `set -o pipefail` (GitHub Actions' bash) failed whenever the
output outgrew what `head` read. Now the rest of the output is dropped and the command ends
with its own code, as `run` does; a real problem keeps its code (an invalid file: 2).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import forkcli
from tests.conftest import RunCli

FLOW = """\
version: 1
name: flow
agents:
  writer: {model: mock/echo}
steps:
  a: {agent: writer, prompt: hello}
"""


def _closed_stdout(args: list[str], cwd: Path) -> tuple[int, str]:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        process = forkcli.start(
            args, cwd=cwd, env={**os.environ, "NO_COLOR": "1"}, stdout=write, stderr=forkcli.PIPE
        )
    finally:
        os.close(write)
    _, err = process.communicate(timeout=60)
    return process.wait(), err or ""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("closed")
    (folder / "flow.yaml").write_text(FLOW, encoding="utf-8")
    (folder / "bad.yaml").write_text("version: 1\nname: bad\nsteps: {a: {}}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ["schema"],
        ["schema", "--format", "markdown"],
        ["plan", "flow.yaml"],
        ["plan", "flow.yaml", "--format", "json"],
        ["graph", "flow.yaml"],
        ["report", "show"],
        ["report", "show", "--format", "json"],
        ["report", "diff", "latest"],
        ["runs", "list"],
        ["cache", "stats"],
    ],
    ids=" ".join,
)
def test_a_reader_that_went_away_leaves_exit_0(
    run_cli: RunCli, folder: Path, args: list[str]
) -> None:
    if not (folder / ".agnoctl" / "runs" / "latest").exists():
        assert run_cli("run", "flow.yaml", "-q", cwd=folder).returncode == 0
    code, err = _closed_stdout(args, folder)
    assert (code, err) == (0, "")


def test_a_real_problem_keeps_its_exit_code(folder: Path) -> None:
    code, err = _closed_stdout(["plan", "bad.yaml"], folder)
    assert code == 2, err
    assert "Traceback" not in err
