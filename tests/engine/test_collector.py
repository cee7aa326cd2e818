"""The cycle collector collects the young generation less often for the whole run, its
preparation (a record per step, the run's fingerprint) included, and only for the run."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from agnoctl.engine import run
from agnoctl.engine.run import RunOptions, run_workflow


def test_the_run_is_prepared_with_the_raised_threshold_and_restores_it(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: t\nagents: {w: {model: mock/echo}}\n"
        "steps: {a: {agent: w, prompt: hi}}\n",
        encoding="utf-8",
    )
    seen: dict[str, int] = {}

    def listener(event: dict[str, Any]) -> None:
        seen.setdefault(event["type"], gc.get_threshold()[0])

    thresholds = gc.get_threshold()
    gc.set_threshold(700, *thresholds[1:])
    try:
        run_workflow(
            tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "r", listeners=(listener,))
        )
        assert seen["run_started"] == run._YOUNG_THRESHOLD  # before any step: preparing it
        assert seen["run_finished"] == run._YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == 700
    finally:
        gc.set_threshold(*thresholds)


def test_a_run_hands_frozen_objects_back_and_leaves_an_applications_freeze(
    tmp_path: Path,
) -> None:
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: t\nagents: {w: {model: mock/echo}}\n"
        "steps: {a: {agent: w, prompt: hi}}\n",
        encoding="utf-8",
    )
    thresholds = gc.get_threshold()
    run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "one"))
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds  # raised for the run only
    gc.freeze()
    try:
        run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "two"))
        assert gc.get_freeze_count() > 0  # not unfrozen behind the application's back
    finally:
        gc.unfreeze()
