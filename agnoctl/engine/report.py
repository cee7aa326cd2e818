"""Turn a run's records into the plain data of its ``RunReport``.

The report of a 10,000-step run is validated in one ``RunReport`` call from these dicts:
pydantic-core checks the whole tree in one pass, where a model built per step, attempt and
gate cost more than the scheduling of the step itself (checkpoints build it once a second).
Fields whose value is None are left out: each of them defaults to None, and a default costs
pydantic less than validating a None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from agnoctl.engine.runtime import Settings
from agnoctl.engine.shares import share
from agnoctl.engine.state import (
    AttemptRecord,
    ExecRecord,
    ItemRecord,
    IterationRecord,
    StepRecord,
)
from agnoctl.spec.models import StepSpec


def when(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 3)


def _error(message: str | None, kind: str | None) -> dict[str, str] | None:
    if message is None:
        return None
    return {"message": message, "kind": kind or "error"}


def _present(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _attempt(record: AttemptRecord) -> dict[str, Any]:
    """An ``AttemptReport``'s data."""
    return _present(
        {
            "number": record.number,
            "started": when(record.started),
            "finished": when(record.finished),
            "duration_ms": _ms(record.started, record.finished),
            "model": record.model,
            "error": _error(record.error, record.error_kind),
            "delay": record.delay,
            "prompt": record.prompt,
            "calls": record.calls,
            "tokens_in": record.tokens_in,
            "tokens_out": record.tokens_out,
            "cost_usd": round(record.cost, 6),
        }
    )


Counter = Callable[[Iterable[StepRecord]], tuple[int, int]]
"""How siblings count toward a success share: (succeeded, counted)."""
SettingsOf = Callable[[StepSpec], Settings]


def _execution(record: ExecRecord, settings: SettingsOf, counts: Counter) -> dict[str, Any]:
    calls, tokens_in, tokens_out, cost = record.usage()
    loop = record.loop
    return _present(
        {
            "status": record.status,
            "reason": record.reason,
            "error": _error(record.error, record.error_kind),
            "started": when(record.started),
            "finished": when(record.finished),
            "duration_ms": _ms(record.started, record.finished),
            "output": record.output,
            "attempts": [_attempt(a) for a in record.attempts],
            "gates": [_gate(g) for g in record.gates],
            "model": record.model,
            "calls": calls,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "cost_usd": round(cost, 6),
            "exit_code": record.exit_code,
            "stderr": record.stderr,
            "reused": record.reused,
            "loop": None
            if loop is None
            else {
                "max_iterations": loop.max_iterations,
                "iterations": loop.iterations,
                "until_met": loop.until_met,
                "exhausted": loop.exhausted,
                "outputs": loop.outputs,
                "history": [_iteration(run, record.done, settings, counts) for run in loop.history],
            },
            "steps": None
            if record.children is None
            else {
                cid: step_data(child, settings, counts) for cid, child in record.children.items()
            },
        }
    )


def _iteration(
    record: IterationRecord, loop_done: bool, settings: SettingsOf, counts: Counter
) -> dict[str, Any]:
    """A ``LoopIterationReport``'s data."""
    calls, tokens_in, tokens_out, cost = record.usage()
    # An iteration still running when its loop ended was cut short (cancelled, a limit).
    status = "skipped" if record.status == "running" and loop_done else record.status
    return _present(
        {
            "number": record.number,
            "status": status,
            "started": when(record.started),
            "finished": when(record.finished),
            "duration_ms": _ms(record.started, record.finished),
            "calls": calls,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "cost_usd": round(cost, 6),
            "steps": {
                cid: step_data(child, settings, counts) for cid, child in record.children.items()
            },
        }
    )


def _gate(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "index"}


def step_data(record: StepRecord, settings: SettingsOf, counts: Counter) -> dict[str, Any]:
    """A ``StepReport``'s data (its children and items included)."""
    effective = settings(record.spec)
    if record.status == "pending" and record.children is None:
        # Nothing happened to it yet: every other field has its default. A checkpoint while
        # a big run starts is mostly such steps (and items).
        return {
            "status": "pending",
            "path": record.path,
            "kind": record.spec.kind,
            "continue_on_error": effective.continue_on_error,
        }
    fields = _execution(record, settings, counts)
    fields["path"] = record.path
    fields["kind"] = record.spec.kind
    fields["continue_on_error"] = effective.continue_on_error
    if record.items is not None:
        fields["items"] = [_item(item, settings, counts) for item in record.items]
        succeeded = sum(1 for item in record.items if item.status == "succeeded")
        total = len(record.items)
    elif record.children is not None:
        succeeded, total = counts(record.children.values())
    else:
        return fields
    fields["succeeded"] = succeeded
    fields["total"] = total
    fields["share"] = share(succeeded, total)
    fields["success_threshold"] = effective.success_threshold
    return fields


def _item(record: ItemRecord, settings: SettingsOf, counts: Counter) -> dict[str, Any]:
    if record.status == "pending" and record.children is None:
        return {"status": "pending", "index": record.index, "item": record.item}
    fields = _execution(record, settings, counts)
    fields["index"] = record.index
    fields["item"] = record.item  # required, even when it is null
    return fields
