"""`-i` values that are no UTF-8 text, through the real CLI.

Found by the cli pass: a byte of an argument that is not UTF-8 (`-i name=$'\\xff'`, a file
name or a branch's title in another encoding) reaches Python as a lone surrogate, as does a
JSON value's `"\\ud800"`; the run started, and ended in a UnicodeEncodeError traceback (exit 1,
"the run failed") when the inputs were fingerprinted. Now the input is refused, named, before
anything runs (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: bytes
inputs:
  name: {type: string, default: x}
  tags: {type: array, default: []}
  meta: {type: object, default: {}}
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: "{{ inputs.name }} {{ inputs.tags }} {{ inputs.meta }}"}
"""


@pytest.mark.parametrize(
    ("pair", "name"),
    [
        ("name=\udcff", "name"),  # the byte 0xff, as Python's surrogateescape reads it
        ("name=caf\udce9", "name"),  # café in Latin-1
        ('tags=["\\ud800"]', "tags"),
        ('meta={"\\udcff": 1}', "meta"),
    ],
)
def test_an_input_that_is_no_utf8_text_is_refused(
    run_cli: RunCli, tmp_path: Path, pair: str, name: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "wf.yaml", "-q", "-i", pair)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: input {name!r} is not UTF-8 text")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".agnoctl").exists()


def test_utf8_text_is_taken(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "wf.yaml", "-q", "-i", "name=café ☕", "-i", 'tags=["\\u00e9"]')
    assert done.returncode == 0, done.stderr
