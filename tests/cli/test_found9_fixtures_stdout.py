"""`fixtures export -o -` wrote a file named `-` (found by the offline pass). It now writes the
fixtures to stdout, as JSON (which `--mock-fixtures` reads as YAML): every character past
ASCII is escaped, so a terminal or CI log shows a reply's text without obeying it, and a pipe
carries it exactly."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

REPLY = "bidi \u202e, escape \x1b[31m, ##[error] marker, caf\u00e9"


def test_dash_writes_the_fixtures_to_stdout(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: flow\nagents:\n  w: {model: mock/echo}\n"
        "steps:\n  a: {agent: w, prompt: hello}\n",
        encoding="utf-8",
    )
    (tmp_path / "script.json").write_text(
        json.dumps({"steps": {"a": {"text": REPLY}}}), encoding="utf-8"
    )
    ran = run_cli("run", "flow.yaml", "-q", "--mock-fixtures", "script.json", "--report-dir", "r")
    assert ran.returncode == 0, ran.stderr
    proc = run_cli("fixtures", "export", "r", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "-").exists()
    assert proc.stdout.isascii() and "\x1b" not in proc.stdout
    [reply] = json.loads(proc.stdout)["steps"]["a"]
    assert reply["text"] == REPLY
    assert proc.stderr.startswith("wrote 1 replies of run ")
    assert "to stdout" in proc.stderr
    # The text replays as it is: the fixtures read from the pipe answer as the run did.
    (tmp_path / "piped.yaml").write_text(proc.stdout, encoding="utf-8")
    again = run_cli("run", "flow.yaml", "-q", "--mock-fixtures", "piped.yaml", "--report-dir", "s")
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "s" / "report.json").read_text(encoding="utf-8"))
    assert report["steps"]["a"]["output"] == REPLY
