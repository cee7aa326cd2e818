"""How the `agnoctl` executable ends: read-only commands skip the interpreter's teardown, and
nothing they printed is lost; every other command ends normally, atexit work included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import atexit, sys
from agnoctl.cli import console
atexit.register(lambda: print("atexit ran", file=sys.stderr))
sys.argv = ["agnoctl", *sys.argv[1:]]
console()
"""


def end(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
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
    assert "atexit ran" not in done.stderr  # no teardown, no atexit pass


@pytest.mark.parametrize("command", [["schema"], ["graph", "flow.yaml"], ["plan", "flow.yaml"]])
def test_the_other_read_only_commands_end_quickly_too(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: flow\nagents:\n  w: {model: mock/echo}\n"
        "steps:\n  a: {agent: w, prompt: hi}\n",
        encoding="utf-8",
    )
    done = end(*command, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "atexit ran" not in done.stderr


def test_other_commands_end_normally(tmp_path: Path) -> None:
    # `run` may leave exporters to flush at exit: they are never cut short.
    done = end("runs", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "atexit ran" in done.stderr


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
