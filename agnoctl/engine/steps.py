"""What agent and command steps share: the task being run, attempts with retries, and gates.

A ``Task`` is one agent call or one command run: a whole step, one for_each item, or one
child inside a group. ``run_attempts`` runs its attempts under SPEC's retry policy (every
attempt, failure and scheduled retry is an event); ``check_output`` runs the quality gates on
an output, which ends the attempt with ``GateFailed`` when they fail (retried under
``on_gate_failure: retry``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from agnoctl import events
from agnoctl.engine.budget import BudgetExceeded
from agnoctl.engine.gates import GateResult, JudgeFn, check_gates, gate_failure, schema_failure
from agnoctl.engine.retry import Backoff, is_retryable, reason
from agnoctl.engine.runtime import Runtime, Settings
from agnoctl.engine.state import AttemptRecord, ExecRecord, SkipReason
from agnoctl.errors import OutputInvalid, StepFailed
from agnoctl.spec.models import StepSpec
from agnoctl.spec.templates import TemplateError, render

AttemptFn = Callable[[AttemptRecord], Awaitable[Any]]


@dataclass(slots=True)
class Task:
    step: StepSpec
    settings: Settings
    path: str  # the step's path as reports show it: "collect", "review.draft", "fan[2].child"
    step_path: str  # the step's path in the spec ("fan.child"): fixtures, cost by step
    index: int | None  # innermost for_each index (this step's item, or an enclosing group's)
    iteration: int | None  # innermost loop iteration
    context: dict[str, Any]  # the template context
    record: ExecRecord  # where attempts, gates and the output go

    @property
    def where(self) -> str:
        """The step, and the item when this task is one: ``collect[1]``."""
        return self.record.path

    def render(self, field: str, source: str) -> str:
        """Render one of the step's templates; errors name the step, the field and the name."""
        try:
            return render(source, self.context)
        except TemplateError as exc:
            raise StepFailed(
                f"step {self.where}: {field}: {exc.message}", kind="template"
            ) from None


async def run_attempts(
    rt: Runtime, task: Task, attempt: AttemptFn, *, model: str | None = None
) -> Any:
    """Run ``attempt`` until it succeeds, fails for good, or ``retry.max_attempts`` are spent.

    ``timeout`` bounds each attempt; running out is a retryable ``timeout`` failure.
    """
    policy = task.settings.retry
    timeout = task.settings.timeout
    backoff: Backoff | None = None
    attempts = task.record.attempts
    for retry_number in range(policy.max_attempts):
        record = AttemptRecord(number=len(attempts) + 1, started=time.time(), model=model)
        attempts.append(record)
        if record.number > 1:
            rt.sink.emit(
                events.AttemptStarted(
                    step=task.path, item=task.index, attempt=record.number, model=model
                )
            )
        try:
            if timeout is None:
                output = await attempt(record)
            else:
                output = await _bounded(attempt, record, timeout, task)
        except Exception as exc:
            record.finished = time.time()
            record.error = str(exc)
            record.error_kind = reason(exc)
            again = retry_number + 1 < policy.max_attempts and is_retryable(exc)
            rt.sink.emit(
                events.AttemptFailed(
                    step=task.path,
                    item=task.index,
                    attempt=record.number,
                    model=model,
                    reason=record.error_kind,
                    error=record.error,
                    retrying=again,
                    node=record.node,
                )
            )
            if not again:
                raise
            if backoff is None:
                backoff = Backoff(policy, rt.rng)
            record.delay = delay = schedule_retry(rt, task, record, backoff, retry_number, exc)
            await anyio.sleep(delay)
        else:
            record.finished = time.time()
            return output
    raise AssertionError("unreachable: the last attempt returns or raises")


def schedule_retry(
    rt: Runtime,
    task: Task,
    record: AttemptRecord,
    backoff: Backoff,
    retry_number: int,
    exc: Exception,
    purpose: str | None = None,
) -> float:
    """The seconds to wait before retry ``retry_number + 1`` of a call that raised ``exc`` in
    attempt ``record`` (the task's own call, or a ``purpose`` such as a judge's), announced
    as ``retry_scheduled``."""
    delay = backoff.delay(retry_number, getattr(exc, "retry_after", None))
    rt.sink.emit(
        events.RetryScheduled(
            step=task.path,
            item=task.index,
            attempt=record.number,
            max_attempts=task.settings.retry.max_attempts,
            purpose=purpose,
            reason=reason(exc),
            delay=round(delay, 3),
        )
    )
    return delay


async def _bounded(attempt: AttemptFn, record: AttemptRecord, timeout: float, task: Task) -> Any:
    try:
        with anyio.fail_after(timeout):
            return await attempt(record)
    except TimeoutError:
        raise StepFailed(
            f"step {task.where}: attempt {record.number} timed out after {timeout:g}s",
            kind="timeout",
            retryable=True,
        ) from None


async def check_output(
    rt: Runtime,
    task: Task,
    output: Any,
    *,
    schema: dict[str, Any] | None,
    attempt: AttemptRecord,
    judge: JudgeFn | None,
) -> None:
    """Check the step's gates (and the implied schema gate); raise GateFailed when they fail."""
    gates = task.step.gates or []
    if not gates and schema is None:
        return
    mode = task.settings.on_gate_failure
    results = await check_gates(
        gates,
        output,
        output_schema=schema,
        judge=judge,
        context=task.context,
        on_gate_failure=mode,  # type: ignore[arg-type]  # validated by the spec model
    )
    _record_gates(rt, task, results, attempt)
    failure = gate_failure(results, mode)  # type: ignore[arg-type]
    if failure is not None:
        raise failure


def record_schema_failure(
    rt: Runtime, task: Task, error: OutputInvalid, attempt: AttemptRecord
) -> None:
    """Record the schema gate as failed for an output that did not parse or validate, so the
    report, the events and JUnit show it as they show a passed one."""
    _record_gates(rt, task, [schema_failure(error, task.step.gates or [])], attempt)


def _record_gates(
    rt: Runtime, task: Task, results: list[GateResult], attempt: AttemptRecord
) -> None:
    for result in results:
        data = result.as_dict()
        data["attempt"] = attempt.number
        task.record.gates.append(data)
        rt.sink.emit(
            events.GateChecked(
                step=task.path,
                item=task.index,
                attempt=attempt.number,
                gate=result.name,
                gate_type=result.type,
                passed=result.passed,
                value=result.value,
                finding=result.finding,
                severity=result.severity,
            )
        )


def outcome(exc: Exception) -> tuple[str, SkipReason | None, str, str]:
    """(status, skip reason, message, error kind) of a task that raised ``exc``."""
    if isinstance(exc, BudgetExceeded):
        return "skipped", "budget", str(exc), "budget_exceeded"
    return "failed", None, str(exc), reason(exc)
