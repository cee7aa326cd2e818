"""A workflow saved as UTF-16 (what Windows PowerShell's `>` and Notepad's "Unicode" write),
through the real CLI.

Found by the validate/plan pass: it was E103 "the file is binary (it holds NUL bytes), not
YAML text", at line 1 column 4, with the hint to name the workflow's .yaml file: the file was
that file, as text, in another encoding. It is E102 now, naming the encoding, with the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

TEXT = "version: 1\nname: wide\nsteps: {a: {run: [echo, hi]}}\n"


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")],
)
def test_a_utf16_file_is_named_as_such(
    run_cli: RunCli, tmp_path: Path, encoding: str, name: str
) -> None:
    (tmp_path / "wf.yaml").write_bytes(TEXT.encode(encoding))
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["line"], found["col"]) == ("E102", 1, 1)
    assert f"{name} text, not UTF-8" in found["message"]
    assert found["hint"].startswith("save the file as UTF-8")


def test_a_nul_byte_in_utf8_text_is_still_binary(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_bytes(b"version: 1\nname: x\x00\n")
    done = run_cli("validate", "--format", "json", "wf.yaml")
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["line"], found["col"]) == ("E103", 2, 8)
