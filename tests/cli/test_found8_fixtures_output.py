"""`fixtures export -o` naming something that is not a regular file (found by the secondary
commands pass).

The export is written beside the file and renamed over it, so `-o /dev/full --force` said
"wrote 2 replies ... to /dev/full" and exit 0 while it replaced the device with a regular file
(as root it did, in /dev); a FIFO was replaced the same way. Now such an -o is refused,
naming why, and left as it was; a directory is refused the same way (it asked for --force).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: flow
agents:
  writer: {model: mock/echo}
steps:
  a: {agent: writer, prompt: hello}
"""


def test_an_output_that_is_not_a_regular_file_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    ran = run_cli("run", "flow.yaml", "-q", "--report-dir", "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    for name in ("pipe", "folder"):
        proc = run_cli("fixtures", "export", "run", "-o", name, "--force")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr == (
            f"error: cannot write {name}: not a regular file (a directory, a device or a FIFO); "
            "-o names the fixtures file to write\n"
        )
    assert stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
    assert run_cli("fixtures", "export", "run", "-o", "f.yaml").returncode == 0
    assert (tmp_path / "f.yaml").is_file()


def test_export_without_any_run_says_so(run_cli: RunCli, tmp_path: Path) -> None:
    """`fixtures export` where no run was made said "there is no latest run in .agnoctl/runs
    to resume": nothing was being resumed (the message of `run --resume`'s lookup)."""
    proc = run_cli("fixtures", "export")
    assert proc.returncode == 2
    assert proc.stderr == "error: no runs yet in .agnoctl/runs: `agnoctl run` writes one\n"
