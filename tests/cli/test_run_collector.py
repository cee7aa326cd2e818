"""The cycle collector: `agnoctl run` tunes it for its run (the process is the run's own); a
library call (`run_workflow`) leaves its caller's as it is."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.collector import YOUNG_THRESHOLD, tuned_for_a_run
from agnoctl.engine.state import RunState
from agnoctl.events import Entry
from agnoctl.reports.model import RunReport
from agnoctl.session import RunOptions, run_workflow

FLOW = (
    "version: 1\nname: t\nagents: {w: {model: mock/echo}}\n"
    "steps: {a: {agent: w, prompt: hi}, b: {agent: w, prompt: again, needs: [a]}}\n"
)


class Watcher:
    """An observer that notes the collector's settings as the run goes."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, int]] = {}

    def _note(self, moment: str) -> None:
        self.seen.setdefault(moment, (gc.get_threshold()[0], gc.get_freeze_count()))

    def run_started(self, state: RunState) -> None:
        self._note("run_started")

    def event(self, entry: Entry) -> None:
        self._note(entry.event.type)

    def run_finished(self, report: RunReport, run_dir: Path) -> None:
        self._note("the report")


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    (tmp_path / "w.yaml").write_text(FLOW, encoding="utf-8")
    return tmp_path / "w.yaml"


@pytest.fixture
def default_threshold() -> Any:
    thresholds = gc.get_threshold()
    gc.set_threshold(700, *thresholds[1:])
    yield
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("default_threshold")
def test_a_library_run_leaves_the_callers_collector_alone(flow: Path) -> None:
    watcher = Watcher()
    run_workflow(flow, RunOptions(report_dir=flow.parent / "r", observer=watcher))
    assert set(watcher.seen.values()) == {(700, 0)}, watcher.seen


@pytest.mark.usefixtures("default_threshold")
def test_a_tuned_run_collects_less_and_spares_what_lasts_while_its_steps_run(flow: Path) -> None:
    watcher = Watcher()
    with tuned_for_a_run(watcher) as observer:
        run_workflow(flow, RunOptions(report_dir=flow.parent / "r", observer=observer))
    threshold, frozen = watcher.seen["run_started"]  # before any step: preparing it
    assert threshold == YOUNG_THRESHOLD and frozen > 0
    assert watcher.seen["step_succeeded"][1] > 0
    assert watcher.seen["run_finished"][1] > 0  # the journal's last event
    assert watcher.seen["the report"] == (YOUNG_THRESHOLD, 0)  # thawed as the run finished
    assert gc.get_threshold()[0] == 700 and gc.get_freeze_count() == 0


def test_a_tuned_run_leaves_an_applications_own_freeze(flow: Path) -> None:
    gc.freeze()
    try:
        with tuned_for_a_run(Watcher()) as observer:
            run_workflow(flow, RunOptions(report_dir=flow.parent / "r", observer=observer))
        assert gc.get_freeze_count() > 0  # not unfrozen behind the application's back
    finally:
        gc.unfreeze()


def test_agnoctl_run_tunes_the_collector_for_its_run(
    flow: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_set_threshold = gc.set_threshold

    def set_threshold(*values: int) -> None:
        calls.append(f"threshold {values[0]}")
        real_set_threshold(*values)

    monkeypatch.setattr(gc, "set_threshold", set_threshold)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 0)
    before = gc.get_threshold()[0]
    result = CliRunner().invoke(
        app, ["run", str(flow), "-q", "--no-cache", "--report-dir", str(flow.parent / "r")]
    )
    assert result.exit_code == 0, result.output
    assert calls == [f"threshold {YOUNG_THRESHOLD}", "freeze", "unfreeze", f"threshold {before}"]
