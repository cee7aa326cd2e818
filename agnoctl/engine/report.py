"""Turn a run's records into its ``RunReport`` (built once, when the run ends)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from agnoctl.engine.runtime import Settings
from agnoctl.engine.shares import share
from agnoctl.engine.state import AttemptRecord, ExecRecord, ItemRecord, StepRecord
from agnoctl.reports.model import (
    AttemptReport,
    ErrorInfo,
    GateReport,
    ItemReport,
    LoopReport,
    StepReport,
)
from agnoctl.spec.models import StepSpec


def when(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 3)


def _error(message: str | None, kind: str | None) -> ErrorInfo | None:
    if message is None:
        return None
    return ErrorInfo(message=message, kind=kind or "error")


def _attempt(record: AttemptRecord) -> AttemptReport:
    started = when(record.started)
    assert started is not None
    return AttemptReport(
        number=record.number,
        started=started,
        finished=when(record.finished),
        duration_ms=_ms(record.started, record.finished),
        model=record.model,
        error=_error(record.error, record.error_kind),
        delay=record.delay,
        prompt=record.prompt,
        calls=record.calls,
        tokens_in=record.tokens_in,
        tokens_out=record.tokens_out,
        cost_usd=round(record.cost, 6),
    )


Counter = Callable[[Iterable[StepRecord]], tuple[int, int]]
"""How siblings count toward a success share: (succeeded, counted)."""
SettingsOf = Callable[[StepSpec], Settings]


def _execution(record: ExecRecord, settings: SettingsOf, counts: Counter) -> dict[str, Any]:
    calls, tokens_in, tokens_out, cost = record.usage()
    loop = record.loop
    return {
        "status": record.status,
        "reason": record.reason,
        "error": _error(record.error, record.error_kind),
        "started": when(record.started),
        "finished": when(record.finished),
        "duration_ms": _ms(record.started, record.finished),
        "output": record.output,
        "attempts": [_attempt(a) for a in record.attempts],
        "gates": [GateReport.model_validate(_gate(g)) for g in record.gates],
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
        else LoopReport(
            max_iterations=loop.max_iterations,
            iterations=loop.iterations,
            until_met=loop.until_met,
            exhausted=loop.exhausted,
            outputs=loop.outputs,
        ),
        "steps": None
        if record.children is None
        else {cid: step_report(child, settings, counts) for cid, child in record.children.items()},
    }


def _gate(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "index"}


def step_report(record: StepRecord, settings: SettingsOf, counts: Counter) -> StepReport:
    fields = _execution(record, settings, counts)
    items = None
    succeeded = total = None
    if record.items is not None:
        items = [_item(item, settings, counts) for item in record.items]
        succeeded = sum(1 for item in record.items if item.status == "succeeded")
        total = len(record.items)
    elif record.children is not None:
        succeeded, total = counts(record.children.values())
    effective = settings(record.spec)
    return StepReport(
        path=record.path,
        kind=record.spec.kind,
        continue_on_error=effective.continue_on_error,
        items=items,
        succeeded=succeeded,
        total=total,
        share=None if total is None or succeeded is None else share(succeeded, total),
        success_threshold=None if total is None else effective.success_threshold,
        **fields,
    )


def _item(record: ItemRecord, settings: SettingsOf, counts: Counter) -> ItemReport:
    fields = _execution(record, settings, counts)
    return ItemReport(index=record.index, item=record.item, **fields)
