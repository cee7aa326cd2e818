"""`agnoctl run --resume` through the real CLI, on the mock provider: what runs again, what not."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from resume_helpers import events, latest, valid_report

from tests import forkcli

RunCli = Any


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _flow(folder: Path, steps: dict[str, Any]) -> Path:
    return _write(
        folder,
        "flow.yaml",
        {
            "version": 1,
            "name": "resume-cli",
            "agents": {"a": {"model": "mock/echo"}},
            "defaults": {"retry": {"max_attempts": 1}},
            "steps": steps,
        },
    )


def _segment(run_dir: Path) -> list[dict[str, Any]]:
    """The events of the last (resumed) segment."""
    journal = events(run_dir)
    start = max(i for i, e in enumerate(journal) if e["type"] in {"run_started", "run_resumed"})
    return journal[start:]


def _asked(segment: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return sorted((e["step"], e.get("item")) for e in segment if e["type"] == "llm_call")


def _reused(segment: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    kinds = {"step_reused", "item_reused"}
    return sorted((e["step"], e.get("item")) for e in segment if e["type"] in kinds)


FAN_STEPS = {
    "fan": {"agent": "a", "for_each": [0, 1, 2, 3, 4], "prompt": "item {{ item }}"},
    "after": {"agent": "a", "needs": ["fan"], "prompt": "all: {{ steps.fan.output | join(',') }}"},
    "aside": {"agent": "a", "prompt": "independent"},
}


def test_a_failed_item_and_its_dependents_run_again_alone(run_cli: RunCli, tmp_path: Path) -> None:
    flow = _flow(tmp_path, FAN_STEPS)
    broken = _write(
        tmp_path,
        "broken.yaml",
        {"steps": {"fan": {"items": {2: {"error": {"status": 400}}}, "default": {"text": "ok"}}}},
    )
    fixed = _write(tmp_path, "fixed.yaml", {"steps": {"fan": {"text": "ok"}}})

    first = run_cli("run", flow, "--mock-fixtures", broken, "-q")
    assert first.returncode == 1, first.stdout + first.stderr
    run_dir = latest(tmp_path)
    assert valid_report(run_dir)["steps"]["after"]["reason"] == "upstream_failed"

    second = run_cli("run", flow, "--mock-fixtures", fixed, "--resume", "latest", "-q")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"resumed run {run_dir.name}: 5 task(s) reused, 2 model call(s) made" in second.stdout
    segment = _segment(run_dir)
    assert segment[0]["type"] == "run_resumed"
    assert _asked(segment) == [("after", None), ("fan", 2)]
    assert _reused(segment) == [("aside", None), *(("fan", i) for i in (0, 1, 3, 4))]
    report = valid_report(run_dir)
    assert (report["status"], report["resumed"], report["reused"]) == ("passed", True, 5)
    assert [item["reused"] for item in report["steps"]["fan"]["items"]] == [
        True,
        True,
        False,
        True,
        True,
    ]
    assert report["steps"]["after"]["output"] == "all: ok,ok,ok,ok,ok"
    assert report["steps"]["aside"]["reused"] is True


def test_an_edited_step_runs_again_and_untouched_ones_do_not(
    run_cli: RunCli, tmp_path: Path
) -> None:
    steps = {
        **FAN_STEPS,
        "group": {
            "steps": {
                "one": {"agent": "a", "prompt": "child one"},
                "two": {"agent": "a", "prompt": "child two", "needs": ["one"]},
            }
        },
    }
    flow = _flow(tmp_path, steps)
    assert run_cli("run", flow, "-q").returncode == 0
    run_dir = latest(tmp_path)

    edited = {
        **steps,
        "after": {**FAN_STEPS["after"], "prompt": "every: {{ steps.fan.output | join(',') }}"},
        "aside": {**FAN_STEPS["aside"], "timeout": "5m", "retry": {"max_attempts": 3}},
        "group": {
            "steps": {
                "one": {"agent": "a", "prompt": "child one"},
                "two": {"agent": "a", "prompt": "child two, edited", "needs": ["one"]},
            }
        },
    }
    _flow(tmp_path, edited)
    resumed = run_cli("run", flow, "--resume", "latest", "-q")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    segment = _segment(run_dir)
    assert _asked(segment) == [("after", None), ("group.two", None)]
    assert _reused(segment) == [
        ("aside", None),  # timeout and retry shape how it runs, not what it computes
        *(("fan", i) for i in range(5)),
        ("group.one", None),
    ]
    report = valid_report(run_dir)
    assert report["steps"]["after"]["output"].startswith("every: ")
    assert report["steps"]["group"]["output"] == {
        "one": "child one",
        "two": "child two, edited",
    }


def test_a_loop_resumes_at_the_iteration_that_failed(run_cli: RunCli, tmp_path: Path) -> None:
    flow = _flow(
        tmp_path,
        {
            "review": {
                "loop": {"max_iterations": 3, "until": "false"},
                "steps": {
                    "draft": {
                        "agent": "a",
                        "prompt": "draft {{ loop.iteration }} after {{ loop.previous.draft }}",
                    }
                },
            }
        },
    )
    replies = [{"text": "d1"}, {"text": "d2"}, {"error": {"status": 400}}]
    broken = _write(tmp_path, "broken.yaml", {"steps": {"review.draft": replies}})
    fixed = _write(tmp_path, "fixed.yaml", {"steps": {"review.draft": {"text": "d3"}}})
    assert run_cli("run", flow, "--mock-fixtures", broken, "-q").returncode == 1
    run_dir = latest(tmp_path)

    resumed = run_cli("run", flow, "--mock-fixtures", fixed, "--resume", "latest", "-q")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    segment = _segment(run_dir)
    reused = [e["iteration"] for e in segment if e["type"] == "step_reused"]
    asked = [e for e in segment if e["type"] == "llm_call"]
    assert (reused, len(asked)) == ([1, 2], 1)
    loop = valid_report(run_dir)["steps"]["review"]["loop"]
    assert [outputs["draft"] for outputs in loop["outputs"]] == ["d1", "d2", "d3"]


def test_resuming_a_passed_run_does_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    flow = _flow(tmp_path, FAN_STEPS)
    assert run_cli("run", flow, "-q").returncode == 0
    run_dir = latest(tmp_path)
    journal = (run_dir / "events.jsonl").read_bytes()
    again = run_cli("run", flow, "--resume", run_dir.name)
    assert again.returncode == 0
    assert again.stdout == (
        f"run {run_dir.name} already passed and nothing changed since: nothing to resume\n"
    )
    assert (run_dir / "events.jsonl").read_bytes() == journal


def test_a_run_being_written_cannot_be_resumed_at_the_same_time(
    run_cli: RunCli, tmp_path: Path
) -> None:
    flow = _flow(tmp_path, {"slow": {"run": [sys.executable, "-c", "import time; time.sleep(30)"]}})
    first = forkcli.start(
        ["run", str(flow), "-q"],
        cwd=tmp_path,
        stdout=forkcli.DEVNULL,
        stderr=forkcli.DEVNULL,
    )
    try:
        journal = tmp_path / ".agnoctl" / "runs" / "latest" / "events.jsonl"
        deadline = time.monotonic() + 30
        while not (journal.exists() and b"step_started" in journal.read_bytes()):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = run_cli("run", flow, "--resume", "latest")
        assert second.returncode == 2
        assert f"another agnoctl process (pid {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert os.path.exists(journal)


def test_bad_resume_requests_are_usage_errors(run_cli: RunCli, tmp_path: Path) -> None:
    flow = _flow(tmp_path, FAN_STEPS)
    unknown = run_cli("run", flow, "--resume", "20990101T000000Z-abcdef")
    assert unknown.returncode == 2
    assert "no run '20990101T000000Z-abcdef'" in unknown.stderr
    both = run_cli("run", flow, "--resume", "latest", "--report-dir", tmp_path / "x")
    assert (both.returncode, both.stderr) == (
        2,
        "error: --resume continues in the run's own directory; drop --report-dir\n",
    )


def test_a_reused_steps_output_is_what_its_dependents_read(run_cli: RunCli, tmp_path: Path) -> None:
    steps = {
        "first": {"agent": "a", "prompt": "first answer"},
        "second": {"agent": "a", "needs": ["first"], "prompt": "got {{ steps.first.output }}"},
    }
    flow = _flow(tmp_path, steps)
    assert run_cli("run", flow, "-q").returncode == 0
    run_dir = latest(tmp_path)

    edited = {**steps, "second": {**steps["second"], "prompt": "now {{ steps.first.output }}"}}
    _flow(tmp_path, edited)
    resumed = run_cli("run", flow, "--resume", "latest", "-q")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    segment = _segment(run_dir)
    assert (_reused(segment), _asked(segment)) == ([("first", None)], [("second", None)])
    assert valid_report(run_dir)["steps"]["second"]["output"] == "now first answer"
