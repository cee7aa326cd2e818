"""What `version:` says when it is not the number 1, through the real CLI.

Found by the validate/plan pass: `version: "1"` was refused with "version '1' is not
supported: this agnoctl reads version 1" (the author had written 1, quoted: the fix is the
quotes), and `version: yes` as "version True", in Python's spelling. The message now shows the
value as written, and a quoted 1 is told to drop its quotes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli


@pytest.mark.parametrize(
    ("written", "message", "hint"),
    [
        (
            '"1"',
            'version "1" is a string: the version is the number 1',
            "write `version: 1`, without quotes",
        ),
        ("yes", "version yes is not supported: this agnoctl reads version 1", "write `version: 1`"),
        ("2", "version 2 is not supported: this agnoctl reads version 1", "write `version: 1`"),
    ],
)
def test_the_version_is_shown_as_written(
    run_cli: RunCli, tmp_path: Path, written: str, message: str, hint: str
) -> None:
    (tmp_path / "wf.yaml").write_text(
        f"version: {written}\nname: v\nsteps: {{a: {{run: [echo]}}}}\n"
    )
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["line"], found["col"]) == ("E202", 1, 10)
    assert (found["message"], found["hint"]) == (message, hint)
