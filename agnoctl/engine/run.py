"""Run a workflow's steps and come to a verdict: the engine's entry point (``execute``).

The session (``agnoctl.session``) checks everything first and prepares the run directory; here
the steps run under the scheduler, inside one cancel scope that SIGINT/SIGTERM/SIGHUP
(``RunSetup.handle_signals``) and ``limits.max_duration`` cancel; whatever did not finish is
``skipped: cancelled`` (or ``budget`` when a limit stopped it). What the engine returns is a
``RunResult``: the records, the outputs and the verdict. It writes the journal and nothing
else: report.json is the layer above's (``ReportFiles``), and the engine only says when to
write it. A second signal while the run ends exits at once.

A write to the run directory that fails (the journal, a checkpoint, the final report.json: a
full disk) stops the run at once with ``RunDirUnwritable``: going on would do work that no file
records. What was written stays valid, and ``--resume`` carries on once there is room. The
final report.json is written before the journal records ``run_finished``, so a journal that
records the end always has its report.json beside it.

Run pass/fail (SPEC "Limits and success"): the top-level steps count (a group is one step);
condition skips and ``continue_on_error`` failures are left out of the share. The run fails
when the share is below ``success_threshold``, when a counted top-level step failed its gates,
when a limit stopped it, or when an output could not be rendered.

Outputs: an output that is one expression (``"{{ steps.x.output }}"``) keeps its value's type
(a skipped step's output is null, a map stays a map and is written as JSON); any other template
renders to text.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio

from agnoctl import events
from agnoctl.cache import DEFAULT_CACHE_DIR, CacheMode, ResponseCache
from agnoctl.engine.approval import ApprovalOptions, Approvals
from agnoctl.engine.budget import NOTHING_SPENT, Budget
from agnoctl.engine.context import StepsView, base_context
from agnoctl.engine.outputs import render_outputs
from agnoctl.engine.resume import PreviousRun, Reuse, Segment
from agnoctl.engine.rundir import JOURNAL, REPORT_FILE, resume_command, unwritable
from agnoctl.engine.runtime import ProviderEvents, Providers, Runtime, Settings
from agnoctl.engine.scheduler import Scheduler
from agnoctl.engine.shares import meets, share_text
from agnoctl.engine.state import ItemRecord, RunState, SkipReason, StepRecord, new_records
from agnoctl.errors import ExitCode, RunDirUnwritable
from agnoctl.events import Entry, EventSink, Listener, milliseconds
from agnoctl.providers.base import Provider
from agnoctl.redact import Redactor
from agnoctl.spec.dag import find_step
from agnoctl.spec.models import StepSpec, Tags, Workflow

if TYPE_CHECKING:
    from agnoctl.engine.ray_executor import RayOptions

CHECKPOINT_INTERVAL = 1.0  # seconds between report.json checkpoints while a run goes on
# ... or this many times what the last one took to build: a checkpoint stops the steps while
# it is built, and this keeps that under 2% of the run's time.
CHECKPOINT_COST_FACTOR = 50
# Ctrl-C, a CI job's cancel, and a closed terminal or SSH session: each ends the run with its
# report (exit 130), never with only the last checkpoint.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

Counter = Callable[[Iterable[StepRecord]], tuple[int, int]]
"""How siblings count toward a success share: (succeeded, counted)."""


@dataclass(frozen=True)
class RunSetup:
    """Everything one run needs, checked and prepared by the session before it starts."""

    workflow: Workflow
    file: Path
    inputs: dict[str, Any]
    redactor: Redactor
    run_id: str
    run_dir: Path
    resume_as: str
    """How the run is named to ``--resume`` it: ``latest``, or its directory."""
    mock: bool = False
    seed: int | None = None
    handle_signals: bool = False
    on_started: Callable[[RunState], None] | None = None
    """Called with the live state just before the steps start (the terminal's display)."""
    listeners: Sequence[Listener] = ()
    """They see every event, redacted."""
    providers: Mapping[str, Provider] | None = None
    cache_mode: CacheMode = "off"
    cache_dir: Path = DEFAULT_CACHE_DIR
    fixtures: Any = None
    previous: PreviousRun | None = None
    """The run being resumed."""
    note: str | None = None
    """Said in the run_started event (`--resume latest` with nothing to resume, ...)."""
    approvals: ApprovalOptions = field(default_factory=ApprovalOptions)
    """How approval steps are decided: `--approve`/`--reject`, and the terminal's prompt."""
    on_text: Callable[[str, int | None, str], None] | None = None
    """Told each piece of a streamed reply's text (task path, item index, text): the live
    display's, when it shows text; None otherwise, and no reply does any work for it."""
    ray: RayOptions | None = None
    """The Ray cluster command steps and command tools run on (`--executor ray`); None: here."""


@dataclass(frozen=True)
class RunResult:
    """What a run came to, or has come to so far (a checkpoint): the records and the verdict.

    Inputs are as redacted as the journal's; ``cost``, ``limits`` and ``throttling`` are plain
    data; ``earlier`` are the segments of the run before this one (``--resume``).
    """

    setup: RunSetup
    records: Mapping[str, StepRecord]
    settings: Callable[[StepSpec], Settings]
    count: Counter
    status: str
    reason: str
    exit_code: ExitCode
    interrupted: bool
    succeeded: int
    counted: int
    started: float
    finished: float
    reused: int
    outputs: dict[str, Any]
    output_errors: dict[str, str]
    cost: dict[str, Any]
    limits: dict[str, dict[str, Any]]
    throttling: dict[str, Any]
    approvals: list[dict[str, Any]]
    """The approval steps' audit trail: decisions, then what the run waits for."""

    @property
    def earlier(self) -> list[Segment]:
        previous = self.setup.previous
        return previous.segments if previous is not None else []


class ReportFiles(Protocol):
    """report.json, which the layer above makes from a ``RunResult``; the engine says when.

    A checkpoint is built on the event loop (it reads the live records) and written in a
    worker thread while the steps go on; the final report is built and written before the
    journal records the end. Each write raises OSError when the disk refuses it.
    """

    def checkpoint(self, result: RunResult) -> str: ...

    def spill(self, step: StepRecord, item: ItemRecord) -> None:
        """Write a finished for_each item's record out (the engine then drops it)."""

    def write_checkpoint(self, text: str) -> None: ...

    def write_final(self, result: RunResult) -> None: ...


async def execute(setup: RunSetup, reports: ReportFiles) -> RunResult:
    """Run every step of ``setup.workflow`` in ``setup.run_dir`` (prepared, and locked by the
    caller); returns the final result, whose report.json ``reports`` has written."""
    stop = _WriteFailure(setup)
    journal = setup.run_dir / JOURNAL
    sink = EventSink(
        journal,
        setup.run_id,
        redact=setup.redactor.redact if setup.redactor else None,
        mask=_masking(setup.redactor),
        escapes=setup.redactor.escapes,
        listeners=tuple(setup.listeners),
        last_seq=setup.previous.last_seq if setup.previous is not None else 0,
        on_error=partial(stop.failed, "journal", journal),
    )
    rt = _runtime(setup, sink)
    try:
        # MCP servers end with the run, whichever way it ends (failed, interrupted, timed out).
        async with rt.mcp or contextlib.AsyncExitStack(), _executor(setup, rt):
            result = await _run(setup, rt, reports, stop)
    finally:
        sink.close()
        if rt.cache is not None:
            rt.cache.close()
        with anyio.CancelScope(shield=True):
            await rt.providers.aclose()
    stop.check()  # the journal's last write, or its fsync
    return result


@contextlib.asynccontextmanager
async def _executor(setup: RunSetup, rt: Runtime) -> AsyncIterator[None]:
    """Connected to the run's Ray cluster for its lifetime (`--executor ray`), else nothing:
    programs run here."""
    if setup.ray is None:
        yield
        return
    from agnoctl.engine.ray_executor import connected

    async with connected(setup.ray, Path.cwd()) as rt.executor:
        rt.ray_agents = setup.ray.agents
        yield


def _runtime(setup: RunSetup, sink: EventSink) -> Runtime:
    workflow = setup.workflow
    provider_events = ProviderEvents(sink)
    providers = Providers(
        workflow,
        mock=setup.mock,
        offline=setup.cache_mode == "only",
        fixtures=setup.fixtures,
        on_breaker_change=provider_events.breaker_changed,
        watch=provider_events,
        max_connections=workflow.limits.max_concurrency or 100,
        overrides=setup.providers or {},
    )
    budget = Budget(
        workflow.limits,
        on_warning=lambda limit, used, value: sink.emit(
            events.BudgetWarning(limit=limit, used=round(used, 6), value=value)
        ),
        # The limits are the run's: what its earlier segments used counts (--resume).
        spent=setup.previous.spent() if setup.previous is not None else NOTHING_SPENT,
    )
    rt = Runtime(
        workflow,
        run_id=setup.run_id,
        sink=sink,
        providers=providers,
        budget=budget,
        rng=random.Random(setup.seed),
        workflow_dir=setup.file.resolve().parent,
        reuse=Reuse(workflow, setup.inputs, setup.previous, mock=setup.mock),
        cache=(
            ResponseCache(setup.cache_dir, redact=setup.redactor.redact)
            if setup.cache_mode != "off"
            else None
        ),
        cache_mode=setup.cache_mode,
    )
    rt.workflow_file = setup.file
    rt.on_text = setup.on_text
    if setup.previous is not None:
        _carry_costs(rt, setup.previous)
    return rt


async def _run(
    setup: RunSetup, rt: Runtime, reports: ReportFiles, stop: _WriteFailure
) -> RunResult:
    state = RunState(
        setup.run_id,
        setup.workflow.name,
        setup.run_dir,
        time.time(),
        new_records(setup.workflow.steps),
        mock=setup.mock,
    )
    if setup.on_started is not None:
        setup.on_started(state)
    _announce(setup, rt)
    view = StepsView()
    context = base_context(
        inputs=setup.inputs,
        env=setup.workflow.env,
        run_id=setup.run_id,
        workflow_name=setup.workflow.name,
        workflow_dir=str(rt.workflow_dir),
        steps=view,
    )
    approvals = Approvals(
        setup.approvals,
        rt.sink,
        resume_command=resume_command(setup.file, setup.resume_as),
        journal=setup.run_dir / JOURNAL if setup.previous is not None else None,
    )
    scheduler = Scheduler(rt, approvals, spill=partial(_spill, reports, stop))
    with stop.scope:
        async with anyio.create_task_group() as checkpoints:
            checkpoint = partial(_write_checkpoint, setup, rt, scheduler, state, reports, stop)
            await checkpoints.start(_checkpoints, checkpoint)
            if rt.providers.needs_http():
                await checkpoints.start(rt.providers.set_up)
            interrupted = await _run_steps(scheduler, rt, state, view, context, setup)
            checkpoints.cancel_scope.cancel()
    stop.check()
    unfinished: SkipReason = "cancelled" if interrupted else "budget"
    for record in state.steps.values():
        if not record.done:
            scheduler.skip(record, unfinished, None)
    outputs, output_errors = render_outputs(setup.workflow.outputs, context)
    result = _result(setup, rt, scheduler, state, outputs, output_errors, interrupted)
    rt.sink.flush()  # the journal holds every task the final report says finished...
    rt.sink.check_in_place()
    stop.check()  # ...or the report stays the checkpoint
    stop.guard(reports.write_final, result)
    rt.sink.emit(
        events.RunFinished(
            status=result.status,
            reason=result.reason,
            exit_code=int(result.exit_code),
            duration_ms=milliseconds(result.finished - result.started),
            cost=result.cost["total"]["cost_usd"],
        )
    )
    state.finished = time.time()
    return result


def _announce(setup: RunSetup, rt: Runtime) -> None:
    started = events.RunStarted if setup.previous is None else events.RunResumed
    rt.sink.emit(
        started(
            fingerprint=rt.reuse.fingerprints.run(setup.inputs),
            workflow=setup.workflow.name,
            file=str(setup.file),
            inputs=setup.redactor.redact_obj(setup.inputs),
            mock=setup.mock or None,
            seed=setup.seed,
            note=setup.note,
        )
    )


class _WriteFailure:
    """The first write to the run directory that failed (a full disk, a quota): it cancels
    ``scope``, the run's steps, since work that no file records would be done again anyway.

    ``check`` raises it as RunDirUnwritable, whose message names the file and says how to go
    on; ``guard`` runs a write of report.json and turns its OSError into one.
    """

    def __init__(self, setup: RunSetup) -> None:
        self.scope = anyio.CancelScope()
        self.run_dir = setup.run_dir
        self._setup = setup
        self._error: RunDirUnwritable | None = None

    def failed(self, what: str, path: Path, error: OSError) -> RunDirUnwritable:
        """Note a failed write of the ``what`` at ``path`` and stop the steps; returns the
        error ``check`` raises (the first failure's)."""
        if self._error is None:
            setup = self._setup
            self._error = unwritable(what, path, error, setup.file, setup.resume_as)
        self.scope.cancel()
        return self._error

    @property
    def failed_already(self) -> bool:
        return self._error is not None

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def guard(self, write: Callable[..., _T], *args: Any) -> _T:
        try:
            return write(*args)
        except OSError as exc:
            path = Path(exc.filename or self._setup.run_dir / REPORT_FILE)
            raise self.failed("report", path, exc) from exc


_T = TypeVar("_T")


def _spill(reports: ReportFiles, stop: _WriteFailure, step: StepRecord, item: ItemRecord) -> None:
    """Write a finished item out; a refused write stops the run as a journal's does."""
    try:
        reports.spill(step, item)
    except OSError as exc:
        stop.failed("report", Path(exc.filename or stop.run_dir / REPORT_FILE), exc)


def _carry_costs(rt: Runtime, previous: PreviousRun) -> None:
    """Put the calls of the run's earlier segments in its cost report: answered or failed,
    as the segment's own report counted them (and the limits count them)."""
    tags: dict[str, Tags | None] = {}
    for call in previous.calls:
        step = call.step
        if step not in tags:
            spec = find_step(rt.workflow, step)
            tags[step] = rt.settings(spec).tags if spec is not None else None
        if call.cached:
            rt.ledger.add(step, call.agent, call.model, tags[step], calls=0, cache_hits=1)
        else:
            rt.ledger.add(
                step, call.agent, call.model, tags[step], call.tokens_in, call.tokens_out, call.cost
            )


async def _checkpoints(
    checkpoint: Callable[[], Awaitable[float | None]],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Keep a valid report.json on disk while the run goes on (``checkpoint`` writes one), so
    a killed run leaves one.

    It says `interrupted` with what had finished: exactly what is true if the process dies
    before the final report replaces it. The first one is on disk before any step starts.
    Building one costs the steps' time, so the interval grows to ``CHECKPOINT_COST_FACTOR``
    times that, from one second up (the journal, which resume reads, is always current). The
    file is written (and fsynced, which takes milliseconds on a slow disk) in a worker thread
    while the steps go on; a cancellation waits for that write, so it can never land after
    the final report.
    """
    cost = await checkpoint()
    task_status.started()
    while cost is not None:
        await anyio.sleep(max(CHECKPOINT_INTERVAL, CHECKPOINT_COST_FACTOR * cost))
        cost = await checkpoint()


async def _write_checkpoint(
    setup: RunSetup,
    rt: Runtime,
    scheduler: Scheduler,
    state: RunState,
    reports: ReportFiles,
    stop: _WriteFailure,
) -> float | None:
    """Write one checkpoint; the seconds its build took the event loop, or None when the
    write failed (and the run is being stopped)."""
    rt.sink.check_in_place()  # a checkpoint must not make a removed run directory again
    if stop.failed_already:
        return None
    started = time.perf_counter()
    try:
        # Building one reads back the items file, flushing what the disk may refuse.
        text = reports.checkpoint(_result(setup, rt, scheduler, state, {}, {}, interrupted=True))
        cost = time.perf_counter() - started
        await anyio.to_thread.run_sync(reports.write_checkpoint, text)
    except OSError as exc:
        stop.failed("report", Path(exc.filename or setup.run_dir / REPORT_FILE), exc)
        return None
    return cost


async def _run_steps(
    scheduler: Scheduler,
    rt: Runtime,
    state: RunState,
    view: StepsView,
    context: dict[str, Any],
    setup: RunSetup,
) -> bool:
    """Run every step; True when a signal interrupted the run."""
    run = partial(_run_until_limit, scheduler, rt, state.steps, view, context)
    if not setup.handle_signals:
        await run()
        return False
    signals: list[int] = []
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as run_scope:
            tg.start_soon(_watch_signals, run_scope, signals, rt.sink.flush)
            await run()
        tg.cancel_scope.cancel()  # the signal watcher
    return bool(signals)


async def _run_until_limit(
    scheduler: Scheduler,
    rt: Runtime,
    records: dict[str, StepRecord],
    view: StepsView,
    context: dict[str, Any],
) -> None:
    max_duration = rt.workflow.limits.max_duration
    with anyio.move_on_after(max_duration) as timer:
        await scheduler.run(records, view, context)
    if timer.cancelled_caught:
        assert max_duration is not None
        rt.stop_reason = f"limits.max_duration {max_duration:g}s was reached"


async def _watch_signals(
    run_scope: anyio.CancelScope, received: list[int], flush_journal: Callable[[], None]
) -> None:
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for signum in signals:
            received.append(signum)
            run_scope.cancel()  # first: a step's call sees the cancel, not its server's end
            if "agnoctl.tools.mcp" in sys.modules:  # a run that may have started MCP servers
                from agnoctl.tools.mcp import interrupt_servers

                interrupt_servers()
            break
    # The partial report is being written; a second signal means "stop now".
    exit_now = partial(_exit_now, flush_journal)
    for signum in STOP_SIGNALS:
        signal.signal(signum, exit_now)


def _exit_now(flush_journal: Callable[[], None], signum: int, frame: FrameType | None) -> None:
    from agnoctl.tools.command import kill_running

    kill_running()  # no orphans, even now
    if "agnoctl.tools.mcp" in sys.modules:  # a run that started MCP servers
        from agnoctl.tools.mcp import kill_servers

        kill_servers()
    flush_journal()  # the events of this turn of the loop: what finished is not done again
    os._exit(ExitCode.INTERRUPTED)


def _masking(redactor: Redactor) -> Callable[[Entry], Entry] | None:
    """What the listeners are told of an entry that may hold a secret: the entry masked,
    once for them all (in CI a secret-looking variable is always set)."""
    if not redactor:
        return None

    def masked(entry: Entry) -> Entry:
        return entry.masked(redactor.redact_obj)

    return masked


# ---------------------------------------------------------------------------- the verdict


def _result(
    setup: RunSetup,
    rt: Runtime,
    scheduler: Scheduler,
    state: RunState,
    outputs: dict[str, Any],
    output_errors: dict[str, str],
    interrupted: bool,
) -> RunResult:
    records = state.steps
    succeeded, counted = scheduler.count(records.values())
    status, reason = _verdict(rt, records, succeeded, counted, output_errors)
    # A run that met its success_threshold with a decision pending has not finished: the
    # steps behind the approval have not run, and exit 0 would tell CI it is done.
    if scheduler.approvals.waiting:
        status, reason = _waiting(rt, records, scheduler) or (status, reason)
    if interrupted:
        finished = sum(1 for r in records.values() if r.reason != "cancelled")
        status = "interrupted"
        reason = f"{finished} of {len(records)} steps finished, the rest cancelled"
    return RunResult(
        setup=setup,
        records=records,
        settings=rt.settings,
        count=scheduler.count,
        status=status,
        reason=reason,
        exit_code=_EXIT_CODES.get(status, ExitCode.INTERRUPTED),
        interrupted=interrupted,
        succeeded=succeeded,
        counted=counted,
        started=state.started,
        finished=time.time(),
        reused=rt.reuse.reused,
        outputs=outputs,
        output_errors=output_errors,
        cost=rt.ledger.as_dict(),
        limits={
            # Rounded as the cost report is: sums of prices leave float residue (1.5999...).
            name: {"limit": usage["limit"], "used": round(usage["used"], 6)}
            for name, usage in rt.budget.usage().items()
        },
        throttling=rt.providers.throttling(),
        approvals=list(scheduler.approvals.audit),
    )


_EXIT_CODES = {"passed": ExitCode.PASSED, "failed": ExitCode.FAILED, "waiting": ExitCode.WAITING}


def _waiting(
    rt: Runtime, records: Mapping[str, StepRecord], scheduler: Scheduler
) -> tuple[str, str] | None:
    """`waiting` when nothing but approvals keeps the run from passing: the verdict of
    the steps that do not wait on one (the outputs may read a step not run yet, so their
    errors do not count now); None when the run fails anyway."""
    others = {sid: r for sid, r in records.items() if not _waits(r)}
    succeeded, counted = scheduler.count(others.values())
    status, _ = _verdict(rt, others, succeeded, counted, {})
    if status != "passed":
        return None
    held = sum(1 for r in records.values() if r.reason == "waiting")
    steps = ", ".join(scheduler.approvals.waiting)
    return "waiting", (
        f"waiting for approval: {steps} ({held} step(s) wait for the decision; "
        f"{succeeded} of {counted} other steps succeeded)"
    )


def _waits(record: StepRecord) -> bool:
    return record.status == "waiting" or record.reason == "waiting"


def _verdict(
    rt: Runtime,
    records: Mapping[str, StepRecord],
    succeeded: int,
    counted: int,
    output_errors: dict[str, str],
) -> tuple[str, str]:
    threshold = rt.workflow.success_threshold
    counted_failures = [
        r
        for r in records.values()
        if r.status != "succeeded"
        and not (r.status == "skipped" and r.reason == "condition")
        and not (r.status == "failed" and rt.settings(r.spec).continue_on_error)
    ]
    gate_failures = [r for r in counted_failures if r.error_kind == "gate_failed"]
    stop = rt.stop_message()
    shares = f"{succeeded} of {counted} steps succeeded ({share_text(succeeded, counted)})"
    if stop is not None:
        return "failed", f"a limit stopped the run: {stop}"
    if not meets(succeeded, counted, threshold):
        names = ", ".join(f"{r.path} ({r.reason or r.status})" for r in counted_failures[:5])
        return (
            "failed",
            f"{shares}, below the success_threshold {threshold:g}; not succeeded: {names}",
        )
    if gate_failures:
        return "failed", f"step {gate_failures[0].path} failed its gates: {gate_failures[0].error}"
    if output_errors:
        return "failed", "; ".join(output_errors.values())
    skipped = sum(1 for r in records.values() if r.reason == "condition")
    tolerated = sum(
        1
        for r in records.values()
        if r.status == "failed" and rt.settings(r.spec).continue_on_error
    )
    # Say why the share counts fewer steps than the workflow has.
    note = f"; {skipped} skipped by their condition" if skipped else ""
    if tolerated:
        note += f"; {tolerated} failed under continue_on_error, not counted"
    return "passed", f"{shares}{note}"
