"""What a run knows about itself while it runs, and the journal it leaves behind.

Records are plain slotted dataclasses, not pydantic models: the scheduler touches them for
every step and item, and the report model is built from them once, at the end. A
``StepRecord`` exists for every step of the workflow from the start (so a cancelled run still
reports every step); ``ItemRecord``s appear when a ``for_each`` list is known.

The journal is ``events.jsonl``: ``step_succeeded`` / ``item_succeeded`` events carry the
output and a fingerprint, so ``load_journal`` can tell which work finished, and with what.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agnoctl.events import Succeeded, read_events
from agnoctl.providers.base import Attachment
from agnoctl.spec.models import StepSpec

# `waiting`: an approval step nobody could decide in this segment; the run stops there, and
# its steps that depend on it are `skipped: waiting` (agnoctl.engine.approval).
Status = Literal["pending", "running", "succeeded", "failed", "skipped", "waiting"]
SkipReason = Literal["condition", "upstream_failed", "budget", "cancelled", "waiting"]
FINAL: frozenset[str] = frozenset({"succeeded", "failed", "skipped", "waiting"})


@dataclass(slots=True, kw_only=True)
class AttemptRecord:
    number: int
    started: float
    model: str | None = None  # "<provider>/<model>" asked in this attempt
    node: str | None = None  # command steps under `--executor ray`: the Ray node it ran on
    finished: float | None = None
    error: str | None = None
    error_kind: str | None = None
    delay: float | None = None  # seconds waited before the next attempt
    prompt: str | None = None  # agent steps: the rendered prompt sent, retry findings included
    attachments: tuple[Attachment, ...] = ()  # agent steps: what was attached, without bytes
    tool_calls: list[ToolCallRecord] = field(default_factory=list)  # agent steps, in order
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    # Its streamed replies: the first one's time to first token, and the output tokens of all
    # of them with the seconds they took from their first token to their end.
    ttft: float | None = None
    stream_tokens: int = 0
    stream_seconds: float = 0.0


@dataclass(slots=True)
class ToolCallRecord:
    """One tool call of an agent attempt: which tool, how it ended, how long it took."""

    name: str
    ok: bool
    duration_ms: float
    truncated: bool = False
    error: str | None = None  # the start of a failed or refused result, masked
    images: tuple[Attachment, ...] = ()  # what the result returned, without bytes


@dataclass(slots=True, kw_only=True)
class LoopRecord:
    max_iterations: int
    iterations: int = 0
    until_met: bool = False
    exhausted: bool = False
    outputs: list[dict[str, Any]] = field(default_factory=list)  # children's, per iteration
    # Every iteration, the running one included; the last one's children are also the group's
    # `children` (what the rest of the run reads).
    history: list[IterationRecord] = field(default_factory=list)


@dataclass(slots=True)
class IterationRecord:
    """One iteration of a loop group: its children's records as the iteration left them."""

    number: int
    started: float
    children: dict[str, StepRecord]
    finished: float | None = None
    status: Status = "running"  # succeeded, or failed when its children missed the threshold

    def usage(self) -> tuple[int, int, int, float]:
        """(calls, input tokens, output tokens, cost) of its children."""
        return _summed(self.children.values())


@dataclass(slots=True, kw_only=True)
class ExecRecord:
    """One execution: a whole step, or one for_each item of it."""

    path: str
    status: Status = "pending"
    reason: SkipReason | None = None
    output: Any = None
    error: str | None = None
    error_kind: str | None = None
    started: float | None = None
    finished: float | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None  # "<provider>/<model>" that answered
    exit_code: int | None = None
    stderr: str | None = None
    children: dict[str, StepRecord] | None = None  # groups: child id -> record
    loop: LoopRecord | None = None
    fingerprint: str | None = None  # what it computes from what (agnoctl.engine.resume)
    reused: bool = False  # --resume took its output from the journal instead of running it

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started

    def usage(self) -> tuple[int, int, int, float]:
        """(calls, input tokens, output tokens, cost) of this record and everything inside."""
        calls = tokens_in = tokens_out = 0
        cost = 0.0
        for attempt in self.attempts:
            calls += attempt.calls
            tokens_in += attempt.tokens_in
            tokens_out += attempt.tokens_out
            cost += attempt.cost
        c, i, o, k = _summed(self.inner())
        return calls + c, tokens_in + i, tokens_out + o, cost + k

    def inner(self) -> Iterator[ExecRecord]:
        """The records inside: a group's children, of a loop those of every iteration."""
        if self.loop is not None:
            for iteration in self.loop.history:
                yield from iteration.children.values()
        elif self.children:
            yield from self.children.values()


def _summed(records: Iterable[ExecRecord]) -> tuple[int, int, int, float]:
    calls = tokens_in = tokens_out = 0
    cost = 0.0
    for record in records:
        c, i, o, k = record.usage()
        calls, tokens_in, tokens_out, cost = calls + c, tokens_in + i, tokens_out + o, cost + k
    return calls, tokens_in, tokens_out, cost


@dataclass(slots=True, kw_only=True)
class ItemRecord(ExecRecord):
    index: int
    item: Any


@dataclass(slots=True, kw_only=True)
class StepRecord(ExecRecord):
    id: str
    spec: StepSpec
    items: list[ItemRecord] | None = None

    @property
    def kind(self) -> str:
        return self.spec.kind

    def inner(self) -> Iterator[ExecRecord]:
        if self.items is not None:
            yield from self.items
        else:
            yield from ExecRecord.inner(self)

    def walk(self) -> Iterator[StepRecord]:
        """This record and every nested step record (group children, per-item children); of a
        loop, the children of the iteration running now (or the last)."""
        yield self
        for record in self.items or (self,):
            for child in (record.children or {}).values():
                yield from child.walk()


def new_records(steps: dict[str, StepSpec], prefix: str = "") -> dict[str, StepRecord]:
    """Pending records for a steps map, group children included (paths ``group.child``)."""
    records: dict[str, StepRecord] = {}
    for step_id, spec in steps.items():
        path = prefix + step_id
        record = StepRecord(path=path, id=step_id, spec=spec)
        if spec.steps is not None and spec.for_each is None:
            record.children = new_records(spec.steps, path + ".")
        records[step_id] = record
    return records


@dataclass(slots=True)
class JournalEntry:
    step: str
    item: int | None
    iteration: int | None
    output: Any
    fingerprint: str | None


def load_journal(path: Path) -> dict[tuple[str, int | None, int | None], JournalEntry]:
    """Work that finished in a run, keyed by (step path, item index, loop iteration)."""
    finished: dict[tuple[str, int | None, int | None], JournalEntry] = {}
    for line in read_events(path):
        event = line.event
        if not isinstance(event, Succeeded):
            continue
        entry = JournalEntry(
            step=event.step,
            item=event.item,
            iteration=event.iteration,
            output=event.output,
            fingerprint=event.fingerprint,
        )
        finished[(entry.step, entry.item, entry.iteration)] = entry
    return finished


@dataclass(slots=True)
class RunState:
    """The run as the terminal watches it: its records, live."""

    run_id: str
    workflow: str
    run_dir: Path
    started: float
    steps: dict[str, StepRecord]
    mock: bool = False
    finished: float | None = None

    def records(self) -> Iterator[StepRecord]:
        for record in list(self.steps.values()):
            yield from record.walk()
