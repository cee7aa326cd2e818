"""Helpers of the engine tests: workflows on the mock provider, and what a run left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from agnoctl.events import EVENT_TYPES
from agnoctl.reports.model import RunReport
from agnoctl.session import RunOptions, run_workflow


def workflow(steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A workflow around ``steps`` with a mock agent ``a`` and no retry delays."""
    spec: dict[str, Any] = {
        "version": 1,
        "name": "test",
        "agents": {"a": {"model": "mock/echo"}},
        "defaults": {"retry": {"max_attempts": 1}},
        "steps": steps,
    }
    spec.update(top)
    return spec


def statuses(report: RunReport) -> dict[str, str]:
    """``path -> status`` (``skipped:reason``) of every step."""
    return {
        step.path: step.status + (f":{step.reason}" if step.reason else "")
        for step in report.all_steps()
    }


class Runner:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.run_dir = folder

    def __call__(
        self,
        spec: dict[str, Any] | str,
        fixtures: dict[str, Any] | None = None,
        **options: Any,
    ) -> RunReport:
        self.count += 1
        path = self.folder / f"workflow{self.count}.yaml"
        text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        if fixtures is not None:
            fixture_file = self.folder / f"fixtures{self.count}.yaml"
            fixture_file.write_text(yaml.safe_dump(fixtures), encoding="utf-8")
            options["mock_fixtures"] = fixture_file
        self.run_dir = self.folder / f"run{self.count}"
        return run_workflow(path, RunOptions(report_dir=self.run_dir, **options))

    def events(self) -> list[dict[str, Any]]:
        lines = (self.run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
        events = [json.loads(line) for line in lines]
        unknown = {e["type"] for e in events} - EVENT_TYPES
        assert not unknown, f"event types missing from EVENT_TYPES: {unknown}"
        return events

    def started(self) -> list[str]:
        """Steps in the order they started (leaf steps and items)."""
        return [
            e["step"] + (f"[{e['item']}]" if e["type"] == "item_started" else "")
            for e in self.events()
            if e["type"] in ("step_started", "item_started")
        ]
