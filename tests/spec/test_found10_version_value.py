"""SPEC "Shape of a file": `version: 1` is required, anything else is an error. `version: 1.0`
validated (Python's 1.0 equals 1), though every other integer of the language must be written
as one; an empty `version:` was called "version None", a Python word the file never holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

CASES = {
    "1.0": "version 1.0 is not the integer 1",
    "1.5": "version 1.5 is not supported",
    "": "`version` is empty",
    "~": "`version` is empty",
}


def test_a_version_other_than_the_integer_1_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    for index, written in enumerate(CASES):
        (tmp_path / f"f{index}.yaml").write_text(
            f"version: {written}\nname: t\nsteps: {{a: {{run: [echo]}}}}\n", encoding="utf-8"
        )
    done = run_cli("validate", "--format", "json", *(f"f{i}.yaml" for i in range(len(CASES))))
    assert done.returncode == 2
    found = json.loads(done.stdout)["diagnostics"]
    assert [(d["code"], d["line"]) for d in found] == [("E202", 1)] * len(CASES)
    for finding, said in zip(found, CASES.values(), strict=True):
        assert finding["message"].startswith(said), finding["message"]
        assert "None" not in finding["message"]
        assert finding["hint"] == "write `version: 1`"
