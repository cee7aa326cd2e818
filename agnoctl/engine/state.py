"""What a run knows about itself while it runs, and the journal it leaves behind.

Records are plain slotted dataclasses, not pydantic models: the scheduler touches them for
every step and item, and the report model is built from them once, at the end. A
``StepRecord`` exists for every step of the workflow from the start (so a cancelled run still
reports every step); a ``for_each`` step's items are a ``FanOut``: an ``ItemRecord`` exists
while its item runs, and a finished one is handed to the items file and dropped (a million
items must not live in memory for the whole run), leaving its counts, usage and output.

The journal is ``events.jsonl``: ``step_succeeded`` / ``item_succeeded`` events carry the
output and a fingerprint, so ``load_journal`` can tell which work finished, and with what.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
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
    node: str | None = None  # `--executor ray`: the Ray node its program or model call ran on
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
    # From started to finished in milliseconds, as its event and its report give it: set
    # with ``finished`` (agnoctl.engine.scheduler), read by both.
    duration_ms: float | None = None
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


Spill = Callable[["StepRecord", ItemRecord], None]
"""Where a finished item's record goes (the items file, agnoctl.reports.items)."""

FIRST_PROBLEMS = 3  # the items a failure message quotes


class FanOut:
    """A ``for_each`` step's items: handed out in order (``take``), an ``ItemRecord`` each
    while it runs. A finished one (``finish``) is counted, its usage summed, its output kept
    (``steps.<id>.output`` reads it) and, when it did not succeed, its status and error kept
    (``steps.<id>.results``, the failure message); its record goes to ``spill`` and is
    dropped. Without a ``spill`` (items with children: a group's, a sub-workflow's, which the
    report nests) the records are kept."""

    __slots__ = (
        "_children",
        "_next",
        "_owner",
        "_running",
        "_spill",
        "failed",
        "finished",
        "kept",
        "outputs",
        "problems",
        "succeeded",
        "usage",
        "values",
    )

    def __init__(
        self,
        owner: StepRecord,
        values: list[Any],
        children: dict[str, StepSpec] | None,
        spill: Spill | None,
    ) -> None:
        self.values = values
        self.outputs: list[Any] = [None] * len(values)
        self.kept: list[ItemRecord] = []
        self.problems: dict[int, tuple[Status, SkipReason | None, str | None]] = {}
        self.succeeded = 0
        self.failed = 0
        self.finished = 0
        self.usage: tuple[int, int, int, float] = (0, 0, 0, 0.0)  # of the dropped records
        self._owner = owner
        self._children = children
        self._spill = spill
        self._running: dict[int, ItemRecord] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self.values)

    @property
    def taken(self) -> int:
        """Items handed out so far (the rest are pending)."""
        return self._next

    def take(self) -> ItemRecord | None:
        """The next item, in order, now running; None when every item was taken."""
        index = self._next
        if index >= len(self.values):
            return None
        self._next += 1
        path = f"{self._owner.path}[{index}]"
        children = self._children
        item = ItemRecord(
            path=path,
            index=index,
            item=self.values[index],
            children=new_records(children, path + ".") if children else None,
        )
        self._running[index] = item
        return item

    @property
    def spills(self) -> bool:
        """Whether finished items leave memory (they do when there is a ``spill``)."""
        return self._spill is not None

    def untaken(self) -> Iterator[ItemRecord]:
        """Every item not yet handed out, each taken as it is given."""
        while (item := self.take()) is not None:
            yield item

    def held(self) -> list[ItemRecord]:
        """The records still held, in item order: the kept ones and those running."""
        return sorted([*self.kept, *self._running.values()], key=lambda item: item.index)

    def finish(self, item: ItemRecord) -> None:
        """Count a finished item; its record is spilled, or kept."""
        if self._running.pop(item.index, None) is None:
            return  # told twice (a skip of what had already finished): counted once
        self.finished += 1
        if item.status == "succeeded":
            self.succeeded += 1
            self.outputs[item.index] = item.output
        else:
            self.failed += item.status == "failed"
            self.problems[item.index] = (item.status, item.reason, item.error)
        if not self.spills:
            self.kept.append(item)
            return
        c, i, o, k = item.usage()
        calls, tokens_in, tokens_out, cost = self.usage
        self.usage = (calls + c, tokens_in + i, tokens_out + o, cost + k)
        assert self._spill is not None
        self._spill(self._owner, item)

    def first_problems(self) -> list[tuple[str, str]]:
        """(path, what went wrong) of the first items, by index, that did not succeed."""
        shown = sorted(self.problems)[:FIRST_PROBLEMS]
        return [(f"{self._owner.path}[{index}]", problem(*self.problems[index])) for index in shown]

    def results(self) -> list[dict[str, Any]]:
        """What ``steps.<id>.results`` reads: ``{item, status, output, error}`` per item."""
        problems = self.problems
        return [
            {
                "item": value,
                "status": problems[index][0] if index in problems else "succeeded",
                "output": self.outputs[index],
                "error": problems[index][2] if index in problems else None,
            }
            for index, value in enumerate(self.values)
        ]


def problem(status: str, reason: str | None, error: str | None) -> str:
    """What a failure message says of a record that did not succeed."""
    return error or ("skipped: " + reason if reason else status)


@dataclass(slots=True, kw_only=True)
class StepRecord(ExecRecord):
    id: str
    spec: StepSpec
    items: FanOut | None = None

    @property
    def kind(self) -> str:
        return self.spec.kind

    def inner(self) -> Iterator[ExecRecord]:
        if self.items is not None:
            yield from self.items.held()
        else:
            yield from ExecRecord.inner(self)

    def usage(self) -> tuple[int, int, int, float]:
        calls, tokens_in, tokens_out, cost = ExecRecord.usage(self)
        if self.items is None:
            return calls, tokens_in, tokens_out, cost
        c, i, o, k = self.items.usage
        return calls + c, tokens_in + i, tokens_out + o, cost + k

    def walk(self) -> Iterator[StepRecord]:
        """This record and every nested step record (group children, per-item children); of a
        loop, the children of the iteration running now (or the last)."""
        yield self
        records: Iterable[ExecRecord] = (self,) if self.items is None else self.items.held()
        for record in records:
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
