"""The scheduler: every step starts the moment its needs have finished.

``run_map`` runs one ``steps`` map (the workflow's, or a group's children) as a DAG: a task per
ready step, and when a step finishes, the dependents it readied start at once, in priority
order. The task that finished a step goes on with the first of them itself, so a chain of
steps costs one task, not one per step. A step is skipped, or run as a ``for_each`` (one
execution per item, on at most ``max_concurrency`` workers) or once; an execution is an agent
or command task (``_leaf``) or a group (``_group``: ``run_map`` over its children, again and
again for a ``loop``).

Rules (SPEC "Dependencies and status"):

- A need counts as satisfied when it succeeded, was skipped by its own ``if``, or failed with
  ``continue_on_error`` (its output then reads as null).
- Otherwise the step is skipped with the need's kind of trouble: ``upstream_failed`` for a failed
  need or one skipped for that reason, ``budget`` and ``cancelled`` likewise (when needs differ,
  cancelled wins over budget, budget over upstream_failed).
- for_each items and a group's children succeed as a share, rounded half up to two decimals,
  compared with the step's ``success_threshold``. A group counts its children like the run
  counts its steps: condition skips and ``continue_on_error`` failures are left out.
- Groups hold no concurrency slot while their children run (that could deadlock); only agent
  and command tasks take slots.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import anyio

from agnoctl import events, redact
from agnoctl.engine.agent import run_agent
from agnoctl.engine.approval import ApprovalOptions, Approvals
from agnoctl.engine.context import StepEntry, StepsView, base_context, overlay
from agnoctl.engine.gates import GateFailed
from agnoctl.engine.limits import hold
from agnoctl.engine.outputs import output_value, render_outputs
from agnoctl.engine.resume import JournalKey
from agnoctl.engine.runtime import Runtime, Settings
from agnoctl.engine.shares import meets, share_text
from agnoctl.engine.state import (
    FIRST_PROBLEMS,
    AttemptRecord,
    ExecRecord,
    FanOut,
    ItemRecord,
    IterationRecord,
    LoopRecord,
    SkipReason,
    Spill,
    StepRecord,
    new_records,
    problem,
)
from agnoctl.engine.steps import Task, check_output, outcome
from agnoctl.errors import StepFailed, UsageError
from agnoctl.events import milliseconds
from agnoctl.spec.dag import SiblingNeeds
from agnoctl.spec.inputs import resolve_inputs
from agnoctl.spec.models import StepSpec, Workflow
from agnoctl.spec.templates import TemplateError, evaluate, not_a_list, render

# Agent or command items in flight at once when nothing smaller is set: more could not be
# sent anyway (a run's HTTP pool holds 100 connections unless limits.max_concurrency says
# otherwise), and a worker per item of a million-item fan-out would hold a million tasks.
LEAF_WORKERS = 1_000

# `waiting` (an approval not decided yet) is the weakest: any other trouble outlasts it.
_SKIP_STRENGTH: dict[str, int] = {"waiting": 0, "upstream_failed": 1, "budget": 2, "cancelled": 3}


@dataclass(slots=True)
class MapRun:
    """One ``steps`` map being run: where its records and entries live, what templates see."""

    records: dict[str, StepRecord]
    entries: dict[str, StepEntry]  # finished steps of this map, as templates read them
    context: dict[str, Any]  # template context (``steps`` plus item/index/loop from outside)
    ancestry: tuple[str, ...]  # ids of the enclosing groups, from the top
    step_prefix: str  # "" or "group." (spec paths)
    index: int | None  # innermost for_each index
    iteration: int | None  # innermost loop iteration
    fingerprint: str  # of the enclosing run, group or item (agnoctl.engine.resume)


@dataclass(frozen=True, slots=True)
class _Body:
    """A step's work, or one item's of a for_each step (``owner``: that step's record), with
    the template context it sees."""

    step: StepSpec
    record: ExecRecord
    scope: MapRun
    settings: Settings
    context: dict[str, Any]
    owner: StepRecord | None = None

    @property
    def step_record(self) -> StepRecord:
        """The step's record: the item's owner, or the record itself."""
        found = self.owner or self.record
        assert isinstance(found, StepRecord)
        return found


@dataclass(frozen=True, slots=True)
class _MapSchedule:
    """What running a steps map reads for each step, worked out once per map (loops run the
    same map many times): its needs graph (``agnoctl.spec.dag``) and each step's settings."""

    graph: SiblingNeeds
    roots: list[str]  # steps without needs, highest priority first
    settings: dict[str, Settings]  # each step's, looked up once per map


class Scheduler:
    def __init__(
        self, rt: Runtime, approvals: Approvals | None = None, spill: Spill | None = None
    ) -> None:
        self.rt = rt
        self.spill = spill  # where finished for_each items go (None: their records stay)
        self.approvals = approvals or Approvals(ApprovalOptions(), rt.sink, resume_command="")
        self._schedules: dict[str, _MapSchedule] = {}  # by the map's step prefix: "", "group.", ...
        self._sub: dict[str, Scheduler] = {}  # sub-workflows' schedulers, by step prefix

    async def run(
        self, records: dict[str, StepRecord], view: StepsView, context: dict[str, Any]
    ) -> None:
        scope = MapRun(records, view.own(), context, (), "", None, None, self.rt.reuse.top)
        await self.run_map(self.rt.workflow.steps, scope)

    # ------------------------------------------------------------------ the DAG of one map

    async def run_map(self, steps: Mapping[str, StepSpec], scope: MapRun) -> None:
        schedule = self._schedule(steps, scope.step_prefix)
        waiting = {step_id: len(needs) for step_id, needs in schedule.graph.needs.items()}
        records = scope.records

        async def chain(step_id: str, tg: anyio.abc.TaskGroup) -> None:
            next_id: str | None = step_id
            while next_id is not None:
                await self._run_step(
                    steps[next_id], records[next_id], scope, schedule.settings[next_id]
                )
                ready = []
                for dependent in schedule.graph.dependents[next_id]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        ready.append(dependent)
                if len(ready) > 1:
                    ready.sort(key=lambda s: -schedule.settings[s].priority)
                for other in ready[1:]:
                    tg.start_soon(chain, other, tg)
                next_id = ready[0] if ready else None

        async with anyio.create_task_group() as tg:
            for step_id in schedule.roots[1:]:
                tg.start_soon(chain, step_id, tg)
            await chain(schedule.roots[0], tg)

    def _schedule(self, steps: Mapping[str, StepSpec], prefix: str) -> _MapSchedule:
        cached = self._schedules.get(prefix)
        if cached is not None:
            return cached
        graph = SiblingNeeds(steps)
        settings = {sid: self.rt.settings(spec) for sid, spec in steps.items()}
        roots = sorted(
            (sid for sid in steps if not graph.needs[sid]), key=lambda s: -settings[s].priority
        )
        schedule = self._schedules[prefix] = _MapSchedule(graph, roots, settings)
        return schedule

    # ------------------------------------------------------------------ one step

    async def _run_step(
        self, step: StepSpec, record: StepRecord, scope: MapRun, settings: Settings
    ) -> None:
        rt = self.rt
        record.fingerprint = rt.reuse.step(step, scope.fingerprint, scope.context, scope.records)
        blocked = self._blocked(step, scope)
        if rt.stopped and blocked != "cancelled":
            # SPEC: once a limit stops the run, what has not started is `skipped: budget`,
            # also when a need failed because the limit cut its for_each items short.
            blocked = "budget"
        if blocked is None and step.if_ is not None:
            try:
                if not evaluate(step.if_, scope.context):
                    blocked = "condition"
            except TemplateError as exc:
                self._fail(record, scope, f"step {record.path}: if: {exc.message}", "template")
                self._publish(step, record, scope)
                return
        if blocked is not None:
            self.skip(record, blocked, scope)
        elif step.for_each is not None:
            await self._for_each(step, record, scope, settings)
        elif step.approval is not None:
            await self._approval(step, record, scope)
        else:
            await self._work(step)(_Body(step, record, scope, settings, scope.context))
        self._publish(step, record, scope)

    def _work(self, step: StepSpec) -> Callable[[_Body], Awaitable[None]]:
        """What runs a step's work (or each of its items'), by its kind: a group, a
        sub-workflow, a task; looked up once for all the items of a for_each."""
        if step.steps is not None:
            return self._group
        if step.uses is not None:
            return self._uses
        return self._leaf

    def _blocked(self, step: StepSpec, scope: MapRun) -> SkipReason | None:
        found: SkipReason | None = None
        for need in step.needs:
            upstream = scope.records.get(need)
            if upstream is None or upstream.status == "succeeded":
                continue
            kind: SkipReason
            if upstream.status == "waiting":
                kind = "waiting"
            elif upstream.status == "skipped":
                if upstream.reason == "condition":
                    continue
                kind = upstream.reason or "upstream_failed"
            elif self.rt.settings(upstream.spec).continue_on_error:
                continue
            else:
                kind = "upstream_failed"
            if found is None or _SKIP_STRENGTH[kind] > _SKIP_STRENGTH[found]:
                found = kind
        return found

    def _publish(self, step: StepSpec, record: StepRecord, scope: MapRun) -> None:
        """Make the finished step readable as ``steps.<path>`` by the steps that need it."""
        output = record.output if record.status == "succeeded" else None
        error = record.error if record.status != "succeeded" else None
        results = None if record.items is None else record.items.results
        entry = scope.entries.get(record.id)
        if entry is not None and step.steps is not None and step.for_each is None:
            entry.status, entry.output = record.status, output  # the live group entry
            entry.error = error
        else:
            children = None if record.children is None else _not_run(record.children)
            scope.entries[record.id] = StepEntry(
                record.status, output, results, children=children, error=error
            )

    # ------------------------------------------------------------------ for_each

    async def _for_each(
        self, step: StepSpec, record: StepRecord, scope: MapRun, settings: Settings
    ) -> None:
        try:
            values = _items(step, scope.context, record.path)
        except StepFailed as exc:
            self._fail(record, scope, exc.message, exc.kind)
            return
        leaf = step.steps is None and step.uses is None  # items with children stay nested
        # A loop runs its fan-outs again under the same path, which is all the items file
        # names a line's step by: inside a loop, the items stay in the report.
        spill = self.spill if leaf and scope.iteration is None else None
        fan = record.items = FanOut(record, values, step.steps, spill)
        self._start(record, scope, items=len(values))

        work = self._work(step)

        async def worker() -> None:
            while (item := fan.take()) is not None:  # workers share it: items start in order
                await self._item(work, step, record, item, scope, settings)

        workers = self._workers(step, settings, len(values))
        if workers:
            async with anyio.create_task_group() as tg:
                for _ in range(workers - 1):
                    tg.start_soon(worker)
                await worker()
        self._finish_fan_out(record, scope, settings)

    def _workers(self, step: StepSpec, settings: Settings, count: int) -> int:
        """Item workers: the step's max_concurrency, and for leaves at most ``LEAF_WORKERS``.
        Not fewer because the run has fewer slots: the items must wait for a slot with their
        step's priority, or a lower-priority step takes each slot an item frees."""
        workers = count
        if settings.max_concurrency is not None:
            workers = min(workers, settings.max_concurrency)
        if step.steps is None and step.uses is None:
            workers = min(workers, LEAF_WORKERS)
        return workers

    async def _item(
        self,
        work: Callable[[_Body], Awaitable[None]],
        step: StepSpec,
        record: StepRecord,
        item: ItemRecord,
        scope: MapRun,
        settings: Settings,
    ) -> None:
        item.fingerprint = self.rt.reuse.item(record, item)
        if self.rt.stopped:
            self.skip(item, "budget", scope, step=record)
            return
        context = {**scope.context, "item": item.item, "index": item.index}
        await work(_Body(step, item, scope, settings, context, owner=record))

    def _finish_fan_out(self, record: StepRecord, scope: MapRun, settings: Settings) -> None:
        fan = record.items
        assert fan is not None
        succeeded, total = fan.succeeded, len(fan)
        record.output = fan.outputs
        if meets(succeeded, total, settings.success_threshold):
            self._succeed(record, scope)
        else:
            self._fail(
                record,
                scope,
                f"step {record.path}: {_share_text(succeeded, total, 'items')} is below "
                f"its success_threshold {settings.success_threshold:g}"
                + _first_failures(fan.first_problems(), len(fan.problems)),
                "threshold",
            )

    # ------------------------------------------------------------------ agent and command tasks

    async def _leaf(self, body: _Body) -> None:
        """Run one agent or command task, or take its output from the earlier run's journal."""
        rt = self.rt
        step, record, scope = body.step, body.record, body.scope
        step_record = body.step_record
        index = record.index if isinstance(record, ItemRecord) else scope.index
        task = Task(
            step=step,
            settings=body.settings,
            path=step_record.path,
            step_path=scope.step_prefix + step_record.id,
            index=index,
            iteration=scope.iteration,
            context=body.context,
            record=record,
        )
        # Resuming: the earlier run's output, by (step path, item index, loop iteration).
        if rt.reuse.previous is not None and self._reuse(
            record, (task.path, task.index, task.iteration), body.owner
        ):
            return
        async with hold(rt.leaf_limiters(step), body.settings.priority):
            if rt.stopped:  # a limit stopped the run while this task waited for its slot
                self.skip(record, "budget", scope, step=body.owner)
                return
            await self._execute(task, scope, body.owner)

    async def _execute(self, task: Task, scope: MapRun, owner: StepRecord | None) -> None:
        record = task.record
        self._start(record, scope, owner)
        try:
            if task.step.agent is not None:
                record.output = await run_agent(self.rt, task)
            else:  # a command step: its subprocess machinery loads with the first one
                from agnoctl.engine.command import run_command

                record.output = await run_command(self.rt, task)
        except Exception as exc:
            status, reason, message, kind = outcome(exc)
            if status == "skipped":
                self.skip(record, reason or "budget", scope, step=owner, error=message)
            else:
                self._fail(record, scope, message, kind, owner=owner)
        else:
            self._succeed(record, scope, owner)

    def _reuse(self, record: ExecRecord, key: JournalKey, owner: StepRecord | None) -> bool:
        """Take the task's output from the earlier run's journal (``--resume``), if it may;
        ``key`` is its (step path, item index, loop iteration)."""
        finished = self.rt.reuse.finished(key, record.fingerprint, item=owner is not None)
        if finished is None:
            return False
        record.status = "succeeded"
        record.output = finished.output
        record.reused = True
        if owner is not None and owner.items is not None:
            assert isinstance(record, ItemRecord)
            owner.items.finish(record)
        reused = events.ItemReused if owner is not None else events.StepReused
        path, index, iteration = key
        self.rt.sink.emit(
            reused(
                step=path,
                item=index,
                iteration=iteration,
                output=record.output,
                fingerprint=record.fingerprint,
            )
        )
        return True

    # ------------------------------------------------------------------ approvals

    async def _approval(self, step: StepSpec, record: StepRecord, scope: MapRun) -> None:
        """A person's decision (agnoctl.engine.approval): the command line's, else the one an
        earlier segment recorded, else asked now; nobody to ask leaves the step `waiting`."""
        assert step.approval is not None
        approvals = self.approvals
        key = (record.path, scope.index, scope.iteration)
        given = approvals.given(record.path)
        if self.rt.reuse.previous is not None and not given and self._reuse(record, key, None):
            return
        self._start(record, scope)
        try:
            message = render(step.approval.message, scope.context)
            decision = await approvals.decide(record.path, step.approval, message)
        except TemplateError as exc:
            self._fail(record, scope, f"step {record.path}: message: {exc.message}", "template")
            return
        except StepFailed as exc:
            self._fail(record, scope, exc.message, exc.kind)
            return
        if decision is None:
            record.status = "waiting"  # not finished: the run stops, resumable with a decision
            return
        record.output = decision.output()
        self._succeed(record, scope)

    # ------------------------------------------------------------------ groups and loops

    async def _group(self, body: _Body) -> None:
        step, record, scope = body.step, body.record, body.scope
        assert step.steps is not None and record.children is not None
        step_record = body.step_record
        self._start(record, scope, owner=body.owner)
        children = StepsView()
        live = StepEntry("running", None, children=children)
        ancestry = (*scope.ancestry, step_record.id)
        context = body.context
        if body.owner is None:
            scope.entries[step_record.id] = live
        else:  # one item of a for_each group: its own children, seen only by its own steps
            context = {**context, "steps": overlay(context["steps"], ancestry, live)}
        inner = MapRun(
            records=record.children,
            entries=children.own(),
            context=context,
            ancestry=ancestry,
            step_prefix=f"{scope.step_prefix}{step_record.id}.",
            index=record.index if isinstance(record, ItemRecord) else scope.index,
            iteration=scope.iteration,
            fingerprint=record.fingerprint or scope.fingerprint,
        )
        failure: tuple[str, str] | None = None
        # The group's own `timeout` bounds all of it: its children, every pass of its loop.
        with anyio.move_on_after(step.timeout or math.inf) as bound:
            if step.loop is None:
                await self.run_map(step.steps, inner)
                failure = self._children_failure(record, step_record.path, body.settings)
            else:
                failure = await self._loop(step, record, inner, body.settings, step_record.path)
        if bound.cancelled_caught:
            took = f"the group took longer than {step.timeout:g}s"
            failure = self._cut_short(record, inner, step_record.path, took)
        record.output = {
            cid: child.output if child.status == "succeeded" else None
            for cid, child in record.children.items()
        }
        if failure is None:
            failure = await self._group_gates(
                step, record, scope, body.settings, context, step_record
            )
        self._conclude(record, scope, failure, body.owner)

    def _conclude(
        self,
        record: ExecRecord,
        scope: MapRun,
        failure: tuple[str, str] | None,
        owner: StepRecord | None,
    ) -> None:
        """A group's or a sub-workflow's verdict, once its children and its own gates are done."""
        if failure is None:
            self._succeed(record, scope, owner=owner)
        else:
            self._fail(record, scope, failure[0], failure[1], owner=owner)

    # ------------------------------------------------------------------ sub-workflows

    async def _uses(self, body: _Body) -> None:
        """A sub-workflow: its steps run as a scope nested under this step (as a group's
        children, at ``step.child``), by its own runtime (its agents, tools, defaults) on
        the run's budget, with its own template context; its ``outputs`` are the output."""
        step, record, scope = body.step, body.record, body.scope
        assert step.uses is not None
        step_record = body.step_record
        child = self.rt.workflow.sub_workflow(step.uses)
        prefix = f"{scope.step_prefix}{step_record.id}."
        sub = self._sub.get(prefix)
        if sub is None:
            sub = self._sub[prefix] = Scheduler(
                self.rt.for_sub_workflow(child, prefix), spill=self.spill
            )
        self._start(record, scope, owner=body.owner)
        try:
            inputs = _sub_inputs(step, child, body.context, step_record.path)
        except StepFailed as exc:
            self._fail(record, scope, exc.message, exc.kind, owner=body.owner)
            return
        record.children = new_records(child.steps, f"{record.path}.")
        view = StepsView()
        inner = MapRun(
            records=record.children,
            entries=view.own(),
            context=base_context(
                inputs=inputs,
                env=child.env,
                run_id=self.rt.run_id,
                workflow_name=child.name,
                workflow_dir=str(sub.rt.workflow_dir),
                steps=view,
            ),
            ancestry=(),  # the child's templates read its own steps from the top
            step_prefix=prefix,
            index=record.index if isinstance(record, ItemRecord) else scope.index,
            iteration=scope.iteration,
            fingerprint=sub.rt.reuse.sub_scope(record.fingerprint or scope.fingerprint, inputs),
        )
        # The step's own `timeout` bounds the invocation; the defaults' bound each attempt.
        bounded = replace(body.settings, timeout=step.timeout)
        failure = await sub.run_child(child, record, inner, bounded, step_record.path)
        if failure is None:
            failure = await self._group_gates(
                step, record, scope, body.settings, body.context, step_record
            )
        self._conclude(record, scope, failure, body.owner)

    async def run_child(
        self, child: Workflow, record: ExecRecord, inner: MapRun, settings: Settings, path: str
    ) -> tuple[str, str] | None:
        """Run a sub-workflow's steps (this scheduler's); its output is its ``outputs``, and
        its own ``success_threshold`` decides whether the invocation passed. The calling
        step's ``timeout`` bounds the whole invocation."""
        with anyio.move_on_after(settings.timeout or math.inf) as bound:
            await self.run_map(child.steps, inner)
        if bound.cancelled_caught:
            took = f"the sub-workflow took longer than {settings.timeout:g}s"
            return self._cut_short(record, inner, path, took)
        outputs, errors = render_outputs(child.outputs, inner.context)
        record.output = outputs
        own = replace(settings, success_threshold=child.success_threshold)
        failure = self._children_failure(record, path, own)
        if failure is None and errors:
            return f"step {path}: {'; '.join(errors.values())}", "template"
        return failure

    def _cut_short(
        self, record: ExecRecord, inner: MapRun, path: str, took: str
    ) -> tuple[str, str]:
        """The failure of a group or an invocation whose own ``timeout`` passed: the children
        that were running fail by it; those that had not started are skipped after."""
        assert record.children is not None
        for cut in record.children.values():
            if cut.status == "running":
                self._fail(cut, inner, f"step {cut.path}: cut short: {took}", "timeout")
        running = record.loop.history[-1] if record.loop and record.loop.history else None
        if running is not None and running.finished is None:  # a loop's pass, cut too
            running.finished = time.time()
            running.status = "failed"
        return f"step {path}: {took}", "timeout"

    async def _loop(
        self, step: StepSpec, record: ExecRecord, inner: MapRun, settings: Settings, path: str
    ) -> tuple[str, str] | None:
        assert step.loop is not None and step.steps is not None
        loop = record.loop = LoopRecord(max_iterations=step.loop.max_iterations)
        # Every child reads as null on the first iteration; test `loop.iteration > 1` to branch.
        previous: dict[str, Any] = dict.fromkeys(step.steps)
        outer_context = inner.context
        for iteration in range(1, loop.max_iterations + 1):
            if iteration > 1:
                record.children = inner.records = new_records(step.steps, f"{record.path}.")
                inner.entries.clear()
            assert record.children is not None
            run = IterationRecord(iteration, time.time(), record.children)
            loop.history.append(run)
            inner.iteration = iteration
            inner.context = {
                **outer_context,
                "loop": {"iteration": iteration, "previous": previous},
            }
            self.rt.sink.emit(
                events.LoopIterationStarted(step=path, item=inner.index, iteration=iteration)
            )
            await self.run_map(step.steps, inner)
            run.finished = time.time()
            previous = {
                cid: child.output if child.status == "succeeded" else None
                for cid, child in record.children.items()
            }
            loop.iterations = iteration
            loop.outputs.append(previous)
            self.rt.sink.emit(
                events.LoopIterationFinished(
                    step=path, item=inner.index, iteration=iteration, outputs=previous
                )
            )
            failure = self._children_failure(record, path, settings)
            run.status = "succeeded" if failure is None else "failed"
            if failure is not None:
                return failure
            if step.loop.until is not None:
                try:
                    loop.until_met = bool(evaluate(step.loop.until, inner.context))
                except TemplateError as exc:
                    return f"step {path}: loop.until: {exc.message}", "template"
                if loop.until_met:
                    return None
        loop.exhausted = True
        if step.loop.on_exhausted == "fail":
            return (
                f"step {path}: the loop spent its {loop.max_iterations} iteration(s) "
                "without `until` becoming true (on_exhausted: fail)",
                "loop_exhausted",
            )
        return None

    def _children_failure(
        self, record: ExecRecord, path: str, settings: Settings
    ) -> tuple[str, str] | None:
        assert record.children is not None
        succeeded, counted = self.count(record.children.values())
        if meets(succeeded, counted, settings.success_threshold):
            return None
        failed = [c for c in record.children.values() if c.status != "succeeded"]
        problems = [(c.path, problem(c.status, c.reason, c.error)) for c in failed[:FIRST_PROBLEMS]]
        return (
            f"step {path}: {_share_text(succeeded, counted, 'steps')} is below its "
            f"success_threshold {settings.success_threshold:g}"
            + _first_failures(problems, len(failed)),
            "threshold",
        )

    async def _group_gates(
        self,
        step: StepSpec,
        record: ExecRecord,
        scope: MapRun,
        settings: Settings,
        context: dict[str, Any],
        step_record: StepRecord,
    ) -> tuple[str, str] | None:
        """A group's gates, on its output map; `retry` acts as `fail` (a group is not re-run)."""
        if not step.gates and step.output_schema is None:
            return None
        from agnoctl.engine.agent import judge

        attempt = AttemptRecord(number=1, started=time.time())
        record.attempts.append(attempt)  # what its judges spend counts as the group's own
        task = Task(
            step=step,
            settings=settings,
            path=step_record.path,
            step_path=scope.step_prefix + step_record.id,
            index=scope.index,
            iteration=scope.iteration,
            context=context,
            record=record,
        )
        try:
            await check_output(
                self.rt,
                task,
                record.output,
                schema=step.output_schema,
                attempt=attempt,
                judge=lambda gate, value: judge(self.rt, task, gate, value, attempt),
            )
        except GateFailed as exc:
            attempt.error, attempt.error_kind = exc.message, exc.kind
            return f"step {step_record.path}: {exc.message}", exc.kind
        finally:
            attempt.finished = time.time()
        return None

    def count(self, records: Iterable[StepRecord]) -> tuple[int, int]:
        """(succeeded, counted) of sibling steps: condition skips and continue_on_error
        failures are not counted."""
        succeeded = counted = 0
        for record in records:
            if record.status == "skipped" and record.reason == "condition":
                continue
            if record.status == "failed" and self.rt.settings(record.spec).continue_on_error:
                continue
            counted += 1
            succeeded += record.status == "succeeded"
        return succeeded, counted

    # ------------------------------------------------------------------ status changes

    def _start(
        self,
        record: ExecRecord,
        scope: MapRun,
        owner: StepRecord | None = None,
        items: int | None = None,
    ) -> None:
        record.status = "running"
        record.started = time.time()
        if isinstance(record, ItemRecord):
            assert owner is not None
            self.rt.sink.emit(
                events.ItemStarted(step=owner.path, item=record.index, iteration=scope.iteration)
            )
        else:
            self.rt.sink.emit(
                events.StepStarted(
                    step=record.path, item=scope.index, iteration=scope.iteration, items=items
                )
            )

    def _succeed(self, record: ExecRecord, scope: MapRun, owner: StepRecord | None = None) -> None:
        record.status = "succeeded"
        ended = self._finished(record, scope, owner)
        kind = events.ItemSucceeded if isinstance(record, ItemRecord) else events.StepSucceeded
        node = record.attempts[-1].node if record.attempts else None  # `--executor ray`
        fingerprint = record.fingerprint
        if fingerprint is not None and redact.active().holds_secret(record.output):
            # The journal holds it masked: a resume must run it again for the real output,
            # as the response cache does not store a reply that holds a secret.
            fingerprint = None
        self.rt.sink.emit(kind(**ended, output=record.output, fingerprint=fingerprint, node=node))

    def _fail(
        self,
        record: ExecRecord,
        scope: MapRun,
        message: str,
        kind: str,
        owner: StepRecord | None = None,
    ) -> None:
        record.status = "failed"
        record.error = message
        record.error_kind = kind
        ended = self._finished(record, scope, owner)
        failed = events.ItemFailed if isinstance(record, ItemRecord) else events.StepFailed
        self.rt.sink.emit(failed(**ended, error=message, kind=kind))
        # A group that failed before its children could run, a fan-out before its items.
        self._skip_inner(record, "upstream_failed", _owner_of(record, owner))

    def skip(
        self,
        record: ExecRecord,
        reason: SkipReason,
        scope: MapRun | None,
        *,
        step: StepRecord | None = None,
        error: str | None = None,
    ) -> None:
        """Mark a record skipped (and everything inside it that had not finished)."""
        record.status = "skipped"
        record.reason = reason
        if error is not None:
            record.error = error
            record.error_kind = "budget_exceeded" if reason == "budget" else reason
        record.output = None
        ended = self._finished(record, scope, step)
        skipped = events.ItemSkipped if isinstance(record, ItemRecord) else events.StepSkipped
        self.rt.sink.emit(skipped(**ended, reason=reason, error=error))
        self._skip_inner(record, reason, _owner_of(record, step))

    def _skip_inner(self, record: ExecRecord, reason: SkipReason, owner: StepRecord | None) -> None:
        """Skip what had not finished inside ``record``: its children, running items, and the
        items not started yet."""
        for inner in list(record.inner()):
            if not inner.done:
                self.skip(inner, reason, None, step=owner)
        if isinstance(record, StepRecord) and record.items is not None:
            for item in record.items.untaken():
                self.skip(item, reason, None, step=record)

    def _finished(
        self, record: ExecRecord, scope: MapRun | None, owner: StepRecord | None
    ) -> _Ended:
        """Stamp the record's end; where it ran and for how long, as its ``step_<status>`` or
        ``item_<status>`` event says."""
        if record.started is not None:
            record.finished = now = time.time()
            record.duration_ms = milliseconds(now - record.started)
        duration = record.duration_ms
        iteration = scope.iteration if scope is not None else None
        if isinstance(record, ItemRecord):
            if owner is not None and owner.items is not None:
                owner.items.finish(record)
            step = owner.path if owner is not None else record.path
            return _Ended(step=step, item=record.index, iteration=iteration, duration_ms=duration)
        item = scope.index if scope is not None else None
        return _Ended(step=record.path, item=item, iteration=iteration, duration_ms=duration)


class _Ended(TypedDict):
    """The fields every ``step_<status>`` and ``item_<status>`` event has."""

    step: str
    item: int | None
    iteration: int | None
    duration_ms: float | None


def _not_run(children: Mapping[str, StepRecord]) -> StepsView:
    """What templates read of the children of a group that never ran (skipped, or failed
    before they started): each as its record says, output null, so a step joining an if/else
    branch that was not taken can read them as it reads the group."""
    return StepsView(
        {
            cid: StepEntry(
                child.status,
                None,
                children=None if child.children is None else _not_run(child.children),
                error=child.error,
            )
            for cid, child in children.items()
        }
    )


def _owner_of(record: ExecRecord, owner: StepRecord | None) -> StepRecord | None:
    """The step an inner record's item events name: the record itself when it is a step."""
    return record if isinstance(record, StepRecord) else owner


def _items(step: StepSpec, context: dict[str, Any], path: str) -> list[Any]:
    source = step.for_each
    if isinstance(source, list):
        return source
    assert source is not None
    try:
        value = evaluate(source, context)
    except TemplateError as exc:
        raise StepFailed(f"step {path}: for_each: {exc.message}", kind="template") from None
    problem = not_a_list(value)
    if problem is not None:
        raise StepFailed(
            f"step {path}: for_each must give a list, but `{source}` gave {problem}",
            kind="for_each",
        )
    return list(value)


def _sub_inputs(
    step: StepSpec, child: Workflow, context: dict[str, Any], path: str
) -> dict[str, Any]:
    """The sub-workflow's inputs: `with:` rendered in the calling step's context (one
    expression keeps its type, as a workflow output does), typed and defaulted by the
    child's `inputs` as a run's are."""
    given: dict[str, Any] = {}
    for name, value in (step.with_ or {}).items():
        try:
            given[name] = output_value(value, context) if isinstance(value, str) else value
        except TemplateError as exc:
            raise StepFailed(f"step {path}: with.{name}: {exc.message}", kind="template") from None
    try:
        return resolve_inputs(child.inputs, given=given)
    except UsageError as exc:
        raise StepFailed(f"step {path}: {exc}", kind="inputs") from None


def _share_text(succeeded: int, total: int, noun: str) -> str:
    return f"{succeeded} of {total} {noun} succeeded ({share_text(succeeded, total)})"


def _first_failures(shown: Sequence[tuple[str, str]], count: int) -> str:
    """The first problems, (path, what went wrong), of ``count``."""
    listed = [f"{path}: {problem}" for path, problem in shown]
    more = f" (and {count - len(shown)} more)" if count > len(shown) else ""
    return ("; " + "; ".join(listed) + more) if listed else ""
