"""`agnoctl run --quiet` with an option of the display it turns off, through the real CLI.

Found by the cli pass: `--quiet --progress live` (or `plain`) printed only the result, the
progress asked for silently dropped; `--quiet --show-text` was refused with "run on a
terminal, or with --progress live", which does not help (`--progress live` was then dropped
too). Each is now refused naming both options; nothing runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: quiet
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""


@pytest.mark.parametrize(
    ("options", "ignored"),
    [
        (["--progress", "live"], "--progress live"),
        (["--progress=plain"], "--progress plain"),
        (["--show-text", "--progress", "live"], "--progress live, --show-text"),
        (["--show-text"], "--show-text"),
    ],
)
def test_quiet_with_a_display_option_is_refused(
    run_cli: RunCli, tmp_path: Path, options: list[str], ignored: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "wf.yaml", "-q", *options)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"error: --quiet prints only the result, so {ignored} would be ignored: "
        "drop one or the other\n"
    )
    assert not (tmp_path / ".agnoctl").exists()


@pytest.mark.parametrize("options", [["--progress", "auto"], ["--no-show-text"]])
def test_quiet_with_what_shows_nothing_more_runs(
    run_cli: RunCli, tmp_path: Path, options: list[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("run", "wf.yaml", "--quiet", *options)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("passed: 1 of 1 steps succeeded")
