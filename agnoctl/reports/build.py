"""Build the ``RunReport`` from what the engine returns (``agnoctl.engine.run.RunResult``).

The report of a 10,000-step run is validated in one ``RunReport`` call from these dicts:
pydantic-core checks the whole tree in one pass, where a model built per step, attempt and
gate cost more than the scheduling of the step itself (checkpoints build it once a second).
Fields whose value is None are left out: each of them defaults to None, and a default costs
pydantic less than validating a None.

A fan-out's finished items are not in the engine's records any more: they went to the items
file as they finished (``agnoctl.reports.items``). The report lists them again when the run's
spilled items are few (``INLINE_ITEMS``); past that, a final report names ``items.jsonl``
and a checkpoint gives only their counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from agnoctl.engine.run import Counter, RunResult
from agnoctl.engine.rundir import LATEST, resume_command
from agnoctl.engine.runtime import Settings
from agnoctl.engine.shares import share
from agnoctl.engine.state import (
    AttemptRecord,
    ExecRecord,
    FanOut,
    ItemRecord,
    IterationRecord,
    StepRecord,
    ToolCallRecord,
)
from agnoctl.events import milliseconds, tokens_per_second
from agnoctl.reports.items import INLINE_ITEMS, ITEMS_FILE, ItemsFile
from agnoctl.reports.model import RunReport
from agnoctl.spec.models import StepSpec

CHECKPOINT_REASON = "the run has not finished (running, or killed); `{command}` finishes it"
_KILLED = "the process ended before the segment's report was written (killed)"


def build_report(result: RunResult, items: ItemsFile | None = None) -> RunReport:
    """The run's report; a result that holds a secret (a command's stderr, a provider's
    error) comes out masked, for every reader of the report (the terminal's table,
    annotations, a library caller), not only for its files. ``items`` is where the run's
    finished items went (None: the engine kept their records)."""
    return report_and_text(result, items)[0]


def report_and_text(result: RunResult, items: ItemsFile | None = None) -> tuple[RunReport, str]:
    """The run's report (as ``build_report``) and its ``dumps()``, masked: the text of
    report.json. A fan-out's report is big; it is dumped once. The items file is put in
    place (or dropped, its items listed) first."""
    inline = _inline(result, items)
    written = items.written() if inline and items is not None else {}
    if items is not None:
        items.finish(keep=not inline)
    report = _report(result, _Items(written, inline, True))
    text = report.dumps()
    masked = result.setup.redactor.redact(text)
    # Reading a 10,000-step report back costs a second; only one that held a secret needs it.
    return (report, text) if masked == text else (RunReport.model_validate_json(masked), masked)


def checkpoint_text(result: RunResult, items: ItemsFile | None = None) -> str:
    """report.json's text while the run goes on: what had finished, `interrupted`, and a
    reason that says so (masked as the file is)."""
    inline = _inline(result, items)
    report = _report(result, _Items(items.written() if inline and items else {}, inline, False))
    setup = result.setup
    # This run by its id: `latest` may name a later run of the workflow by the time it is read.
    run = setup.run_id if setup.resume_as == LATEST else setup.resume_as
    reason = CHECKPOINT_REASON.format(command=resume_command(setup.file, run))
    segments = report.segments
    this = segments[-1].model_copy(update={"reason": reason})
    checkpoint = report.model_copy(update={"reason": reason, "segments": [*segments[:-1], this]})
    return result.setup.redactor.redact(checkpoint.dumps())


@dataclass(frozen=True, slots=True)
class _Items:
    """Where a report finds the items its fan-outs spilled."""

    written: dict[str, list[dict[str, Any]]]  # their data by step path, when listed
    inline: bool  # listed in report.json; else in items.jsonl
    final: bool  # the final report (a checkpoint names no items file: it is not in place)


def _inline(result: RunResult, items: ItemsFile | None) -> bool:
    """Whether report.json lists the spilled items itself: few enough, in all."""
    if items is None:
        return True
    spilled = sum(
        len(record.items)
        for top in result.records.values()
        for record in top.walk()
        if record.items is not None and record.items.spills
    )
    return spilled <= INLINE_ITEMS


def _report(result: RunResult, items: _Items) -> RunReport:
    setup = result.setup
    build = _Build(result.settings, result.count, items)
    # Plain data, validated in one pass (this module's docstring says why).
    return RunReport.model_validate(
        {
            "run_id": setup.run_id,
            "workflow": {"name": setup.workflow.name, "file": str(setup.file)},
            "status": result.status,
            "reason": result.reason,
            "exit_code": int(result.exit_code),
            "interrupted": result.interrupted,
            "started": when(result.started),
            "finished": when(result.finished),
            "duration_ms": _ms(result.started, result.finished),
            "inputs": setup.redactor.redact_obj(setup.inputs),
            "mock": setup.mock,
            "seed": setup.seed,
            "resumed": setup.previous is not None,
            "reused": result.reused,
            "success_threshold": setup.workflow.success_threshold,
            "succeeded": result.succeeded,
            "total": result.counted,
            "share": share(result.succeeded, result.counted),
            "steps": {sid: build.step(record) for sid, record in result.records.items()},
            "outputs": result.outputs,
            "output_errors": result.output_errors,
            "cost": result.cost,
            "limits": result.limits,
            "throttling": result.throttling,
            "approvals": result.approvals,
            "segments": _segments(result),
        }
    )


def _segments(result: RunResult) -> list[dict[str, Any]]:
    """The run's segments: the earlier ones from the journal, then this one, whose usage is
    the run's total (the cost report's) less theirs."""
    earlier = result.earlier
    total = result.cost["total"]
    cost = total["cost_usd"] - sum(segment.cost for segment in earlier)
    return [
        *(
            {
                "started": segment.started,
                "finished": segment.finished or segment.started,
                "resumed": segment.resumed,
                "status": segment.status or "killed",
                "reason": segment.reason or _KILLED,
                "calls": segment.sent,
                "tokens": segment.tokens,
                "cost_usd": round(segment.cost, 6),
                "reused": segment.reused,
            }
            for segment in earlier
        ),
        {
            "started": when(result.started),
            "finished": when(result.finished),
            "resumed": result.setup.previous is not None,
            "status": result.status,
            "reason": result.reason,
            "calls": total["calls"] - sum(segment.sent for segment in earlier),
            "tokens": total["tokens"] - sum(segment.tokens for segment in earlier),
            "cost_usd": max(0.0, round(cost, 6)),  # no -0.0 from the float residue
            "reused": result.reused,
        },
    ]


def when(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return milliseconds(end - start)


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
            "node": record.node,
            "error": _error(record.error, record.error_kind),
            "delay": record.delay,
            "prompt": record.prompt,
            "attachments": [a.summary() for a in record.attachments]
            if record.attachments
            else None,
            "tool_calls": [_tool_call(c) for c in record.tool_calls] or None,
            "calls": record.calls,
            "tokens_in": record.tokens_in,
            "tokens_out": record.tokens_out,
            "cost_usd": round(record.cost, 6),
            "ttft_ms": None if record.ttft is None else milliseconds(record.ttft),
            "tokens_per_s": tokens_per_second(record.stream_tokens, record.stream_seconds),
        }
    )


def _tool_call(call: ToolCallRecord) -> dict[str, Any]:
    """A ``ToolCallReport``'s data; the images it returned named as attachments are."""
    images = [a.summary() for a in call.images] or None
    return _present({**asdict(call), "images": images})


SettingsOf = Callable[[StepSpec], Settings]


def item_fields(step: str, record: ItemRecord) -> dict[str, Any]:
    """An agent or command item's line of the items file: the path of its ``step``, then
    its ``ItemReport`` data."""
    fields = _task_fields(record, step)
    fields["index"] = record.index
    fields["item"] = record.item  # required, even when it is null
    return fields


def _task_fields(record: ExecRecord, step: str | None = None) -> dict[str, Any]:
    """What every execution reports: all of it but a group's children and loop; ``step``
    first when it is given (an items file's line names its step)."""
    calls, tokens_in, tokens_out, cost = record.usage()
    return _present(
        {
            "step": step,
            "status": record.status,
            "reason": record.reason,
            "error": _error(record.error, record.error_kind),
            "started": when(record.started),
            "finished": when(record.finished),
            "duration_ms": record.duration_ms,
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
        }
    )


def _gate(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "index"}


@dataclass(frozen=True, slots=True)
class _Build:
    """What building a step's report data reads besides its record."""

    settings: SettingsOf
    counts: Counter
    items: _Items

    def step(self, record: StepRecord) -> dict[str, Any]:
        """A ``StepReport``'s data (its children and items included)."""
        effective = self.settings(record.spec)
        if record.status == "pending" and record.children is None:
            # Nothing happened to it yet: every other field has its default. A checkpoint
            # while a big run starts is mostly such steps (and items).
            return {
                "status": "pending",
                "path": record.path,
                "kind": record.spec.kind,
                "continue_on_error": effective.continue_on_error,
            }
        fields = self._execution(record)
        fields["path"] = record.path
        fields["kind"] = record.spec.kind
        fields["continue_on_error"] = effective.continue_on_error
        if record.items is not None:
            self._fan_out(record.path, record.items, fields)
            succeeded, total = record.items.succeeded, len(record.items)
        elif record.children is not None:
            succeeded, total = self.counts(record.children.values())
        else:
            return fields
        fields["succeeded"] = succeeded
        fields["total"] = total
        fields["share"] = share(succeeded, total)
        fields["success_threshold"] = effective.success_threshold
        return fields

    def _fan_out(self, path: str, fan: FanOut, fields: dict[str, Any]) -> None:
        """A fan-out's items, in order: listed (those held, those written, those not started),
        or named by the items file."""
        items = self.items
        if fan.spills and not items.inline:
            if items.final:
                fields["items_file"] = ITEMS_FILE
                fields["items_in_file"] = fan.finished  # each finished item, one line
            return
        listed = [*items.written.get(path, ()), *(self._item(item) for item in fan.held())]
        listed.sort(key=lambda item: int(item["index"]))
        listed.extend(
            {"status": "pending", "index": index, "item": fan.values[index]}
            for index in range(fan.taken, len(fan))
        )
        fields["items"] = listed

    def _execution(self, record: ExecRecord) -> dict[str, Any]:
        fields = _task_fields(record)
        loop = record.loop
        if loop is not None:
            fields["loop"] = {
                "max_iterations": loop.max_iterations,
                "iterations": loop.iterations,
                "until_met": loop.until_met,
                "exhausted": loop.exhausted,
                "outputs": loop.outputs,
                "history": [self._iteration(run, record.done) for run in loop.history],
            }
        if record.children is not None:
            fields["steps"] = {cid: self.step(child) for cid, child in record.children.items()}
        return fields

    def _iteration(self, record: IterationRecord, loop_done: bool) -> dict[str, Any]:
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
                "steps": {cid: self.step(child) for cid, child in record.children.items()},
            }
        )

    def _item(self, record: ItemRecord) -> dict[str, Any]:
        if record.status == "pending" and record.children is None:
            return {"status": "pending", "index": record.index, "item": record.item}
        fields = self._execution(record)
        fields["index"] = record.index
        fields["item"] = record.item  # required, even when it is null
        return fields
