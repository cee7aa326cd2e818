"""``report.json``: what a run did, for people, CI and ``--resume``.

The JSON Schema of this model is committed as ``schemas/report.schema.json`` (``agnoctl schema
--report`` prints it; a test keeps the two equal). ``SCHEMA_VERSION`` changes when a field
changes meaning or disappears; adding a field does not change it. Version 2: a fan-out's
``items`` may be absent, its items in the run directory's ``items.jsonl`` (``items_file``);
version 1 reports read as they are.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

SCHEMA_VERSION: Literal[2] = 2

StepStatus = Literal["succeeded", "failed", "skipped", "pending", "running", "waiting"]
SkipReason = Literal["condition", "upstream_failed", "budget", "cancelled", "waiting"]
RunStatus = Literal["passed", "failed", "interrupted", "waiting"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorInfo(_Model):
    message: str = Field(description="What went wrong, naming the step, the field or the limit.")
    kind: str = Field(
        description=(
            "Stable short name: timeout, rate_limited, gate_failed, template, exit_code, ..."
        )
    )


class GateReport(_Model):
    name: str = Field(description="Human-readable, e.g. `threshold confidence >= 0.8`.")
    type: str = Field(
        description="schema, threshold, contains, not_contains, regex, length, expr or judge."
    )
    passed: bool
    value: Any = Field(
        default=None, description="What was measured (a number, a length, a judge's score, ...)."
    )
    finding: str | None = Field(default=None, description="Why it failed; None when it passed.")
    severity: Literal["fail", "warn"] = Field(
        default="fail",
        description="warn: `on_gate_failure: warn`, a failure is recorded but the step passes.",
    )
    detail: str | None = Field(
        default=None, description="More about the measurement, e.g. the judge's reason."
    )
    attempt: int | None = Field(default=None, description="The attempt whose output was checked.")


class AttachmentReport(_Model):
    """A file or image an agent attempt sent: named and hashed, never its contents."""

    name: str = Field(
        description="The path as the workflow gave it (after templating), or the URL."
    )
    media_type: str = Field(
        description="image/png, image/jpeg, image/gif, image/webp, application/pdf."
    )
    size: int | None = Field(default=None, description="Bytes sent; None for a URL.")
    sha256: str | None = Field(
        default=None, description="SHA-256 (hex) of the bytes sent; None for a URL."
    )
    url: str | None = Field(default=None, description="The URL the provider fetches itself.")


class ToolCallReport(_Model):
    """One tool call of an agent attempt (declared tools and MCP servers' alike)."""

    name: str = Field(description="The tool the model called.")
    ok: bool = Field(description="False for a refused or failed call (the model saw why).")
    duration_ms: float
    truncated: bool = Field(default=False, description="The result was cut to the tool's cap.")
    error: str | None = Field(
        default=None, description="The start of a failed or refused result, secrets masked."
    )
    images: list[AttachmentReport] = Field(
        default_factory=list,
        description=(
            "The images the result returned (an MCP server's), named <entry>.<tool>#<n>.<ext>: "
            "sent to the model where its provider takes them; named and hashed, never their bytes."
        ),
    )


class AttemptReport(_Model):
    number: int = Field(
        description="1 for the first attempt; numbering continues across fallback models."
    )
    started: datetime
    finished: datetime | None = None
    duration_ms: float | None = None
    model: str | None = Field(
        default=None, description="`<provider>/<model>` asked in this attempt (agent steps)."
    )
    node: str | None = Field(
        default=None,
        description="Command steps under `--executor ray`: the id of the Ray node it ran on.",
    )
    error: ErrorInfo | None = Field(
        default=None, description="Why the attempt failed; None when it succeeded."
    )
    delay: float | None = Field(default=None, description="Seconds waited before the next attempt.")
    prompt: str | None = Field(
        default=None,
        description=(
            "Agent steps: the rendered prompt this attempt sent (a retry's carries "
            "the findings it must fix), secrets masked."
        ),
    )
    attachments: list[AttachmentReport] = Field(
        default_factory=list,
        description="Agent steps: the files and images sent with the prompt, in order.",
    )
    tool_calls: list[ToolCallReport] = Field(
        default_factory=list,
        description="Agent steps: the tool calls the model asked for, in order.",
    )
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    ttft_ms: float | None = Field(
        default=None,
        description=(
            "Time to first token: milliseconds from sending the attempt's first streamed model "
            "call to its first text or tool call. None without a streamed reply (a provider "
            "with `stream: false`, cache hits, mock calls)."
        ),
    )
    tokens_per_s: float | None = Field(
        default=None,
        description=(
            "Output tokens per second of the attempt's streamed replies, each timed from its "
            "first token to its end."
        ),
    )


class LoopReport(_Model):
    max_iterations: int
    iterations: int = Field(description="Iterations run.")
    until_met: bool = Field(description="The `until` expression was true after the last iteration.")
    exhausted: bool = Field(description="Every iteration was spent without `until` becoming true.")
    outputs: list[dict[str, Any]] = Field(
        default_factory=list, description="The children's outputs after each iteration, in order."
    )
    history: list[LoopIterationReport] = Field(
        default_factory=list,
        description=(
            "Every iteration in order, with its children's records (the group's `steps` "
            "hold the last iteration's again)."
        ),
    )


class LoopIterationReport(_Model):
    number: int = Field(description="1 for the first iteration.")
    status: StepStatus = Field(
        description=(
            "succeeded, or failed when its children missed the group's success_threshold; "
            "skipped: the run stopped during it."
        )
    )
    started: datetime
    finished: datetime | None = None
    duration_ms: float | None = None
    calls: int = Field(default=0, description="Model calls its children made.")
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    steps: dict[str, StepReport] = Field(
        default_factory=dict, description="The children as this iteration left them, by id."
    )


class _Execution(_Model):
    status: StepStatus
    reason: SkipReason | None = Field(
        default=None, description="Why it was skipped (status skipped only)."
    )
    error: ErrorInfo | None = None
    started: datetime | None = None
    finished: datetime | None = None
    duration_ms: float | None = None
    output: Any = None
    attempts: list[AttemptReport] = Field(default_factory=list)
    gates: list[GateReport] = Field(default_factory=list)
    model: str | None = Field(
        default=None, description="`<provider>/<model>` that answered (after fallbacks)."
    )
    calls: int = Field(
        default=0, description="Model calls made, judge calls and nested steps included."
    )
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    exit_code: int | None = Field(
        default=None, description="Command steps: the process's exit code."
    )
    stderr: str | None = Field(
        default=None, description="Command steps: the end of standard error (bounded)."
    )
    loop: LoopReport | None = Field(default=None, description="Groups with `loop`.")
    steps: dict[str, StepReport] | None = Field(
        default=None, description="Groups: the children, by id."
    )
    reused: bool = Field(
        default=False,
        description=(
            "`--resume` took this output from the earlier run's journal instead of "
            "running it again."
        ),
    )


class ItemReport(_Execution):
    index: int
    item: Any


class StepReport(_Execution):
    path: str = Field(
        description=(
            "Full path: `group.child` for nested steps, `group[2].child` inside a for_each item."
        )
    )
    kind: Literal["agent", "command", "group", "uses", "approval"] = Field(
        description=(
            "`uses`: a sub-workflow, its steps under `children` (per item under for_each); "
            "`approval`: a person's decision (`waiting` until it is given)."
        )
    )
    continue_on_error: bool = False
    items: list[ItemReport] | None = Field(
        default=None,
        description=(
            "for_each steps: one entry per item, in order; absent when `items_file` holds them."
        ),
    )
    items_file: str | None = Field(
        default=None,
        description=(
            "for_each steps of agent or command tasks in a run whose fan-outs hold more than "
            "1,000 items: the file of the run directory (`items.jsonl`) that holds the items, "
            "one JSON object per line (`step`: this path, then the item's fields as in "
            "`items`), in the order they finished."
        ),
    )
    items_in_file: int | None = Field(
        default=None,
        description=(
            "With `items_file`: how many of its lines are this step's items. A reader that "
            "finds another number refuses the file, as it refuses a damaged line."
        ),
    )
    succeeded: int | None = Field(
        default=None,
        description="for_each steps and groups: items or counted children that succeeded.",
    )
    total: int | None = Field(
        default=None,
        description=(
            "for_each steps and groups: items or children counted toward the success share."
        ),
    )
    share: float | None = Field(
        default=None, description="succeeded / total, rounded half up to two decimals."
    )
    success_threshold: float | None = None


class CostTotals(_Model):
    calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


class CostReport(_Model):
    total: CostTotals
    by_step: dict[str, CostTotals] = Field(default_factory=dict)
    by_agent: dict[str, CostTotals] = Field(default_factory=dict)
    by_model: dict[str, CostTotals] = Field(default_factory=dict)
    by_tag: dict[str, CostTotals] = Field(
        default_factory=dict,
        description=(
            "Per tag label (`team=research` for map tags); a call counts under each of its labels."
        ),
    )


class LimitUsage(_Model):
    limit: float | None = None
    used: float = Field(description="What the whole run used, every segment included.")


class SegmentReport(_Model):
    """One process's share of the run: the first `agnoctl run`, then each `--resume`."""

    started: datetime
    finished: datetime = Field(
        description="Its last event (for the segment still running: the report's time)."
    )
    resumed: bool = Field(description="It resumed the run (`--resume`): all but the first.")
    status: RunStatus | Literal["killed"] = Field(
        description="Its verdict; `killed`: the process ended before it wrote one."
    )
    reason: str = Field(description="Why it ended, in one sentence.")
    calls: int = Field(
        default=0,
        description="Model calls a provider answered (as `cost` counts them: no cache hit).",
    )
    tokens: int = 0
    cost_usd: float = 0.0
    reused: int = Field(
        default=0, description="Tasks it took from earlier segments instead of running them."
    )


class ProviderThrottling(_Model):
    """What one provider's limits did over the run: its 429s, its window, its pauses."""

    rate_limited: int = Field(default=0, description="Replies that were 429 (rate limited).")
    min_window: int | None = Field(
        default=None,
        description=(
            "The fewest calls in flight the provider's adaptive window allowed after its 429s; "
            "None: never narrowed."
        ),
    )
    paused_seconds: float = Field(
        default=0.0,
        description=(
            "Seconds every call to the provider was held by a pause it asked for "
            "(`Retry-After`, a rate limit it reported used up)."
        ),
    )
    waited_seconds: float = Field(
        default=0.0,
        description=(
            "Seconds calls waited for the provider's window, pauses and `rate_limit` before "
            "they went out, summed over calls."
        ),
    )


class ApprovalReport(_Model):
    """A decision an approval step asked for: given (who, when, why, how), or still waited for
    (what to approve, and the commands that decide it)."""

    step: str
    approved: bool | None = Field(description="The decision; None while it is waited for.")
    by: str | None = Field(
        default=None, description="Who decided: GITHUB_ACTOR, else the user name; `timeout`."
    )
    at: str | None = Field(default=None, description="When, ISO-8601 UTC.")
    reason: str | None = None
    how: Literal["terminal", "flag", "timeout"] | None = Field(
        default=None,
        description="At the terminal, by `--approve`/`--reject`, or by `on_timeout`.",
    )
    waiting: bool = Field(default=False, description="Nobody has decided yet: the run waits.")
    message: str | None = Field(default=None, description="What the approver is to read.")
    approve: str | None = Field(default=None, description="The command that approves it.")
    reject: str | None = Field(default=None, description="The command that rejects it.")


class WorkflowInfo(_Model):
    name: str
    file: str = Field(description="The workflow file as given on the command line.")


class CountedAttempt(BaseModel):
    """What ``RunReport.tally`` reads of an attempt in an items file."""

    # Built when a fan-out's items file is first read (as CountedItem's part): a run without
    # a fan-out never validates one.
    model_config = ConfigDict(extra="ignore", defer_build=True)
    error: ErrorInfo | None = None
    delay: float | None = None
    finished: datetime | None = None


class CountedItem(BaseModel):
    """What ``RunReport.tally`` reads of an item in an items file: what it counts, the rest
    of the line (checked by ``items_of``) passed over."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    index: int
    attempts: list[CountedAttempt] = Field(default_factory=list)
    gates: list[GateReport] = Field(default_factory=list)


_M = TypeVar("_M", bound=BaseModel)


@dataclass(slots=True)
class GateGroup:
    """One gate over a fan-out's items, as their last checked attempts left it."""

    checked: int = 0
    failed: int = 0
    warned: int = 0
    first: tuple[int, str | None] | None = None
    """The first item that failed it (its index and finding), in the order items finished."""


@dataclass(slots=True)
class ExecutionTally:
    """What a step and its items add up to, for the report files that count them
    (metrics.prom, junit.xml): made in one pass (``RunReport.tally``), so a big fan-out's
    items file is read once for them all."""

    attempts: Counter[AttemptOutcome] = field(default_factory=Counter)
    """Attempts by how they ended."""
    retries: int = 0
    """Attempts followed by another one."""
    gates: Counter[tuple[str, str, bool, str]] = field(default_factory=Counter)
    """Every gate check, by (name, type, passed, severity)."""
    item_gates: dict[str, GateGroup] = field(default_factory=dict)
    """The items' gates, by name."""

    def add(self, execution: StepReport | ItemReport | CountedItem) -> None:
        for attempt in execution.attempts:
            self.attempts[attempt_outcome(attempt)] += 1
            self.retries += attempt.delay is not None
        for gate in execution.gates:
            self.gates[gate.name, gate.type, gate.passed, gate.severity] += 1

    def add_items(self, items: Iterable[ItemReport | CountedItem]) -> None:
        for item in items:
            self.add(item)
            for gate in last_checked(item.gates):
                group = self.item_gates.setdefault(gate.name, GateGroup())
                group.checked += 1
                if gate.passed:
                    continue
                if gate.severity == "warn":
                    group.warned += 1
                    continue
                group.failed += 1
                if group.first is None:
                    group.first = (item.index, gate.finding)


AttemptOutcome = Literal["succeeded", "failed", "cancelled"]


def attempt_outcome(attempt: AttemptReport | CountedAttempt) -> AttemptOutcome:
    """How an attempt ended: one with an error failed; one without that never finished was
    cut short (Ctrl-C, SIGTERM, a limit such as max_duration) and did not succeed."""
    if attempt.error is not None:
        return "failed"
    return "cancelled" if attempt.finished is None else "succeeded"


def last_checked(gates: list[GateReport]) -> Iterator[GateReport]:
    """The gates of the last attempt whose output was checked (a retried gate's earlier
    tries are moot)."""
    last = max((g.attempt or 0 for g in gates), default=0)
    return (gate for gate in gates if (gate.attempt or 0) == last)


class RunReport(_Model):
    """Everything a run did."""

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    run_id: str
    workflow: WorkflowInfo
    status: RunStatus
    reason: str = Field(description="Why the run passed or failed, in one sentence.")
    exit_code: int = Field(
        description="0 passed, 1 failed, 75 waiting for an approval, 130 interrupted."
    )
    interrupted: bool = Field(
        default=False,
        description=(
            "SIGINT or SIGTERM stopped the run; unfinished steps are `skipped: cancelled`."
        ),
    )
    started: datetime
    finished: datetime
    duration_ms: float
    inputs: dict[str, Any] = Field(description="Input values (secrets masked).")
    mock: bool = Field(
        default=False, description="Every agent was routed to the mock provider (`--mock`)."
    )
    seed: int | None = None
    resumed: bool = Field(
        default=False,
        description="This run resumed an earlier one in the same run directory (`--resume`).",
    )
    reused: int = Field(
        default=0,
        description=(
            "Agent and command tasks (steps or for_each items) whose output `--resume` reused."
        ),
    )
    success_threshold: float
    succeeded: int = Field(description="Top-level steps that succeeded.")
    total: int = Field(
        description=(
            "Top-level steps counted toward the run's share (condition skips and "
            "continue_on_error failures excluded)."
        )
    )
    share: float
    steps: dict[str, StepReport] = Field(
        description="Top-level steps by id; groups hold their children."
    )
    outputs: dict[str, Any] = Field(default_factory=dict)
    output_errors: dict[str, str] = Field(
        default_factory=dict,
        description="Outputs whose template could not be rendered, with the error.",
    )
    cost: CostReport = Field(
        description="Calls, tokens and cost of the whole run, every segment included."
    )
    limits: dict[str, LimitUsage] = Field(
        default_factory=dict, description="Budgets of `limits` and what the run used of them."
    )
    throttling: dict[str, ProviderThrottling] = Field(
        default_factory=dict,
        description=(
            "By provider, when its limits held calls back in this segment: 429s, the "
            "smallest window, pauses and waits."
        ),
    )
    approvals: list[ApprovalReport] = Field(
        default_factory=list,
        description=(
            "The audit trail of the approval steps: every decision, across segments, in order; "
            "then each one the run waits for."
        ),
    )
    segments: list[SegmentReport] = Field(
        default_factory=list,
        description=(
            "The run's segments in order: its first `agnoctl run`, then each `--resume`. "
            "`started` and `duration_ms` are the last segment's; `cost` and `limits` count "
            "them all."
        ),
    )

    _run_dir: Path | None = PrivateAttr(default=None)
    _tallies: dict[str, ExecutionTally] = PrivateAttr(default_factory=dict)

    def located(self, run_dir: Path) -> RunReport:
        """This report, told the run directory it was read from (where its items file is)."""
        self._run_dir = run_dir
        self._tallies.clear()  # made without the items file
        return self

    def items_of(self, step: StepReport) -> Iterator[ItemReport]:
        """A fan-out's items: listed in the report, or read from its items file (in the order
        they finished) when the report was ``located``; a damaged file is refused
        (``agnoctl.reports.items.read_items``)."""
        if step.items is not None:
            yield from step.items
        else:
            yield from self._read_items(step, ItemReport)

    def _read_items(self, step: StepReport, model: type[_M]) -> Iterator[_M]:
        """The items of ``step``'s items file (none without one, or unlocated), as ``model``."""
        if step.items_file is None or self._run_dir is None:
            return
        from agnoctl.reports.items import damaged, incomplete, read_items

        path = self._run_dir / step.items_file
        found = 0
        for number, data in read_items(path, step.path):
            try:
                yield model.model_validate(data)
            except ValidationError as exc:
                raise damaged(path, number, first_error(exc)) from None
            found += 1
        if step.items_in_file is not None and found != step.items_in_file:
            raise incomplete(path, step.path, found, step.items_in_file)

    def tally(self, step: StepReport) -> ExecutionTally:
        """What ``step`` and its items add up to (kept: the report files that count them
        ask in turn, and a big fan-out's items file is read once)."""
        tally = self._tallies.get(step.path)
        if tally is None:
            tally = ExecutionTally()
            tally.add(step)
            # Read for a few fields: a whole ItemReport (times, prompts, outputs) validated
            # cost three times as much.
            items = step.items if step.items is not None else self._read_items(step, CountedItem)
            tally.add_items(items)
            self._tallies[step.path] = tally  # whole: a damaged file is refused every time
        return tally

    def all_steps(self) -> Iterator[StepReport]:
        """Every step, parents before children, group children and per-item children included."""
        for step in self.steps.values():
            yield from _walk(step)

    def tolerance(self) -> Iterator[tuple[StepReport, bool]]:
        """Every step as ``all_steps`` gives them, with whether the run tolerated its failure:
        it has ``continue_on_error``, or is inside a step that has it, or inside a group or
        for_each (an item of one) that succeeded all the same, by its ``success_threshold``.
        CI files show such a failure as a warning, not as a failed test."""
        for step in self.steps.values():
            yield from _walk_tolerance(step, False)

    def earlier_iterations(self) -> Iterator[StepReport]:
        """The step records of every loop iteration but the last (nested ones included),
        which ``all_steps`` does not give: the files that count every attempt and gate check
        (metrics.prom) add these to it."""
        for step in self.steps.values():
            yield from _earlier(step)

    def rows(self) -> Iterator[Row]:
        """The rows of a table of the run (the terminal's summary, report.html's timeline):
        every step as ``all_steps`` gives them, but a loop group's children under each of
        its iterations, every iteration shown."""
        for step in self.steps.values():
            yield from _rows(step, 0)

    def dumps(self) -> str:
        """The report as written to report.json."""
        return self.model_dump_json(indent=2) + "\n"


class Row(NamedTuple):
    """One row of a table of the run: a step, or one iteration of a loop group."""

    label: str
    path: str  # the step's path; for an iteration, its group's
    depth: int
    entry: StepReport | LoopIterationReport


Usage = tuple[int, int, float]
"""Calls, tokens, cost."""


def worth_showing(rows: list[Row], limit: int) -> list[Row]:
    """A long table's rows (past ``limit``): its top-level steps, then the nested rows that
    did not succeed, ``limit`` in all."""
    top = [row for row in rows if row.depth == 0]
    trouble = [row for row in rows if row.depth > 0 and row.entry.status != "succeeded"]
    return (top + trouble)[:limit]


def whole_usage(entry: StepReport | LoopIterationReport) -> Usage:
    """All the calls of ``entry``, its children's included (report.json's figures)."""
    return entry.calls, entry.tokens_in + entry.tokens_out, entry.cost_usd


def own_usage(entry: StepReport | LoopIterationReport) -> Usage | None:
    """What a row of a table of the run counts (``RunReport.rows``), so that each call is on
    one row only and the column adds up to the total: a step's calls, but a group's or a
    ``uses`` step's own only (its judge gates), for its children and iterations have rows of
    their own; an iteration's are its children's (None)."""
    if isinstance(entry, LoopIterationReport):
        return None
    if entry.kind not in ("group", "uses"):  # a sub-workflow's steps have rows too
        return whole_usage(entry)
    attempts = [attempt for e in (entry, *(entry.items or ())) for attempt in e.attempts]
    return (
        sum(a.calls for a in attempts),
        sum(a.tokens_in + a.tokens_out for a in attempts),
        sum(a.cost_usd for a in attempts),
    )


def _rows(step: StepReport, depth: int) -> Iterator[Row]:
    yield Row(step.path, step.path, depth, step)
    for item in step.items or ():  # the items' children: `step[index].child`
        yield from _inner_rows(item, f"{step.path}[{item.index}]", step.path, depth + 2)
    yield from _inner_rows(step, step.path, step.path, depth + 1)


def _inner_rows(execution: _Execution, label: str, path: str, depth: int) -> Iterator[Row]:
    loop = execution.loop
    if loop is None or not loop.history:  # a report from before iterations were kept too
        for child in (execution.steps or {}).values():
            yield from _rows(child, depth)
        return
    for iteration in loop.history:
        yield Row(f"{label} (iteration {iteration.number})", path, depth, iteration)
        for child in iteration.steps.values():
            yield from _rows(child, depth + 1)


def _walk(step: StepReport) -> Iterator[StepReport]:
    yield step
    for item in step.items or ():
        for child in (item.steps or {}).values():
            yield from _walk(child)
    for child in (step.steps or {}).values():
        yield from _walk(child)


def _walk_tolerance(step: StepReport, outer: bool) -> Iterator[tuple[StepReport, bool]]:
    yield step, outer or step.continue_on_error
    inner = outer or step.continue_on_error or step.status == "succeeded"
    for item in step.items or ():
        for child in (item.steps or {}).values():
            yield from _walk_tolerance(child, inner)
    for child in (step.steps or {}).values():
        yield from _walk_tolerance(child, inner)


def _earlier(execution: _Execution) -> Iterator[StepReport]:
    """The records of ``execution``'s loop iterations before its last, and of those under its
    items and children: a loop group's ``steps`` are its last iteration's."""
    loop = execution.loop
    for iteration in loop.history[:-1] if loop is not None else ():
        for child in iteration.steps.values():
            yield from _walk(child)
            yield from _earlier(child)
    for item in (execution.items if isinstance(execution, StepReport) else None) or ():
        yield from _earlier(item)
    for child in (execution.steps or {}).values():
        yield from _earlier(child)


def first_error(exc: ValidationError) -> str:
    """What a reader says of data that is not a report (or an item): the first error."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "top level"
    return f"{where}: {first['msg']}"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of report.json (``schemas/report.schema.json``)."""
    schema = RunReport.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
