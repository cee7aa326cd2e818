"""A disk that fills up: a write to the run directory that fails stops the run cleanly.

The journal, a checkpoint or a final report file that cannot be written ends the run at once
with one line naming the file and saying how to go on (exit 1, no traceback), and leaves what
was written valid: `--resume`, once there is room, finishes the run without redoing what the
journal recorded.

A full disk is simulated without a mount: the real CLI runs in a process whose file size limit
(RLIMIT_FSIZE) is low, so a write past it fails with EFBIG as a full disk fails with ENOSPC,
through the same write path (SIGXFSZ, which would kill the process instead, is ignored, as
Python sets it as it starts). The event sink itself is tried on /dev/full.
"""

from __future__ import annotations

import asyncio
import errno
import json
import resource
import subprocess
from pathlib import Path
from typing import Any

from agnoctl.events import EventSink, RunFinished, RunStarted, StepStarted, read_events
from tests import forkcli
from tests.resume.resume_helpers import events, latest, valid_report
from tests.security import cli

# Below a workflow step's journal lines, above every file a run of these workflows writes
# before the planned failure.
LIMIT = 32 * 1024


def _limited(limit: int) -> forkcli.Limits:
    return {resource.RLIMIT_FSIZE: (limit, limit)}


def agnoctl(cwd: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    result = cli.agnoctl(cwd, *args, limits=None if limit is None else _limited(limit))
    assert "Exception in callback" not in result.stderr, result.stderr
    return result


def write_flow(folder: Path, steps: dict[str, Any], outputs: dict[str, str] | None = None) -> None:
    flow = {"version": 1, "name": "disk", "agents": {"a": {"model": "mock/echo"}}}
    flow["steps"] = steps
    if outputs:
        flow["outputs"] = outputs
    (folder / "flow.yaml").write_text(json.dumps(flow), encoding="utf-8")


def no_temporaries(run_dir: Path) -> None:
    left = [p.name for p in run_dir.rglob("*.tmp")]
    assert left == [], left


# ---------------------------------------------------------------------------- the sink


def test_a_failed_journal_write_ends_the_journal_and_tells_the_run() -> None:
    """On /dev/full every write fails with ENOSPC: the sink says so once, through
    `on_error`, and never in the event loop's "Exception in callback" (the run went on)."""
    failures: list[OSError] = []
    unhandled: list[dict[str, Any]] = []
    seen: list[str] = []

    async def emit_in_a_loop() -> EventSink:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, c: unhandled.append(c))
        sink = EventSink(
            Path("/dev/full"),
            "run",
            listeners=(lambda entry: seen.append(entry.event.type),),
            on_error=failures.append,
        )
        sink.emit(RunStarted(workflow="w", file="w.yaml"))
        await asyncio.sleep(0)  # the loop's next turn: the journal's flush
        sink.emit(StepStarted(step="a"))
        await asyncio.sleep(0)
        sink.close()
        return sink

    sink = asyncio.run(emit_in_a_loop())
    assert unhandled == []
    assert [failure.errno for failure in failures] == [errno.ENOSPC]
    assert sink.error is failures[0]
    assert seen == ["run_started", "step_started"]  # listeners still hear every event


def test_a_failed_write_outside_a_loop_raises_nothing() -> None:
    failures: list[OSError] = []
    sink = EventSink(Path("/dev/full"), "run", on_error=failures.append)
    sink.emit(RunStarted(workflow="w", file="w.yaml"))
    sink.emit(RunFinished(status="passed", exit_code=0, duration_ms=1.0, cost=0.0))
    sink.close()
    assert [failure.errno for failure in failures] == [errno.ENOSPC]


# ---------------------------------------------------------------------------- the CLI


def test_a_full_disk_under_the_journal_stops_the_run_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    # `b`'s lines (its 40 kB reply, twice) cannot all be written; `a`'s and the first
    # checkpoint can, and the next checkpoint is a second away.
    write_flow(
        tmp_path,
        {
            "a": {"agent": "a", "prompt": "first"},
            "b": {"agent": "a", "needs": ["a"], "prompt": "{{ 'x' * 40000 }}"},
            "c": {"agent": "a", "needs": ["b"], "prompt": "last"},
        },
    )
    full = agnoctl(tmp_path, "run", "flow.yaml", "-q", limit=LIMIT)
    run_dir = latest(tmp_path)
    journal = run_dir / "events.jsonl"
    assert full.returncode == 1, full.stdout + full.stderr
    assert full.stderr.strip().splitlines()[-1] == (
        f"error: cannot write the journal {journal.relative_to(tmp_path)}: File too large; "
        "free space and run `agnoctl run flow.yaml --resume latest`"
    )
    # What was written holds: the journal up to the failed write (its last line may be torn),
    # the checkpoint; the run went no further than the step being written.
    recorded = [entry.as_dict() for entry in read_events(journal)]
    assert ("step_succeeded", "a") in {(e["type"], e.get("step")) for e in recorded}
    assert not any(e.get("step") == "c" for e in recorded)
    assert valid_report(run_dir)["status"] == "interrupted"
    no_temporaries(run_dir)

    resumed = agnoctl(tmp_path, "run", "flow.yaml", "-q", "--resume", "latest")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = valid_report(run_dir)
    assert report["status"] == "passed"
    assert [sid for sid, step in report["steps"].items() if step["reused"]] == ["a"]
    assert len(report["steps"]["b"]["output"]) == 40000


def test_a_checkpoint_that_cannot_be_written_stops_the_run(tmp_path: Path) -> None:
    # 200 steps in a chain: the first checkpoint (every step, pending) is past the limit,
    # while the journal holds one line.
    write_flow(
        tmp_path,
        {
            f"s{i}": {"agent": "a", "prompt": f"p{i}", **({"needs": [f"s{i - 1}"]} if i else {})}
            for i in range(200)
        },
    )
    full = agnoctl(tmp_path, "run", "flow.yaml", "-q", limit=LIMIT)
    run_dir = latest(tmp_path)
    assert full.returncode == 1, full.stdout + full.stderr
    assert full.stderr.strip().splitlines()[-1] == (
        f"error: cannot write the report {(run_dir / 'report.json').relative_to(tmp_path)}: "
        "File too large; free space and run `agnoctl run flow.yaml --resume latest`"
    )
    assert not (run_dir / "report.json").exists()  # the first checkpoint never was
    assert not any(e["type"] == "step_succeeded" for e in events(run_dir))
    no_temporaries(run_dir)

    resumed = agnoctl(tmp_path, "run", "flow.yaml", "-q", "--resume", "latest")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert valid_report(run_dir)["succeeded"] == 200


def test_a_final_report_that_cannot_be_written_is_made_by_resume(tmp_path: Path) -> None:
    # The steps' journal lines fit; the output (a 45 kB outputs/big.txt, and in report.json)
    # does not.
    write_flow(
        tmp_path,
        {"a": {"agent": "a", "prompt": "hello"}},
        outputs={"big": "{{ steps.a.output * 9000 }}"},
    )
    full = agnoctl(tmp_path, "run", "flow.yaml", "-q", limit=LIMIT)
    run_dir = latest(tmp_path)
    assert full.returncode == 1, full.stdout + full.stderr
    assert full.stderr.strip().splitlines()[-1].startswith("error: cannot write the report ")
    assert "free space and run `agnoctl run flow.yaml --resume latest`" in full.stderr
    assert valid_report(run_dir)["status"] == "interrupted"  # the checkpoint stays
    no_temporaries(run_dir)

    resumed = agnoctl(tmp_path, "run", "flow.yaml", "-q", "--resume", "latest")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = valid_report(run_dir)
    assert report["status"] == "passed" and report["steps"]["a"]["reused"]
    assert (run_dir / "outputs" / "big.txt").read_text(encoding="utf-8") == "hello" * 9000
    for name in ("junit.xml", "summary.md", "report.html", "metrics.prom"):
        assert (run_dir / name).is_file(), name


def test_a_report_dir_run_names_its_directory_to_resume(tmp_path: Path) -> None:
    write_flow(tmp_path, {"a": {"agent": "a", "prompt": "{{ 'x' * 40000 }}"}})
    full = agnoctl(tmp_path, "run", "flow.yaml", "-q", "--report-dir", "out", limit=LIMIT)
    assert full.returncode == 1, full.stdout + full.stderr
    assert full.stderr.rstrip().endswith("`agnoctl run flow.yaml --resume out`")
    resumed = agnoctl(tmp_path, "run", "flow.yaml", "-q", "--resume", "out")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
