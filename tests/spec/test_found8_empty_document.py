"""A file holding only a document marker (`---`, what editors and `yq` leave of a cleared
file), through the real CLI.

Found by the validate/plan pass: it was E108 "the top level is a single value, not a mapping",
located past the marker, for a file that holds no value at all. It is empty (E107), as a file
holding only comments is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli


@pytest.mark.parametrize("text", ["---\n", "--- # cleared\n# nothing yet\n", "---\n...\n"])
def test_a_document_marker_alone_is_an_empty_file(
    run_cli: RunCli, tmp_path: Path, text: str
) -> None:
    (tmp_path / "wf.yaml").write_text(text)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["line"], found["col"]) == ("E107", 1, 1)


def test_a_null_written_out_is_still_a_single_value(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text("~\n")
    done = run_cli("validate", "--format", "json", "wf.yaml")
    [found] = json.loads(done.stdout)["diagnostics"]
    assert found["code"] == "E108"
