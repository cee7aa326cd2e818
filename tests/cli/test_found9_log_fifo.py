"""`--log-file` naming a named pipe, through the real CLI.

Found by the cli pass: with no process reading the pipe, opening it waited for one forever, so
`agnoctl run --log-file FIFO` hung before it ran anything (a CI job until its timeout). Now it
is refused at once (exit 2) naming the option; a pipe a process reads still takes the log.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.test_found_log_file import WORKFLOW
from tests.conftest import RunCli


def test_a_pipe_nobody_reads_is_refused_at_once(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    os.mkfifo(tmp_path / "log")
    done = run_cli("run", "wf.yaml", "-q", "--log-file", "log", timeout=10)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "error: --log-file log cannot be written: a named pipe no process reads\n"
    )
    assert not (tmp_path / ".agnoctl").exists()


def test_a_pipe_a_process_reads_takes_the_log(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    os.mkfifo(tmp_path / "log")
    reader = os.open(tmp_path / "log", os.O_RDONLY | os.O_NONBLOCK)
    try:
        done = run_cli("run", "wf.yaml", "-q", "--log-file", "log", timeout=10)
        assert done.returncode == 0, done.stderr
        lines = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert "run_finished" in lines
