"""Reading an earlier run's journal, mending a torn one, finding runs, locking a run directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agnoctl.engine.resume import load_previous_run
from agnoctl.engine.rundir import RunLock, find_run, repair_journal, update_latest
from agnoctl.errors import RunLocked, UsageError


def _journal(run_dir: Path, *events: dict[str, Any], torn: str = "") -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"seq": n, "run_id": run_dir.name, **e}) for n, e in enumerate(events, 1)]
    path = run_dir / "events.jsonl"
    path.write_text("".join(line + "\n" for line in lines) + torn, encoding="utf-8")
    return path


START = {"type": "run_started", "inputs": {"n": 3}, "fingerprint": "run-fp"}


def test_finished_work_and_the_verdict_of_each_segment(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    _journal(
        run_dir,
        START,
        {"type": "item_succeeded", "step": "fan", "item": 0, "output": "a", "fingerprint": "f0"},
        {"type": "item_failed", "step": "fan", "item": 1, "error": "boom"},
        {"type": "run_finished", "status": "failed"},
        {"type": "run_resumed", "inputs": {"n": 4}, "fingerprint": "run-fp-2"},
        {"type": "item_reused", "step": "fan", "item": 0, "output": "a", "fingerprint": "f0"},
        {"type": "step_succeeded", "step": "g.c", "item": 2, "iteration": 3, "output": [1]},
        torn='{"seq": 8, "type": "item_succ',
    )
    previous = load_previous_run(run_dir)
    assert (previous.run_id, previous.status, previous.last_seq) == ("r1", None, 7)
    assert (previous.fingerprint, previous.inputs) == ("run-fp-2", {"n": 4})
    assert previous.reusable(("fan", 0, None), "f0", item=True) is not None
    assert previous.reusable(("fan", 0, None), "f0", item=False) is None  # a step's, not an item's
    assert previous.reusable(("fan", 0, None), "other", item=True) is None
    assert previous.reusable(("fan", 1, None), "f1", item=True) is None
    assert previous.finished[("g.c", 2, 3, None)].output == [1]


def test_a_finished_run_reports_its_verdict(tmp_path: Path) -> None:
    _journal(tmp_path / "r", START, {"type": "run_finished", "status": "passed"})
    assert load_previous_run(tmp_path / "r").status == "passed"


@pytest.mark.parametrize("content", [None, "", '{"seq": 1, "type": "run_st'])
def test_a_run_without_events_cannot_be_resumed(tmp_path: Path, content: str | None) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    if content is not None:
        (run_dir / "events.jsonl").write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match="resume from"):
        load_previous_run(run_dir)


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        ('{"a": 1}\n{"b": 2}\n{"c"', '{"a": 1}\n{"b": 2}\n'),
        ('{"a": 1}\n', '{"a": 1}\n'),
        ('{"tor', ""),
        ("", ""),
        ("x" * 10_000 + "\n" + "y" * 9_000, "x" * 10_000 + "\n"),
    ],
)
def test_repair_cuts_a_torn_last_line(tmp_path: Path, content: str, kept: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(content, encoding="utf-8")
    repair_journal(path)
    assert path.read_text(encoding="utf-8") == kept


def test_runs_are_found_by_latest_id_or_path(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _journal(runs / "r1", START)
    _journal(runs / "r2", START)
    with pytest.raises(UsageError, match="no runs yet in"):
        find_run("latest", runs)
    update_latest(runs, "r1")
    assert find_run("latest", runs) == runs / "r1"
    assert find_run("r2", runs) == runs / "r2"
    assert find_run(str(runs / "r2"), tmp_path / "elsewhere") == runs / "r2"
    with pytest.raises(UsageError, match="no run 'r3'"):
        find_run("r3", runs)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    pattern = rf"another agnoctl process \(pid {os.getpid()}\)"
    with RunLock.held(tmp_path / "run"), pytest.raises(RunLocked, match=pattern):
        RunLock.acquire(tmp_path / "run")
    RunLock.acquire(tmp_path / "run").release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from agnoctl.engine.rundir import RunLock
                lock = RunLock.acquire(Path({str(tmp_path / "run")!r}))
                print("locked", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match=f"pid {holder.pid}"):
            RunLock.acquire(tmp_path / "run")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    RunLock.acquire(tmp_path / "run").release()
