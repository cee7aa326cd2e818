"""`agnoctl run --resume` of a run whose report files a full disk (or a kill) kept from being
written, after its journal recorded the end: the files are made again, the run's webhooks and
its GitHub job summary go out exactly once, and nothing runs again, whether the run passed or
failed.

The state is made through the real CLI: a process whose file size limit (RLIMIT_FSIZE) lies
between report.json's size and report.html's writes report.json, records ``run_finished``,
writes junit.xml and summary.md, appends the summary to ``$GITHUB_STEP_SUMMARY``, and fails on
report.html (exit 1) before any webhook is sent: what a kill at that moment leaves too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from tests.observability import conftest as observability
from tests.observability.conftest import Receiver
from tests.resume.resume_helpers import events, latest, valid_report
from tests.security import cli
from tests.security.test_disk import _limited

receiver = observability.receiver  # the loopback webhook receiver, as a fixture of this module

# Above report.json (4 kB), the journal and every other file of these runs; below report.html.
LIMIT = 10 * 1024
DERIVED = ("junit.xml", "summary.md", "outputs/said.txt", "report.html", "metrics.prom")


def write_flow(folder: Path, url: str, *, fail: bool) -> None:
    steps: dict[str, Any] = {"ask": {"agent": "a", "prompt": "hello"}}
    if fail:  # a command that fails, leaving a mark each time it runs
        mark = f"echo ran >> {folder / 'ran.txt'}; exit 3"
        steps["check"] = {"run": ["sh", "-c", mark], "needs": ["ask"]}
    flow = {
        "version": 1,
        "name": "repair",
        "agents": {"a": {"model": "mock/echo"}},
        "notify": {"on_success": [f"{url}/success"], "on_failure": [f"{url}/failure"]},
        "steps": steps,
        "outputs": {"said": "{{ steps.ask.output }}"},
    }
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")


def agnoctl(folder: Path, *args: str, limit: int | None = None) -> Any:
    env = {"GITHUB_STEP_SUMMARY": str(folder / "job-summary.md")}
    return cli.agnoctl(
        folder,
        "run",
        "flow.yaml",
        "-q",
        "--no-cache",
        *args,
        env={**_environment(), **env},
        limits=None if limit is None else _limited(limit),
    )


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}


def stopped_before_the_derived_files(folder: Path) -> Path:
    """The first segment, stopped by report.html's write: the run directory."""
    full = agnoctl(folder, limit=LIMIT)
    run_dir = latest(folder)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "cannot write the report" in full.stderr and "report.html" in full.stderr
    assert events(run_dir)[-1]["type"] == "run_finished"
    assert not (run_dir / "report.html").exists()
    return run_dir


def summaries(folder: Path, run_id: str) -> int:
    """How many times the run's summary was appended to the job's summary file."""
    text = (folder / "job-summary.md").read_text(encoding="utf-8")
    return text.count(run_id)


def assert_repaired(run_dir: Path) -> dict[str, Any]:
    report = valid_report(run_dir)
    for name in DERIVED:
        assert (run_dir / name).is_file(), name
    assert list(run_dir.rglob("*.tmp")) == []
    return report


def test_repairing_a_passed_run_sends_its_webhook_and_summary_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    write_flow(tmp_path, receiver.url, fail=False)
    run_dir = stopped_before_the_derived_files(tmp_path)
    assert receiver.requests == []  # the summary and the webhooks come after every report file
    assert not (tmp_path / "job-summary.md").exists()
    journal = (run_dir / "events.jsonl").read_bytes()

    repaired = agnoctl(tmp_path, "--resume", "latest")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert repaired.stdout.startswith(f"repaired the reports of run {run_dir.name} (made ")
    assert assert_repaired(run_dir)["status"] == "passed"
    assert (run_dir / "events.jsonl").read_bytes() == journal  # nothing ran
    assert [r.path for r in receiver.requests] == ["/success"]
    assert receiver.requests[0].headers["x-agnoctl-delivery"] == f"{run_dir.name}:success"
    assert summaries(tmp_path, run_dir.name) == 1

    done = agnoctl(tmp_path, "--resume", "latest")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing to resume" in done.stdout and "repaired" not in done.stdout
    assert len(receiver.requests) == 1
    assert summaries(tmp_path, run_dir.name) == 1


def test_a_report_file_lost_after_the_run_is_made_again_without_a_second_summary(
    tmp_path: Path, receiver: Receiver
) -> None:
    write_flow(tmp_path, receiver.url, fail=False)
    finished = agnoctl(tmp_path)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    run_dir = latest(tmp_path)
    assert summaries(tmp_path, run_dir.name) == 1 and len(receiver.requests) == 1

    (run_dir / "report.html").unlink()
    repaired = agnoctl(tmp_path, "--resume", "latest")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert repaired.stdout.startswith(f"repaired the reports of run {run_dir.name} (made report")
    assert_repaired(run_dir)
    assert summaries(tmp_path, run_dir.name) == 1  # the run's verdict was told once already
    assert len(receiver.requests) == 1


def test_repairing_a_failed_run_reruns_nothing(tmp_path: Path, receiver: Receiver) -> None:
    write_flow(tmp_path, receiver.url, fail=True)
    run_dir = stopped_before_the_derived_files(tmp_path)
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
    journal = (run_dir / "events.jsonl").read_bytes()

    repaired = agnoctl(tmp_path, "--resume", "latest")
    assert repaired.returncode == 1, repaired.stdout + repaired.stderr  # the run's verdict
    assert repaired.stdout.startswith(f"repaired the reports of run {run_dir.name} (made ")
    assert "--resume" in repaired.stdout  # how to run what failed again
    report = assert_repaired(run_dir)
    assert report["status"] == "failed" and report["steps"]["check"]["status"] == "failed"
    assert (run_dir / "events.jsonl").read_bytes() == journal  # nothing ran...
    assert (tmp_path / "ran.txt").read_text() == "ran\n"  # ...not even the command
    assert [r.path for r in receiver.requests] == ["/failure"]
    assert json.loads(receiver.requests[0].body)["status"] == "failed"
    assert summaries(tmp_path, run_dir.name) == 1

    # Once the reports are whole, --resume carries on the failed run as always.
    resumed = agnoctl(tmp_path, "--resume", "latest")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "repaired" not in resumed.stdout
    assert (tmp_path / "ran.txt").read_text() == "ran\nran\n"
    assert [r.path for r in receiver.requests] == ["/failure", "/failure"]
    assert summaries(tmp_path, run_dir.name) == 2  # a second finished segment, a second verdict
