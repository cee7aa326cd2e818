"""Human approval: who decides an `approval:` step, how, and the audit trail it leaves.

A decision comes, in this order, from the command line (`--approve STEP` / `--reject STEP`,
up front or with `--resume`: how = ``flag``), from a person at the terminal (how =
``terminal``), or from `on_timeout` when the prompt's `timeout` passed unanswered (how =
``timeout``; `on_timeout: fail` fails the step instead). With none of these (no terminal, as
in CI) the step is left ``waiting``: the run finishes what does not depend on it and stops
with status ``waiting`` (exit 75), and ``--resume latest --approve STEP`` carries it on.

The prompt is blocking terminal I/O, so it runs in a worker thread while the independent
steps go on; one prompt at a time, since a terminal has one person at it. The prompt itself
(the display paused, control characters shown) belongs to the command line's terminal: the
engine only calls a ``Prompter``.

A decision is the step's output (``{approved, by, at, reason}``); a resumed run reuses it as
it reuses any finished step's. The journal says ``approval_requested`` and
``approval_decided`` (who, when, why, how), read back here for the report's audit trail.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio

from agnoctl import events
from agnoctl.errors import StepFailed, UsageError
from agnoctl.events import EventSink, read_events
from agnoctl.spec.diagnostics import did_you_mean
from agnoctl.spec.models import ApprovalSpec, Workflow

How = Literal["terminal", "flag", "timeout"]
Unanswered = Literal["timeout", "closed"]
"""The prompt's timeout passed, or its input ended (nobody is there: the step waits)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A person's answer: at the terminal, or by `--approve` / `--reject` (with `--reason`)."""

    approved: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What the person at the terminal is asked."""

    step: str
    message: str
    timeout: float | None


Prompter = Callable[[ApprovalRequest], Answer | Unanswered]
"""Asks a person and blocks until the answer (run in a worker thread)."""


@dataclass(frozen=True, slots=True)
class ApprovalOptions:
    """How a run's approvals are decided: what the command line decided, and who asks."""

    decisions: Mapping[str, Answer] = field(default_factory=dict)
    """By step id (`--approve STEP`, `--reject STEP`)."""
    prompter: Prompter | None = None
    """Asks at a terminal; None without one (the steps wait)."""
    abandon: Callable[[], None] | None = None
    """Makes the prompter's question return at once, for good: called when the run is
    cancelled while it asks (Ctrl-C, a signal, `limits.max_duration`). Its thread is left
    behind, and the process's ending waits for it: still reading the terminal, it would hold
    the ended run until the person typed a line."""


def approver() -> str:
    """Who decides from this process: the GitHub actor in a workflow, else the user name."""
    actor = os.environ.get("GITHUB_ACTOR", "").strip()
    if actor:
        return actor
    import getpass  # an approval's decider: a run without approvals never asks

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment nor the password database
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    by: str
    at: str
    """ISO-8601 UTC."""
    reason: str | None
    how: How

    def output(self) -> dict[str, Any]:
        """The step's output, as later steps read it."""
        return {"approved": self.approved, "by": self.by, "at": self.at, "reason": self.reason}


def decided(answer: Answer, how: How, by: str | None = None) -> Decision:
    return Decision(answer.approved, by or approver(), _now(), answer.reason, how)


class Approvals:
    """The approvals of one run: decides each approval step, one prompt at a time, and keeps
    the audit trail (the earlier segments' entries first)."""

    def __init__(
        self,
        options: ApprovalOptions,
        sink: EventSink,
        *,
        resume_command: str,
        journal: Path | None = None,
    ) -> None:
        """``resume_command`` carries the run on (`agnoctl run FILE --resume latest`);
        ``journal`` is the earlier segments' when the run is resumed."""
        self._options = options
        self._sink = sink
        self._lock = anyio.Lock()
        self._resume = resume_command
        self.audit: list[dict[str, Any]] = _earlier(journal) if journal is not None else []
        self.waiting: list[str] = []

    def given(self, step: str) -> bool:
        """Whether the command line decides ``step`` (it then wins over an earlier decision)."""
        return step in self._options.decisions

    async def decide(self, step: str, spec: ApprovalSpec, message: str) -> Decision | None:
        """The step's decision; None when nobody can decide now (the step waits). Raises
        StepFailed when the prompt timed out under `on_timeout: fail`."""
        self._sink.emit(events.ApprovalRequested(step=step, message=message, timeout=spec.timeout))
        decision = await self._decision(step, spec, message)
        if decision is None:
            self.waiting.append(step)
            self.audit.append(self.waiting_entry(step, message))
            return None
        self._sink.emit(
            events.ApprovalDecided(
                step=step,
                approved=decision.approved,
                by=decision.by,
                at=decision.at,
                reason=decision.reason,
                how=decision.how,
            )
        )
        self.audit.append({"step": step, **decision.output(), "how": decision.how})
        return decision

    async def _decision(self, step: str, spec: ApprovalSpec, message: str) -> Decision | None:
        given = self._options.decisions.get(step)
        if given is not None:
            return decided(given, "flag")
        prompter = self._options.prompter
        if prompter is None:
            return None
        async with self._lock:
            request = ApprovalRequest(step, message, spec.timeout)
            try:
                answer = await anyio.to_thread.run_sync(prompter, request, abandon_on_cancel=True)
            except anyio.get_cancelled_exc_class():
                if self._options.abandon is not None:
                    self._options.abandon()  # the run ends: its thread must too
                raise
        if answer == "closed":
            return None
        if answer == "timeout":
            return _timed_out(step, spec)
        return decided(answer, "terminal")

    def waiting_entry(self, step: str, message: str) -> dict[str, Any]:
        """An audit entry for a step that waits: what to approve, and the commands that do."""
        quoted = shlex.quote(step)
        return {
            "step": step,
            "approved": None,
            "waiting": True,
            "message": message,
            "approve": f"{self._resume} --approve {quoted} --reason '...'",
            "reject": f"{self._resume} --reject {quoted} --reason '...'",
        }


def _timed_out(step: str, spec: ApprovalSpec) -> Decision:
    assert spec.timeout is not None  # a prompt without a timeout waits for its answer
    unanswered = f"nobody answered within {spec.timeout:g}s"
    if spec.on_timeout == "fail":
        raise StepFailed(f"step {step}: {unanswered} (on_timeout: fail)", kind="timeout")
    return Decision(False, "timeout", _now(), unanswered, "timeout")


def _earlier(journal: Path) -> list[dict[str, Any]]:
    """The decisions the run's earlier segments recorded (its audit trail so far)."""
    entries: list[dict[str, Any]] = []
    for line in read_events(journal):
        event = line.event
        if isinstance(event, events.ApprovalDecided):
            entries.append(
                {
                    "step": event.step,
                    "approved": event.approved,
                    "by": event.by,
                    "at": event.at,
                    "reason": event.reason,
                    "how": event.how,
                }
            )
    return entries


def check_decisions(workflow: Workflow, decisions: Mapping[str, Answer]) -> None:
    """Refuse a decision for a step that is not an approval step of ``workflow`` (a typo
    would otherwise leave the run waiting, or decide nothing), naming the closest one."""
    asking = [sid for sid, spec in workflow.steps.items() if spec.approval is not None]
    for step in decisions:
        spec = workflow.steps.get(step)
        if spec is not None and spec.approval is not None:
            continue
        if spec is not None:
            problem = f"step `{step}` is not an approval step (it has no `approval:`)"
        else:
            problem = f"the workflow has no step `{step}`"
        guess = did_you_mean(step, asking)
        if guess is not None:
            hint = f"did you mean `{guess}`?"
        elif asking:
            hint = "its approval steps: " + ", ".join(f"`{s}`" for s in asking)
        else:
            hint = "the workflow has no approval step"
        raise UsageError(f"--approve/--reject: {problem}; {hint}")


__all__ = [
    "Answer",
    "ApprovalOptions",
    "ApprovalRequest",
    "Approvals",
    "Decision",
    "Prompter",
    "approver",
    "check_decisions",
]
