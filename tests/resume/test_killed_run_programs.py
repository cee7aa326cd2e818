"""A run killed with SIGKILL (`kill -9`, the OOM killer) left the program of its running
command step alive: the program leads a session of its own, and nothing ended it. The resume
then ran that step again beside it (a deploy twice at once). Now the resume first ends what the
killed run left running (SIGTERM to its group, SIGKILL after the grace), found by the tag prefix
the killed run wrote in its lock file, then runs the step again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import forkcli

FLOW = """\
version: 1
name: deploy
steps:
  deploy:
    run: [sh, -c, 'if [ -e go ]; then echo deployed; else echo $$ > left.pid; exec sleep 300; fi']
"""


def _running(pid: int) -> bool:
    """Running (a zombie nobody reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_resume_ends_the_programs_a_killed_run_left_running(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1"}
    first = forkcli.start(
        ["run", "flow.yaml", "-q"], cwd=tmp_path, env=env, stdout=forkcli.PIPE, stderr=forkcli.PIPE
    )
    pidfile = tmp_path / "left.pid"
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)  # polling the file the step writes: what the test waits on
    left = int(pidfile.read_text())
    first.kill()
    first.communicate(timeout=60)
    try:
        assert _running(left)  # the killed run's program runs on, as the kernel leaves it
        (tmp_path / "go").touch()
        done = forkcli.run(
            ["run", "flow.yaml", "-q", "--resume", "latest"], cwd=tmp_path, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert not _running(left)
    finally:
        if _running(left):
            os.kill(left, 9)


def _killed_run(folder: Path) -> Path:
    """A run directory as a killed run leaves it (its lock file still there), and its
    workflow, which the resume finishes."""
    (folder / "flow.yaml").write_text(FLOW, encoding="utf-8")
    (folder / "go").touch()
    done = forkcli.run(["run", "flow.yaml", "-q", "--report-dir", "run"], cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "run" / "run.lock"


def test_a_damaged_lock_file_is_no_traceback(tmp_path: Path) -> None:
    _killed_run(tmp_path).write_bytes(b"\xff\xfe\x00 garbage\n")
    done = forkcli.run(["run", "flow.yaml", "-q", "--resume", "run"], cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_lock_file_naming_a_bare_pid_ends_nothing(tmp_path: Path) -> None:
    # Only a prefix agnoctl makes (pid and random part) picks programs: a bare pid would pick
    # every program of whichever agnoctl has that pid now.
    other = subprocess.Popen(
        ["sleep", "300"], env={**os.environ, "AGNOCTL_PROCESS_TAG": "4242.deadbeef.1"}
    )
    try:
        _killed_run(tmp_path).write_text("1 4242\n", encoding="utf-8")
        done = forkcli.run(["run", "flow.yaml", "-q", "--resume", "run"], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert other.poll() is None  # another run's program runs on
    finally:
        other.kill()
        other.wait()
