"""``agnoctl run --format github``: a finished run as GitHub Actions workflow commands.

GitHub turns each ``::error`` / ``::warning`` line a step prints into an annotation on the
job's page (and on the pull request's changed files when the file matches). One line each for:

- a failed run (error, no file: it is the run's verdict);
- a failed step (error; a warning when the run tolerated it: under ``continue_on_error``, its
  own or a parent group's, or inside a group that still met its threshold), at the step's line
  in the workflow file when the source map is known;
- a failed for_each item of a step that still passed its threshold (warning);
- a failed gate on the attempt that counted (error; a warning under ``on_gate_failure: warn``
  or where a failed step would be one);
- an approval the run waits for (warning: who must approve, with the command).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from agnoctl.engine.resume import step_of
from agnoctl.printable import github_command
from agnoctl.reports.model import GateReport, RunReport, StepReport

if TYPE_CHECKING:
    from agnoctl.spec.loader import SourceMap

MAX_ITEMS_PER_STEP = 10
"""Failed items annotated per step; GitHub shows only the first few annotations anyway."""


def github_annotations(report: RunReport, source: SourceMap | None = None) -> str:
    """Workflow-command lines for what failed in ``report``; empty when nothing did."""
    return "".join(line + "\n" for line in _lines(report, source))


def _lines(report: RunReport, source: SourceMap | None) -> Iterator[str]:
    for approval in report.approvals:
        if approval.waiting:
            title = f"agnoctl: step {approval.step} is waiting for approval"
            yield _command("warning", title, f"approve with: {approval.approve}")
    if report.status not in ("passed", "waiting"):
        yield _command("error", f"agnoctl: {report.workflow.name} {report.status}", report.reason)
    for step, tolerated in report.tolerance():
        where = _where(report, step.path, source)
        if step.status == "failed":
            level = "warning" if tolerated else "error"
            message = step.error.message if step.error else "failed"
            yield _command(level, f"agnoctl: step {step.path} failed", message, where)
        elif step.items or step.items_file:
            failed = (item for item in report.items_of(step) if item.status == "failed")
            for item in itertools.islice(failed, MAX_ITEMS_PER_STEP):
                message = item.error.message if item.error else "failed"
                title = f"agnoctl: {step.path}[{item.index}] failed"
                yield _command("warning", title, message, where)
        for gate in _failed_gates(step):
            level = "warning" if gate.severity == "warn" or tolerated else "error"
            title = f"agnoctl: gate {gate.name} failed on {step.path}"
            yield _command(level, title, gate.finding or "failed", where)


def _failed_gates(step: StepReport) -> list[GateReport]:
    """Failed gates of the last attempt checked (earlier attempts were retried)."""
    if not step.gates:
        return []
    last = max(gate.attempt or 0 for gate in step.gates)
    return [g for g in step.gates if (g.attempt or 0) == last and not g.passed]


def _where(report: RunReport, path: str, source: SourceMap | None) -> dict[str, object]:
    if source is None:
        return {"file": report.workflow.file}
    keys: list[str] = []
    for part in step_of(path).split("."):
        keys += ["steps", part]
    line, col = source.key_position(keys)
    return {"file": report.workflow.file, "line": line, "col": col}


def _command(level: str, title: str, message: str, where: dict[str, object] | None = None) -> str:
    return github_command(level, {**(where or {}), "title": title}, message)


__all__ = ["MAX_ITEMS_PER_STEP", "github_annotations"]
