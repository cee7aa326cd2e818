"""The invalid-workflow corpus, through the real CLI.

Every `*.yaml` here is wrong in one way and says how in its header:
`# expect: CODE LINE:COL message fragment` (a fragment of the message or its hint). One
`agnoctl validate --strict --format json` subprocess checks the whole folder (a subprocess per
file would be slow); every file is also run alone in-process for its exit code.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agnoctl.cli import app
from tests import forkcli

CORPUS = Path(__file__).parent
FILES = sorted(CORPUS.glob("*.yaml"))
EXPECT = re.compile(rb"^# expect: ([EW]\d{3}) (\d+):(\d+) (.+)$", re.MULTILINE)
DOCS = CORPUS.parent.parent / "docs" / "errors.md"
UNSET = "AGNOCTL_CORPUS_UNSET_VARIABLE"  # e117 needs it absent
LATIN1 = "AGNOCTL_CORPUS_LATIN1"  # e120's: café in Latin-1, as Python reads the bytes


def _expectations(path: Path) -> list[tuple[str, int, int, str]]:
    return [
        (code.decode(), int(line), int(col), fragment.decode().strip())
        for code, line, col, fragment in EXPECT.findall(path.read_bytes())
    ]


@pytest.fixture(scope="module")
def report() -> dict[str, list[dict[str, Any]]]:
    env = {key: value for key, value in os.environ.items() if key != UNSET}
    env[LATIN1] = "caf\udce9"
    proc = forkcli.run(
        ["validate", "--strict", "--format", "json", *(path.name for path in FILES)],
        cwd=CORPUS,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for diagnostic in json.loads(proc.stdout)["diagnostics"]:
        by_file[diagnostic["file"]].append(diagnostic)
    return by_file


def test_the_corpus_covers_every_rule() -> None:
    assert len(FILES) >= 40
    codes = {code for path in FILES for code, *_ in _expectations(path)}
    documented = set(re.findall(r"^### ([EW]\d{3})", DOCS.read_text(), re.MULTILINE))
    # E100 (unreadable file) and E101 (over 5 MiB) cannot be committed: tests/spec covers them.
    # E5xx are `agnoctl plan`'s, found with input values validate does not have: tests/plan.
    planning = {code for code in documented if code.startswith("E5")}
    assert documented - codes - planning == {"E100", "E101"}
    assert codes <= documented


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_each_file_reports_what_its_header_expects(
    path: Path, report: dict[str, list[dict[str, Any]]]
) -> None:
    expectations = _expectations(path)
    assert expectations, f"{path.name} has no `# expect:` header"
    found = report[path.name]
    for code, line, col, fragment in expectations:
        matches = [
            d
            for d in found
            if d["code"] == code
            and (d["line"], d["col"]) == (line, col)
            and fragment in f"{d['message']} {d['hint'] or ''}"
        ]
        assert matches, f"{path.name}: expected {code} at {line}:{col} ({fragment}); got {found}"


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_each_file_alone_exits_2(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.setenv(LATIN1, "caf\udce9")
    result = CliRunner().invoke(app, ["validate", "--strict", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
