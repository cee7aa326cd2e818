"""How the `agnoctl` executable ends: its atexit work done and its output flushed, without the
interpreter's teardown (which would only free every object), nothing printed lost; as usual
while another thread still runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import atexit, os, sys, threading, time
from agnoctl.cli import console
atexit.register(lambda: print("atexit ran", file=sys.stderr))
class Probe:
    def __del__(self, write=os.write):
        write(2, b"teardown ran\\n")
probe = Probe()  # freed by the teardown, with __main__'s names
if os.environ.get("PROBE_THREAD") == "running":
    def late(write=os.write):
        threading.main_thread().join()  # until the interpreter's ending begins
        write(2, b"thread done\\n")
    threading.Thread(target=late).start()
if os.environ.get("PROBE_THREAD") == "ending":  # as the event loop's worker threads end
    threading.Thread(target=lambda: time.sleep(0.2)).start()
sys.argv = ["agnoctl", *sys.argv[1:]]
console()
"""


def end(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def ended_quickly(done: subprocess.CompletedProcess[str]) -> bool:
    """The atexit work ran and the teardown did not."""
    return "atexit ran" in done.stderr and "teardown ran" not in done.stderr


FLOW = (
    "version: 1\nname: flow\nagents:\n  w: {model: mock/echo}\n"
    "steps:\n  a: {agent: w, prompt: hi}\n"
    "  b: {agent: w, needs: [a], prompt: '{{ steps.a.output }}'}\n"
)


def invalid_workflow(folder: Path, steps: int) -> Path:
    lines = ["version: 1", "name: bad", "steps:"]
    lines += [f"  s{i}: {{agent: nobody{i}, prompt: hi}}" for i in range(steps)]
    path = folder / "bad.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_everything_printed_arrives_with_the_exit_code(tmp_path: Path) -> None:
    # Far more than a pipe's buffer: the output is flushed before the process ends.
    path = invalid_workflow(tmp_path, 400)
    done = end("validate", "--format", "json", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert len(json.loads(done.stdout)["diagnostics"]) == 400
    assert done.stderr.startswith("invalid: 1 file checked, 400 error(s)")
    assert ended_quickly(done)


@pytest.mark.parametrize(
    "command", [["schema"], ["graph", "flow.yaml"], ["plan", "flow.yaml"], ["runs", "list"]]
)
def test_every_command_ends_without_the_teardown(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = end(*command, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert ended_quickly(done)


def test_a_run_ends_without_the_teardown_its_files_and_log_whole(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = end(
        *(
            "run",
            "flow.yaml",
            "--mock",
            "-q",
            "--report-dir",
            "out",
            "--log-file",
            "run.log",
            "--log-format",
            "json",
        ),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert ended_quickly(done)
    assert done.stdout.startswith("passed: 2 of 2 steps succeeded")
    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "passed"
    log = [json.loads(line) for line in (tmp_path / "run.log").read_text().splitlines()]
    assert log[-1]["event"] == "run_finished"


def test_a_thread_still_running_gets_the_usual_ending(tmp_path: Path) -> None:
    # The interpreter waits for it, and what it prints arrives. (The thread ends only once
    # the main thread has: it is alive whenever the command ends.)
    done = end("runs", "list", cwd=tmp_path, env={"PROBE_THREAD": "running"})
    assert done.returncode == 0, done.stderr
    assert "thread done" in done.stderr
    assert "teardown ran" in done.stderr


def test_a_usage_error_keeps_its_message_and_code(tmp_path: Path) -> None:
    done = end("validate", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no such file or directory" in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["validate", "--format", "json"], ["plan"]])
def test_output_the_system_refuses_is_one_line_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    path = invalid_workflow(tmp_path, 400) if command[0] == "validate" else tmp_path / "f.yaml"
    if command[0] == "plan":
        path.write_text(
            "version: 1\nname: f\nagents:\n  w: {model: mock/echo}\n"
            "steps:\n  a: {agent: w, prompt: hi}\n",
            encoding="utf-8",
        )
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "agnoctl", *command, str(path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "error: No space left on device"
    assert "Traceback" not in done.stderr


def test_a_thread_that_is_ending_is_waited_for_and_the_ending_stays_quick(
    tmp_path: Path,
) -> None:
    # The command ends while the thread sleeps: it is waited for, as the interpreter would.
    done = end("runs", "list", cwd=tmp_path, env={"PROBE_THREAD": "ending"})
    assert done.returncode == 0, done.stderr
    assert ended_quickly(done)
