"""tests/forkcli.py: a forked `agnoctl` is the process `python -m agnoctl` would have been.

Both are started on the same workflow, stopped at the same point (a command step that sleeps),
and read from /proc: the same environment, working directory, open files, threads and signal
dispositions. Then what the helper itself promises: exit codes as subprocess reports them, a
timeout that kills, settings an interpreter reads as it starts given to one that starts with
them, and no process left once the zygotes are stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from agnoctl.tools.command import PROCESS_TAG
from tests import forkcli

SLEEPER = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"


def _sleeping_run(folder: Path) -> Path:
    """A workflow whose one step sleeps once it has written its pid to the returned file."""
    folder.mkdir()
    pid_file = folder / "sleeper.pid"
    step = {"run": [sys.executable, "-c", SLEEPER, str(pid_file)]}
    flow = {"version": 1, "name": "asleep", "steps": {"sleep": step}}
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    return pid_file


def _wait_for(condition: Callable[[], bool], last: object = None) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, last
        time.sleep(0.02)


def _portrait(agnoctl: int, sleeper: int, folder: Path) -> dict[str, object]:
    """What /proc shows of a run, and of the step it started, that a fork could get wrong; the
    run's own folder written as FOLDER, its run directory as RUN. (Not /proc's environ of the
    run itself: that is the block it was started with, the zygote's for a fork; its step gets
    the environment the run has now.)"""
    proc = Path(f"/proc/{agnoctl}")
    status = dict(line.split(":\t", 1) for line in (proc / "status").read_text().splitlines())
    files = [os.readlink(fd).split(":")[0] for fd in sorted((proc / "fd").iterdir())]
    environment = Path(f"/proc/{sleeper}/environ").read_text().split("\0")
    portrait = {
        "cwd": os.readlink(proc / "cwd"),
        "files": sorted(files),
        "step's environment": sorted(e for e in environment if not e.startswith(PROCESS_TAG)),
        **{key: status[key].strip() for key in ("SigBlk", "SigIgn", "SigCgt")},
    }
    text = json.dumps(portrait).replace(str(folder), "FOLDER")
    normalised: dict[str, object] = json.loads(re.sub(r"/runs/[^/]+/", "/runs/RUN/", text))
    return normalised  # the run directory's name is its id


def _started(pid_file: Path) -> int:
    """The pid the sleeping step wrote, once it has."""
    _wait_for(lambda: bool(pid_file.exists() and pid_file.read_text()))
    return int(pid_file.read_text())


def test_a_forked_command_is_what_a_fresh_process_would_be(tmp_path: Path) -> None:
    """Compared until the two agree (a run opens and closes files as it starts a step), for
    a minute at most: a difference that lasts fails."""
    env = {**os.environ, "NO_COLOR": "1", "ONLY_FOR_THIS_RUN": "1"}
    command = ["run", "flow.yaml", "-q", "--no-cache"]
    fresh_pid = _sleeping_run(tmp_path / "fresh")
    fresh = subprocess.Popen(
        [sys.executable, "-m", "agnoctl", *command],
        cwd=tmp_path / "fresh",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    forked_pid = _sleeping_run(tmp_path / "forked")
    forked = forkcli.start(
        command, cwd=tmp_path / "forked", env=env, stdout=forkcli.DEVNULL, stderr=forkcli.DEVNULL
    )
    try:
        sleepers = _started(fresh_pid), _started(forked_pid)
        portraits: list[dict[str, object]] = []

        def alike() -> bool:
            portraits[:] = [
                _portrait(fresh.pid, sleepers[0], tmp_path / "fresh"),
                _portrait(forked.pid, sleepers[1], tmp_path / "forked"),
            ]
            return portraits[0] == portraits[1]

        _wait_for(alike, portraits)
        assert "ONLY_FOR_THIS_RUN=1" in portraits[1]["step's environment"]  # type: ignore[operator]
    finally:
        fresh.send_signal(signal.SIGTERM)
        forked.send_signal(signal.SIGTERM)
        assert (fresh.wait(timeout=60), forked.wait(timeout=60)) == (130, 130)


def test_exit_codes_signals_and_timeouts_as_subprocess_reports_them(tmp_path: Path) -> None:
    assert forkcli.run(["--version"], cwd=tmp_path).returncode == 0
    usage = forkcli.run(["no-such-command"], cwd=tmp_path)
    assert usage.returncode == 2 and "No such command" in usage.stderr
    pid_file = _sleeping_run(tmp_path / "killed")
    process = forkcli.start(["run", "flow.yaml", "-q"], cwd=tmp_path / "killed")
    _started(pid_file)
    process.kill()
    assert process.wait(timeout=60) == -signal.SIGKILL
    os.kill(_started(pid_file), signal.SIGKILL)  # the step a killed run leaves behind
    flow = {"version": 1, "name": "late", "agents": {"a": {"model": "mock/echo"}}}
    flow["steps"] = {"ask": {"agent": "a", "prompt": "hi"}}
    (tmp_path / "late.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    slow = {"steps": {"ask": {"text": "late", "delay": "60s"}}}
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(slow), encoding="utf-8")
    with pytest.raises(subprocess.TimeoutExpired):
        forkcli.run(["run", "late.yaml", "--mock-fixtures", "slow.yaml"], cwd=tmp_path, timeout=1)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_setting_read_as_the_interpreter_starts_gets_a_zygote_started_with_it(
    tmp_path: Path,
) -> None:
    """PYTHONHASHSEED, read once as Python starts, cannot be given to a fork of a zygote that
    started without it: the command is forked from one that started with it."""
    seeds = []
    for name, env in (("usual", os.environ), ("seeded", {**os.environ, "PYTHONHASHSEED": "123"})):
        pid_file = _sleeping_run(tmp_path / name)
        process = forkcli.start(["run", "flow.yaml", "-q"], cwd=tmp_path / name, env=env)
        sleeper = _started(pid_file)
        environ = Path(f"/proc/{_parent(process.pid)}/environ").read_bytes().split(b"\0")
        seeds.append((_parent(process.pid), b"PYTHONHASHSEED=123" in environ))
        process.kill()
        assert process.wait(timeout=60) == -signal.SIGKILL
        os.kill(sleeper, signal.SIGKILL)  # the step a killed run leaves behind
    assert seeds[0][0] != seeds[1][0]
    assert [seeded for _, seeded in seeds] == [False, True]


def test_no_child_and_no_zygote_outlive_a_stop(tmp_path: Path) -> None:
    pid_file = _sleeping_run(tmp_path / "left")
    process = forkcli.start(["run", "flow.yaml", "-q"], cwd=tmp_path / "left")
    _started(pid_file)
    zygote = _parent(process.pid)
    forkcli.stop()
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not Path(f"/proc/{zygote}").exists()
    os.kill(_started(pid_file), signal.SIGKILL)  # the step a killed run leaves behind
