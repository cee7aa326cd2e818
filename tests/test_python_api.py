"""The library API: paths as str or Path, and a run from inside an event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

import agnoctl
from agnoctl.errors import NothingToResume, UsageError


def _flow(folder: Path) -> Path:
    data = {
        "version": 1,
        "name": "api",
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {"ask": {"agent": "a", "prompt": "hello"}},
    }
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_every_path_may_be_a_str(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _flow(tmp_path)
    report = agnoctl.run_workflow(
        "flow.yaml", report_dir="runs/x", runs_dir="runs", cache_dir="cache", mock=True
    )
    assert report.status == "passed"
    assert (tmp_path / "runs" / "x" / "report.json").is_file()
    with pytest.raises(NothingToResume, match=report.run_id):  # found by its directory
        agnoctl.run_workflow("flow.yaml", resume=Path("runs/x"), runs_dir="runs", mock=True)


def test_run_workflow_inside_a_loop_says_what_to_do_and_writes_nothing(tmp_path: Path) -> None:
    flow = _flow(tmp_path)

    async def inside() -> None:
        agnoctl.run_workflow(flow, report_dir=tmp_path / "run", mock=True)

    with pytest.raises(UsageError, match=r"await agnoctl\.arun_workflow"):
        asyncio.run(inside())
    assert not (tmp_path / "run").exists()


def test_arun_workflow_runs_in_the_callers_loop(tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    ticks: list[int] = []

    async def app() -> agnoctl.RunReport:
        async def heartbeat() -> None:  # the caller's own work goes on during the run
            while True:
                ticks.append(1)
                await asyncio.sleep(0)

        beat = asyncio.create_task(heartbeat())
        try:
            return await agnoctl.arun_workflow(
                str(flow), runs_dir=str(tmp_path / "runs"), mock=True
            )
        finally:
            beat.cancel()

    report = asyncio.run(app())
    assert report.status == "passed" and report.steps["ask"].output == "hello"
    assert (tmp_path / "runs" / report.run_id / "report.json").is_file()
    assert ticks
