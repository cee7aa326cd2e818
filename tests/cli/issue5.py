"""Helpers of the CLI tests of gates, retries, budgets and success: run, then read the run dir.

The workflows and fixtures live in ``data/issue5/``. ``run_in_process`` goes through typer's
CliRunner (fast); ``run_subprocess`` through ``python -m agnoctl`` (the real thing). Both run
with ``--no-cache`` and an explicit ``--report-dir``, so nothing lands in the working directory.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from agnoctl.cli import app

DATA = Path(__file__).resolve().parent / "data" / "issue5"


@dataclass
class Run:
    """One finished ``agnoctl run`` and what it left in its run directory."""

    exit_code: int
    stdout: str
    stderr: str
    run_dir: Path

    @cached_property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "report.json").read_text())
        return data

    @cached_property
    def events(self) -> list[dict[str, Any]]:
        lines = (self.run_dir / "events.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    @cached_property
    def summary(self) -> str:
        return (self.run_dir / "summary.md").read_text()

    @cached_property
    def junit(self) -> dict[str, ET.Element]:
        """Testcases by name."""
        root = ET.parse(self.run_dir / "junit.xml").getroot()
        return {case.get("name", ""): case for case in root.iter("testcase")}

    def step(self, path: str) -> dict[str, Any]:
        """A step of report.json by its path (``group.child`` for a group's child)."""
        head, _, rest = path.partition(".")
        step: dict[str, Any] = self.report["steps"][head]
        return self.step_in(step, rest) if rest else step

    def step_in(self, parent: dict[str, Any], rest: str) -> dict[str, Any]:
        head, _, deeper = rest.partition(".")
        child: dict[str, Any] = parent["steps"][head]
        return self.step_in(child, deeper) if deeper else child

    def of(self, kind: str, step: str | None = None) -> list[dict[str, Any]]:
        """Events of one type, of one step when ``step`` is given."""
        return [
            e for e in self.events if e["type"] == kind and (step is None or e.get("step") == step)
        ]

    def statuses(self) -> dict[str, str]:
        """``step -> status`` (``skipped:reason``) of the top-level steps."""
        return {
            sid: s["status"] + (f":{s['reason']}" if s["reason"] else "")
            for sid, s in self.report["steps"].items()
        }


def _args(
    workflow: Path, fixtures: Path | None, run_dir: Path, extra: tuple[str, ...]
) -> list[str]:
    args = ["run", str(workflow), "--report-dir", str(run_dir), "--no-cache", "--quiet"]
    if fixtures is not None:
        args += ["--mock-fixtures", str(fixtures)]
    return [*args, *extra]


def run_in_process(workflow: Path, fixtures: Path | None, run_dir: Path, *extra: str) -> Run:
    # GITHUB_STEP_SUMMARY unset: a CI runner's own summary file must not receive test runs.
    result = CliRunner().invoke(
        app, _args(workflow, fixtures, run_dir, extra), env={"GITHUB_STEP_SUMMARY": None}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr, run_dir)


RunCli = Callable[..., subprocess.CompletedProcess[str]]


def run_subprocess(
    run_cli: RunCli, workflow: Path, fixtures: Path | None, run_dir: Path, *extra: str
) -> Run:
    result = run_cli(*_args(workflow, fixtures, run_dir, extra))
    return Run(result.returncode, result.stdout, result.stderr, run_dir)


def variant(name: str, folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of ``data/issue5/<name>`` in ``folder``, changed by ``edit``."""
    spec = yaml.safe_load((DATA / name).read_text())
    edit(spec)
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def write_yaml(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
