"""SIGINT and SIGTERM during ``agnoctl run``: cancelled at once (not after the 60 s its steps
would take), exit 130, a partial report."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests import forkcli

PY = sys.executable
# The sleeper that ignores SIGTERM writes this file when the SIGTERM comes: agnoctl has taken
# the first signal then, and waits out the kill grace.
TERMED = "sleeper.termed"


def start(tmp_path: Path, ignore_term: bool = False) -> tuple[forkcli.Process, Path, Path]:
    pid_file = tmp_path / "sleeper.pid"
    sleeper = (
        "import os, signal, time\n"
        + (
            f"signal.signal(signal.SIGTERM, lambda *_: open({str(tmp_path / TERMED)!r}, 'w'))\n"
            if ignore_term
            else ""
        )
        + f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    flow = {
        "version": 1,
        "name": "interrupted",
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {
            "quick": {"agent": "a", "prompt": "quick"},
            "slow": {"agent": "a", "prompt": "slow"},
            "sleeper": {"run": [PY, "-c", sleeper]},
            "later": {"agent": "a", "needs": ["slow"], "prompt": "later"},
        },
    }
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    (tmp_path / "fx.yaml").write_text(
        yaml.safe_dump({"steps": {"slow": {"text": "late", "delay": "60s"}}}), encoding="utf-8"
    )
    out = tmp_path / "out"
    process = forkcli.start(
        [
            "run",
            "flow.yaml",
            "--mock-fixtures",
            "fx.yaml",
            "--report-dir",
            str(out),
            "--progress",
            "plain",
        ],
        cwd=tmp_path,
        stdout=forkcli.PIPE,
        stderr=forkcli.PIPE,
    )
    deadline = time.monotonic() + 30
    events = out / "events.jsonl"
    while time.monotonic() < deadline:
        text = events.read_text() if events.exists() else ""
        if (
            # Not just created: the sleeper may be stopped between creating the file and
            # writing its pid, and an empty file names no process to check on.
            pid_file.exists()
            and pid_file.read_text().strip()
            and '"step_succeeded","step":"quick"' in text
            and ('"step_started","step":"slow"' in text)
        ):
            return process, out, pid_file
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the run did not get going: " + process.communicate()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_at_once_and_writes_a_partial_report(tmp_path: Path, signum: int) -> None:
    process, out, pid_file = start(tmp_path)
    sent = time.monotonic()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    elapsed = time.monotonic() - sent
    assert process.returncode == 130, stderr
    # Far below the steps' 60 s, with room for a loaded machine: speed is bench/'s to measure.
    assert elapsed < 10.0, f"took {elapsed:.2f}s to stop"
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted" and report["interrupted"] is True
    assert report["exit_code"] == 130
    assert {sid: (s["status"], s["reason"]) for sid, s in report["steps"].items()} == {
        "quick": ("succeeded", None),
        "slow": ("skipped", "cancelled"),
        "sleeper": ("skipped", "cancelled"),
        "later": ("skipped", "cancelled"),
    }
    ET.parse(out / "junit.xml")
    assert "interrupted" in stdout
    assert not alive(int(pid_file.read_text()))
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "interrupted"


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    # The sleeper ignores SIGTERM, so cancelling it waits for the kill grace; a second Ctrl-C
    # during that wait must not.
    process, out, pid_file = start(tmp_path, ignore_term=True)
    process.send_signal(signal.SIGINT)
    termed = tmp_path / TERMED
    deadline = time.monotonic() + 30
    while not termed.exists():
        assert process.poll() is None and time.monotonic() < deadline, "no SIGTERM came"
        time.sleep(0.01)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 130
    assert time.monotonic() - sent < 0.5
    # Only the checkpoint that a run keeps on disk while it goes on, not the final report.
    checkpoint = json.loads((out / "report.json").read_text())
    assert checkpoint["reason"].startswith("the run has not finished")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the command outlived agnoctl"
