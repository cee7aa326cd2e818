"""`--resume latest` is this workflow's latest run; with none, the run starts anew and says so.

So one CI line, `agnoctl run wf.yaml --resume latest`, serves the first try and every retry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from resume_helpers import events, latest, valid_report

RunCli = Any
NOTE = "note: no earlier run of workflow '{name}' in .agnoctl/runs to resume: this is a new run\n"


def _flow(folder: Path, name: str, fail_once: bool = False) -> Path:
    # A command step that fails while the marker file is missing.
    check = "import os, sys; sys.exit(0 if os.path.exists('fixed') else 1)"
    data = {
        "version": 1,
        "name": name,
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {
            "ask": {"agent": "a", "prompt": "hello"},
            "check": {"run": ["python3", "-c", check] if fail_once else ["python3", "-V"]},
        },
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_resume_latest_with_no_earlier_run_starts_one_and_says_so(
    run_cli: RunCli, tmp_path: Path
) -> None:
    flow = _flow(tmp_path, "first-try", fail_once=True)
    first = run_cli("run", flow, "--resume", "latest", "-q")
    assert first.returncode == 1, first.stdout + first.stderr  # the check fails: a real verdict
    assert first.stderr == NOTE.format(name="first-try")
    run_dir = latest(tmp_path)
    report = valid_report(run_dir)
    assert (report["resumed"], len(report["segments"])) == (False, 1)
    started = events(run_dir)[0]
    assert (started["type"], started["note"]) == (
        "run_started",
        NOTE[6:-1].format(name="first-try"),
    )

    (tmp_path / "fixed").touch()
    retry = run_cli("run", flow, "--resume", "latest", "-q")  # the same line, the retry
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert retry.stderr == ""
    assert f"resumed run {run_dir.name}: 1 task(s) reused, 0 model call(s) made" in retry.stdout
    assert latest(tmp_path) == run_dir


def test_resume_latest_takes_this_workflows_run_not_another_ones(
    run_cli: RunCli, tmp_path: Path
) -> None:
    mine = _flow(tmp_path, "mine")
    assert run_cli("run", mine, "-q").returncode == 0
    my_run = latest(tmp_path)
    other = _flow(tmp_path, "other")
    assert run_cli("run", other, "-q").returncode == 0
    assert latest(tmp_path) != my_run

    again = run_cli("run", mine, "--resume", "latest")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout == (
        f"run {my_run.name} already passed and nothing changed since: nothing to resume\n"
    )


def test_a_run_killed_before_its_first_event_is_not_resumed(
    run_cli: RunCli, tmp_path: Path
) -> None:
    flow = _flow(tmp_path, "killed-early")
    runs = tmp_path / ".agnoctl" / "runs"
    (runs / "20200101T000000Z-000000").mkdir(parents=True)  # a directory and no journal yet
    (runs / "latest").symlink_to("20200101T000000Z-000000")
    started = run_cli("run", flow, "--resume", "latest", "-q")
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stderr == NOTE.format(name="killed-early")
    assert valid_report(latest(tmp_path))["status"] == "passed"
