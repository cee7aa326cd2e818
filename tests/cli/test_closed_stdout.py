"""`agnoctl run wf.yaml | head -2`: a reader that goes away never ends the run in a traceback.

The run's progress goes to a real pipe; the test reads its first lines, closes the read end,
and only then lets the run go on (a command step waits on a FIFO the test opens), so that
everything after is written to a pipe nobody reads. The run finishes, exits with its own code
and its report says what happened, not `interrupted`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def workflow(folder: Path, last_exit: int) -> Path:
    doc = {
        "version": 1,
        "name": "piped",
        "agents": {"w": {"model": "mock/echo"}},
        "defaults": {"retry": {"max_attempts": 1}},
        "steps": {
            "gate": {"run": ["cat", "go.fifo"]},  # waits until the test opens the FIFO
            "fan": {
                "agent": "w",
                "needs": ["gate"],
                "for_each": "range(40) | list",
                "prompt": "item {{ item }}",
            },
            "last": {"run": ["sh", "-c", f"exit {last_exit}"], "needs": ["fan"]},
        },
    }
    path = folder / "piped.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    os.mkfifo(folder / "go.fifo")
    return path


@pytest.mark.parametrize(("last_exit", "code", "status"), [(0, 0, "passed"), (3, 1, "failed")])
@pytest.mark.parametrize("output", [[], ["--format", "github"]], ids=["text", "github"])
def test_a_closed_stdout_leaves_the_run_its_own_ending(
    tmp_path: Path, last_exit: int, code: int, status: str, output: list[str]
) -> None:
    path = workflow(tmp_path, last_exit)
    command = [sys.executable, "-m", "agnoctl", "run", str(path), "--progress", "plain"]
    with subprocess.Popen(
        [*command, "--report-dir", "run", "--no-cache", *output],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:  # like `head`: read until the gate step has started...
            if "step_started" in line and "gate" in line:
                break
        proc.stdout.close()  # ...then go away
        with open(tmp_path / "go.fifo", "w", encoding="utf-8") as fifo:
            fifo.write("go\n")  # the run goes on, its output has nowhere to go
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == code, stderr
    assert "Traceback" not in stderr and "Exception" not in stderr
    assert "error:" not in stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert (report["status"], report["exit_code"], report["interrupted"]) == (status, code, False)
    assert report["steps"]["fan"]["succeeded"] == 40
