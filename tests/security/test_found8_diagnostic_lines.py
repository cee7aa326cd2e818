"""A name holding a line break, quoted by a validation error in the text format, through the
real CLI.

Found by the validate/plan pass: ``agent: "w\\n::warning file=x::pwned"`` (a quoted YAML
string, so any line break fits) was quoted as it was, line break and all, by
``unknown agent ...``: the text format (the default, which CI runs on pull requests) printed a
line of the workflow file's own starting ``::``, a GitHub workflow command the runner obeys.
The GitHub format already encoded it; the text format now shows the line break as ``\\n``, so
each diagnostic is one line and its hint the next.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: injected
agents:
  w: {model: mock/echo}
steps:
  a: {agent: "w\\n::warning file=x::pwned", prompt: hi}
  b: {agent: w, prompt: hi, needs: ["a\\r\\n::error::owned"]}
"""


def test_names_with_line_breaks_stay_on_their_diagnostic_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "wf.yaml")
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("::")], done.stdout
    assert "unknown agent `w\\n::warning file=x::pwned`" in done.stdout
    assert "unknown step `a\\r\\n::error::owned`" in done.stdout
    assert len(lines) == 4  # two diagnostics, each with its hint


def test_a_file_name_with_a_line_break_stays_on_its_line(run_cli: RunCli, tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "x\n::error::pwned.yaml").write_text("version: 1\nname: x\n")
    done = run_cli("validate", "flows")
    assert done.returncode == 2
    assert not [line for line in done.stdout.splitlines() if line.startswith("::")], done.stdout
    assert "x\\n::error::pwned.yaml:" in done.stdout
