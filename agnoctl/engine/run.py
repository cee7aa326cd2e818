"""Run a workflow from start to report: the library's entry point (``agnoctl.run_workflow``).

Everything that can be wrong with the command line (inputs, the fixtures file) is checked
before the run directory exists. Then the steps run under the scheduler, inside one cancel
scope that SIGINT/SIGTERM/SIGHUP (``handle_signals``) and ``limits.max_duration`` cancel;
whatever did not finish is ``skipped: cancelled`` (or ``budget`` when a limit stopped it), and
the report is written all the same. A second signal while the partial report is written exits
at once.

A write to the run directory that fails (the journal, a checkpoint, a report file: a full
disk) stops the run at once with ``RunDirUnwritable``: going on would do work that no file
records. What was written stays valid, and ``--resume`` carries on once there is room. The
final report.json is written before the journal records ``run_finished``, so a journal that
records the end always has its report.json beside it; the other report files are made from
it (``--resume`` makes them again if a kill came first).

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
import errno
import gc
import json
import os
import random
import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar

import anyio

from agnoctl.cache import DEFAULT_CACHE_DIR, CacheMode, ResponseCache, check_cache
from agnoctl.engine.budget import NOTHING_SPENT, Budget
from agnoctl.engine.context import StepsView, base_context
from agnoctl.engine.inputs import resolve_inputs
from agnoctl.engine.report import step_data, when
from agnoctl.engine.resume import (
    PreviousRun,
    ReusePlan,
    RunLock,
    prepare_resume,
    repair_journal,
)
from agnoctl.engine.runtime import Providers, Runtime
from agnoctl.engine.scheduler import Scheduler
from agnoctl.engine.shares import meets, share, share_text
from agnoctl.engine.state import RunState, SkipReason, StepRecord, new_records
from agnoctl.errors import RunDirUnwritable, UsageError
from agnoctl.events import Event, EventSink
from agnoctl.notify import notify_run
from agnoctl.providers.base import Provider
from agnoctl.redact import Redactor, masking
from agnoctl.reports.model import RunReport
from agnoctl.reports.writer import (
    REPORT_FILE,
    RUNS_DIR,
    atomic_write,
    new_run_id,
    remove_temporaries,
    update_latest,
    write_derived_files,
    write_report_json,
)
from agnoctl.spec.dag import find_step, iter_steps
from agnoctl.spec.models import Tags, Workflow
from agnoctl.spec.templates import TemplateError, compile_expression, evaluate, render

EXIT_PASSED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
CHECKPOINT_INTERVAL = 1.0  # seconds between report.json checkpoints while a run goes on
# ... or this many times what the last one took to build: a checkpoint stops the steps while
# it is built, and this keeps that under 2% of the run's time.
CHECKPOINT_COST_FACTOR = 50
# Ctrl-C, a CI job's cancel, and a closed terminal or SSH session: each ends the run with its
# report (exit 130), never with only the last checkpoint.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{-?(?P<expr>.*?)-?\}\}\s*$", re.DOTALL)


class RunObserver(Protocol):
    """Watches a run (the terminal): its live state, each event, the final report."""

    def run_started(self, state: RunState) -> None: ...

    def event(self, event: Event) -> None: ...

    def run_finished(self, report: RunReport, run_dir: Path) -> None: ...


@dataclass
class RunOptions:
    """How to run a workflow; every field has the command line's default but `cache_mode`.

    Every path (``inputs_file``, ``mock_fixtures``, ``report_dir``, ``runs_dir``,
    ``cache_dir``, and ``resume`` when it names a run directory) may be given as a str.
    """

    inputs: Mapping[str, Any] = field(default_factory=dict)
    """Input values by name (typed as declared)."""
    input_pairs: Sequence[str] = ()
    """`key=value` texts, typed by the inputs declaration (`-i`)."""
    inputs_file: Path | None = None
    mock: bool = False
    """Route every agent to the mock provider."""
    mock_fixtures: Path | None = None
    report_dir: Path | None = None
    """The run directory; default `.agnoctl/runs/<run-id>/`."""
    runs_dir: Path = RUNS_DIR
    seed: int | None = None
    """Seed of the run's random source (retry jitter)."""
    handle_signals: bool = False
    """Cancel the run on SIGINT/SIGTERM/SIGHUP and still write the report (main thread only)."""
    observer: RunObserver | None = None
    listeners: Sequence[Callable[[Event], None]] = ()
    """More event listeners (e.g. ``agnoctl.logs.log_event``); they see redacted events."""
    providers: Mapping[str, Provider] = field(default_factory=dict)
    """Ready-made providers by name, used instead of building them (tests, custom servers)."""
    resume: str | os.PathLike[str] | None = None
    """Resume this run (`latest`, a run id or a run directory) in its own directory."""
    cache_mode: CacheMode = "off"
    """use: read and fill the response cache (the command line's default); off (`--no-cache`,
    and this API's default, so that library callers and tests opt in); only: `--cache-only`."""
    cache_dir: Path = DEFAULT_CACHE_DIR

    def __post_init__(self) -> None:
        # Library callers write paths as text (`report_dir="runs/x"`) as often as Paths.
        for name in _PATH_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, Path(value))


_PATH_FIELDS = ("inputs_file", "mock_fixtures", "report_dir", "runs_dir", "cache_dir")


@dataclass
class _Prepared:
    workflow: Workflow
    file: Path
    options: RunOptions
    inputs: dict[str, Any]
    redactor: Redactor
    run_id: str
    run_dir: Path
    fixtures: Any
    previous: PreviousRun | None = None  # the run being resumed
    note: str | None = None  # said in the run_started event (`--resume latest`, nothing to resume)


def run_workflow(
    path: str | os.PathLike[str], options: RunOptions | None = None, **fields: Any
) -> RunReport:
    """Run the workflow at ``path``; returns its report (also written to the run directory).

    Raises ``SpecInvalid`` for an invalid workflow and ``UsageError`` for bad inputs or
    fixtures, before anything runs, and ``RunDirUnwritable`` when a file of the run directory
    could not be written (a full disk: the run stopped there, resumable). Keyword arguments
    are ``RunOptions`` fields. It runs its own event loop: inside a running one,
    ``await arun_workflow(...)`` instead.
    """
    _refuse_inside_a_loop()
    prepared = _load(path, options or RunOptions(**fields))
    reports: list[RunReport] = []
    with _signals_restored(prepared.options), RunLock.held(prepared.run_dir):
        # The report leaves through a list, not as the main task's result: asyncio's runner
        # looks up the SIGINT handler at exit, and that look-up reprs the finished main task,
        # its result included (a 10,000-step report takes a second to repr).
        anyio.run(_execute, prepared, reports.append)
    return reports[0]


async def arun_workflow(
    path: str | os.PathLike[str], options: RunOptions | None = None, **fields: Any
) -> RunReport:
    """``run_workflow`` for a caller inside an event loop (asyncio or trio): the run is a task
    of the caller's loop. The workflow is read and checked in a worker thread, so the loop
    goes on meanwhile."""
    prepared = await anyio.to_thread.run_sync(_load, path, options or RunOptions(**fields))
    reports: list[RunReport] = []
    with _signals_restored(prepared.options), RunLock.held(prepared.run_dir):
        await _execute(prepared, reports.append)
    return reports[0]


def _refuse_inside_a_loop() -> None:
    """Say what to do before anything is written: anyio.run refuses a running loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UsageError(
        "run_workflow was called inside a running event loop, which cannot run a second "
        "one; there, use `await agnoctl.arun_workflow(...)` (same arguments)"
    )


def _load(path: str | os.PathLike[str], options: RunOptions) -> _Prepared:
    from agnoctl.spec.validate import load_workflow

    file = Path(path)
    # --mock and --cache-only send no request: an unset provider key variable is no error.
    workflow = load_workflow(file, offline=options.mock or options.cache_mode == "only")
    return _prepare(workflow, file, options)


@contextlib.contextmanager
def _signals_restored(options: RunOptions) -> Iterator[None]:
    """The caller's handlers of the stop signals, back after a run that handled them."""
    saved = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        if options.handle_signals:
            for signum, handler in saved.items():
                signal.signal(signum, handler)


def _prepare(workflow: Workflow, file: Path, options: RunOptions) -> _Prepared:
    resumed, note = None, None
    redactor = _redactor(workflow)
    if options.resume is not None:
        resumed = prepare_resume(
            os.fspath(options.resume),
            options.runs_dir,
            workflow,
            options.input_pairs,
            options.inputs_file,
            options.inputs,
            mock=options.mock,
            redact=redactor.redact,
        )
        if resumed is None:
            note = (
                f"no earlier run of workflow {workflow.name!r} in {options.runs_dir} to "
                "resume: this is a new run"
            )
    previous = None
    if resumed is not None:
        previous, inputs = resumed
        note = previous.note()
    else:
        inputs = resolve_inputs(
            workflow.inputs, options.input_pairs, options.inputs_file, options.inputs
        )
    fixtures = None
    if options.mock_fixtures is not None:
        if not options.mock:
            _check_scripted(workflow)
        from agnoctl.providers.fixtures import load_fixtures

        fixtures = load_fixtures(options.mock_fixtures)
        problems = fixtures.unknown_steps({node.path for node in iter_steps(workflow)})
        if problems:
            raise UsageError("; ".join(problems))
    if previous is not None:  # a resumed run continues in its own directory
        run_id, run_dir = previous.run_id, previous.run_dir
    else:
        run_id = new_run_id()
        run_dir = options.report_dir or options.runs_dir / run_id
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UsageError(
                f"the report directory {run_dir} is not empty: choose another one, or carry on "
                f"the run it holds with `--resume {run_dir}` (without --report-dir)"
            )
    cache_note = check_cache(options.cache_dir, options.cache_mode)
    if cache_note is not None:  # a damaged cache: this run goes without it
        options = replace(options, cache_mode="off")
        note = cache_note if note is None else f"{note}; {cache_note}"
    return _Prepared(
        workflow,
        file,
        options,
        inputs,
        redactor,
        run_id,
        run_dir,
        fixtures,
        previous,
        note,
    )


def _check_scripted(workflow: Workflow) -> None:
    """Fixtures script the mock provider only: without `mock`, an agent on a real provider
    would ignore them and call (and bill) that provider instead."""
    for name, agent in workflow.agents.items():
        for reference in [agent.model, *agent.fallback_models]:
            provider = reference.partition("/")[0]
            spec = workflow.providers.get(provider)
            if (spec.type if spec is not None else provider) != "mock":
                raise UsageError(
                    f"--mock-fixtures scripts the mock provider only, but agent {name!r} calls "
                    f"{reference}: add --mock to send every agent to the mock provider"
                )


def _redactor(workflow: Workflow) -> Redactor:
    from agnoctl.providers.registry import secrets

    found = [s for name, spec in workflow.providers.items() for s in secrets(name, spec)]
    return Redactor.from_environment(extra=found)


async def _execute(prep: _Prepared, done: Callable[[RunReport], None]) -> None:
    restore = _collect_less()
    try:
        with masking(prep.redactor):  # what the run cuts short is masked before the cut
            await _run(prep, done)
    finally:
        restore()


async def _run(prep: _Prepared, done: Callable[[RunReport], None]) -> None:
    workflow, options = prep.workflow, prep.options
    observer = options.observer
    plain = [*options.listeners, *([observer.event] if observer is not None else [])]
    listeners = tuple(_redacted(prep.redactor, listener) for listener in plain)
    prep.run_dir.mkdir(parents=True, exist_ok=True)
    if options.report_dir is None and prep.previous is None:
        update_latest(options.runs_dir, prep.run_id)
    journal = prep.run_dir / "events.jsonl"
    if prep.previous is not None:
        remove_temporaries(prep.run_dir)  # what a killed segment was writing
        repair_journal(journal)
    stop = _WriteFailure(prep)
    sink = EventSink(
        journal,
        prep.run_id,
        redact=prep.redactor.redact if prep.redactor else None,
        listeners=listeners,
        last_seq=prep.previous.last_seq if prep.previous is not None else 0,
        on_error=partial(stop.failed, "journal", journal),
    )
    records = new_records(workflow.steps)
    state = RunState(
        prep.run_id, workflow.name, prep.run_dir, time.time(), records, mock=options.mock
    )
    providers = Providers(
        workflow,
        mock=options.mock,
        offline=options.cache_mode == "only",
        fixtures=prep.fixtures,
        on_breaker_change=lambda name, old, new: sink.emit(
            "breaker_state", provider=name, old=old, new=new
        ),
        emit=sink.emit,
        max_connections=workflow.limits.max_concurrency or 100,
        overrides=options.providers,
    )
    budget = Budget(
        workflow.limits,
        on_warning=lambda limit, used, value: sink.emit(
            "budget_warning", limit=limit, used=round(used, 6), value=value
        ),
        # The limits are the run's: what its earlier segments used counts (--resume).
        spent=prep.previous.spent() if prep.previous is not None else NOTHING_SPENT,
    )
    rt = Runtime(
        workflow,
        run_id=prep.run_id,
        sink=sink,
        providers=providers,
        budget=budget,
        rng=random.Random(options.seed),
        workflow_dir=prep.file.resolve().parent,
        reuse=ReusePlan(workflow, prep.inputs, prep.previous, mock=options.mock),
        cache=(
            ResponseCache(options.cache_dir, redact=prep.redactor.redact)
            if options.cache_mode != "off"
            else None
        ),
        cache_mode=options.cache_mode,
    )
    if prep.previous is not None:
        _carry_costs(rt, prep.previous)
    if observer is not None:
        observer.run_started(state)
    sink.emit(
        "run_started" if prep.previous is None else "run_resumed",
        fingerprint=rt.reuse.fingerprints.run(prep.inputs),
        workflow=workflow.name,
        file=str(prep.file),
        inputs=prep.redactor.redact_obj(prep.inputs),
        mock=options.mock or None,
        seed=options.seed,
        note=prep.note,
    )
    view = StepsView()
    context = base_context(
        inputs=prep.inputs,
        env=workflow.env,
        run_id=prep.run_id,
        workflow_name=workflow.name,
        workflow_dir=str(rt.workflow_dir),
        steps=view,
    )
    scheduler = Scheduler(rt)
    spared = _spare_what_lasts()
    try:
        with stop.scope:
            async with anyio.create_task_group() as checkpoints:
                await checkpoints.start(_checkpoints, prep, rt, scheduler, state, stop)
                if providers.needs_http():
                    await checkpoints.start(providers.set_up)
                interrupted = await _run_steps(scheduler, rt, records, view, context, options)
                checkpoints.cancel_scope.cancel()
        stop.check()
        unfinished: SkipReason = "cancelled" if interrupted else "budget"
        for record in records.values():
            if not record.done:
                scheduler.skip(record, unfinished, None)
        outputs, output_errors = render_outputs(workflow.outputs, context)
        report = _report(prep, rt, scheduler, state, outputs, output_errors, interrupted)
        # Masked before it leaves the engine (the terminal's table, annotations, the library
        # caller), not only when written: a command's stderr or a provider error can hold a key.
        report = _redacted_report(prep.redactor, report)
        sink.flush()  # the journal holds every task the final report says finished...
        stop.check()  # ...or the report stays the checkpoint
        dumped = stop.guard(write_report_json, prep.run_dir, report, prep.redactor.redact)
        sink.emit(
            "run_finished",
            status=report.status,
            reason=report.reason,
            exit_code=report.exit_code,
            duration_ms=report.duration_ms,
            cost=report.cost.total.cost_usd,
        )
    finally:
        spared()
        sink.close()
        if rt.cache is not None:
            rt.cache.close()
        with anyio.CancelScope(shield=True):
            await providers.aclose()
    stop.check()  # the journal's last write, or its fsync
    state.finished = time.time()
    stop.guard(
        write_derived_files, prep.run_dir, report, prep.redactor.redact, workflow, dumped=dumped
    )
    await notify_run(workflow, report, prep.run_dir, prep.redactor)
    if observer is not None:
        observer.run_finished(report, prep.run_dir)
    done(report)


class _WriteFailure:
    """The first write to the run directory that failed (a full disk, a quota): it cancels
    ``scope``, the run's steps, since work that no file records would be done again anyway.

    ``check`` raises it as RunDirUnwritable, whose message names the file and says how to go
    on; ``guard`` runs a write of report files and turns its OSError into one.
    """

    def __init__(self, prep: _Prepared) -> None:
        self.scope = anyio.CancelScope()
        self._prep = prep
        self._error: RunDirUnwritable | None = None

    def failed(self, what: str, path: Path, error: OSError) -> RunDirUnwritable:
        """Note a failed write of the ``what`` at ``path`` and stop the steps; returns the
        error ``check`` raises (the first failure's)."""
        if self._error is None:
            self._error = RunDirUnwritable(self._message(what, path, error))
            self._error.__cause__ = error
        self.scope.cancel()
        return self._error

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def guard(self, write: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return write(*args, **kwargs)
        except OSError as exc:
            raise self.failed("report", Path(exc.filename or self._prep.run_dir), exc) from exc

    def _message(self, what: str, path: Path, error: OSError) -> str:
        prep = self._prep
        # A run under --report-dir is not the runs directory's latest: name its directory.
        where = "latest" if prep.options.report_dir is None else str(prep.run_dir)
        remedy = "free space" if error.errno in _NO_ROOM else "fix that"
        return (
            f"cannot write the {what} {path}: {error.strerror or error}; {remedy} and run "
            f"`agnoctl run {prep.file} --resume {where}`"
        )


_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_T = TypeVar("_T")


def _carry_costs(rt: Runtime, previous: PreviousRun) -> None:
    """Put the answered calls of the run's earlier segments in its cost report."""
    from agnoctl.reports.metrics import step_of

    tags: dict[str, Tags | None] = {}
    for call in previous.answered:
        step = step_of(call.step)
        if step not in tags:
            spec = find_step(rt.workflow, step)
            tags[step] = rt.settings(spec).tags if spec is not None else None
        if call.cached:
            rt.ledger.add(step, call.agent, call.model, tags[step], calls=0, cache_hits=1)
        else:
            rt.ledger.add(
                step, call.agent, call.model, tags[step], call.tokens_in, call.tokens_out, call.cost
            )


def _collect_less() -> Callable[[], None]:
    """Collect the young generation less often for the whole run, its preparation included;
    returns what undoes it.

    A step leaves a few long-lived objects (its record, its output) and many short-lived
    ones; with the default threshold of 700 a young collection came every few dozen steps
    and traversed objects about to be freed anyway (2% of a step's instructions). Preparing
    the run (a record per step, the dump its fingerprint is made from) allocates as much, and
    there the collections it set off, the older generation's among them, rescanned the
    workflow just loaded: 3 % of a 600-step run's instructions.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _YOUNG_THRESHOLD), *thresholds[1:])
    return lambda: gc.set_threshold(*thresholds)


def _spare_what_lasts() -> Callable[[], None]:
    """Keep the cycle collector off what exists when the steps start; returns what undoes it.

    The workflow's models, the records of every step and the imported modules live as long
    as the run, and every full collection scanned them all again: a quarter of a 10,000-step
    run's time. Frozen objects are still freed by reference counting; ``gc.unfreeze`` hands
    them back to the collector when the run ends. An application that freezes objects itself
    (a pre-forking server) is left alone: unfreezing would undo its own freeze.
    """
    frozen = not gc.get_freeze_count()
    if frozen:
        gc.freeze()

    def undo() -> None:
        if frozen:
            gc.unfreeze()

    return undo


_YOUNG_THRESHOLD = 10_000


async def _checkpoints(
    prep: _Prepared,
    rt: Runtime,
    scheduler: Scheduler,
    state: RunState,
    stop: _WriteFailure,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Keep a valid report.json on disk while the run goes on, so a killed run leaves one.

    It says `interrupted` with what had finished: exactly what is true if the process dies
    before the final report replaces it. The first one is on disk before any step starts.
    Building one costs the steps' time, so the interval grows to ``CHECKPOINT_COST_FACTOR``
    times that, from one second up (the journal, which resume reads, is always current). The
    file is written (and fsynced, which takes milliseconds on a slow disk) in a worker thread
    while the steps go on; a cancellation waits for that write, so it can
    never land after the final report.
    """
    cost = await _write_checkpoint(prep, rt, scheduler, state, stop)
    task_status.started()
    while cost is not None:
        await anyio.sleep(max(CHECKPOINT_INTERVAL, CHECKPOINT_COST_FACTOR * cost))
        cost = await _write_checkpoint(prep, rt, scheduler, state, stop)


async def _write_checkpoint(
    prep: _Prepared, rt: Runtime, scheduler: Scheduler, state: RunState, stop: _WriteFailure
) -> float | None:
    """Write one checkpoint; the seconds its build took the event loop, or None when the
    write failed (and the run is being stopped)."""
    started = time.perf_counter()
    text = _checkpoint_text(prep, rt, scheduler, state)
    cost = time.perf_counter() - started
    path = prep.run_dir / REPORT_FILE
    try:
        await anyio.to_thread.run_sync(atomic_write, path, text)
    except OSError as exc:
        stop.failed("report", path, exc)
        return None
    return cost


def _checkpoint_text(prep: _Prepared, rt: Runtime, scheduler: Scheduler, state: RunState) -> str:
    # A function of its own, so that the report is not kept alive while the loop sleeps.
    report = _report(prep, rt, scheduler, state, {}, {}, interrupted=True)
    reason = (
        f"the run has not finished (running, or killed); "
        f"`agnoctl run --resume {prep.run_id}` finishes it"
    )
    segments = report.segments
    this = segments[-1].model_copy(update={"reason": reason})
    checkpoint = report.model_copy(update={"reason": reason, "segments": [*segments[:-1], this]})
    return prep.redactor.redact(checkpoint.dumps())


async def _run_steps(
    scheduler: Scheduler,
    rt: Runtime,
    records: dict[str, StepRecord],
    view: StepsView,
    context: dict[str, Any],
    options: RunOptions,
) -> bool:
    """Run every step; True when a signal interrupted the run."""
    if not options.handle_signals:
        await _run_until_limit(scheduler, rt, records, view, context)
        return False
    signals: list[int] = []
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as run_scope:
            tg.start_soon(_watch_signals, run_scope, signals, rt.sink.flush)
            await _run_until_limit(scheduler, rt, records, view, context)
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
    with anyio.open_signal_receiver(*_STOP_SIGNALS) as signals:
        async for signum in signals:
            received.append(signum)
            run_scope.cancel()
            break
    # The partial report is being written; a second signal means "stop now".
    exit_now = partial(_exit_now, flush_journal)
    for signum in _STOP_SIGNALS:
        signal.signal(signum, exit_now)


def _exit_now(flush_journal: Callable[[], None], signum: int, frame: FrameType | None) -> None:
    from agnoctl.engine.command import kill_running

    kill_running()  # no orphans, even now
    flush_journal()  # the events of this turn of the loop: what finished is not done again
    os._exit(EXIT_INTERRUPTED)


def _redacted(redactor: Redactor, listener: Callable[[Event], None]) -> Callable[[Event], None]:
    if not redactor:
        return listener
    return lambda event: listener(redactor.redact_obj(event))


def _redacted_report(redactor: Redactor, report: RunReport) -> RunReport:
    if not redactor:
        return report
    text = report.dumps()
    masked = redactor.redact(text)
    # Reading a 10,000-step report back costs a second; only one that held a secret needs it.
    return report if masked == text else RunReport.model_validate_json(masked)


# ---------------------------------------------------------------------------- outputs


def render_outputs(
    outputs: Mapping[str, str], context: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, errors) of the workflow's outputs."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, source in outputs.items():
        try:
            values[name] = output_value(source, context)
        except TemplateError as exc:
            errors[name] = f"output {name}: {exc.message}"
    return values, errors


def output_value(source: str, context: Mapping[str, Any]) -> Any:
    """One expression keeps its value (JSON data, else its text); other templates render."""
    match = _SINGLE_EXPRESSION.match(source)
    expression = match.group("expr") if match else None
    if expression is not None and not any(t in expression for t in ("{{", "}}", "{%", "%}")):
        try:
            compile_expression(expression)
        except TemplateError:
            return render(source, context)
        return _plain(evaluate(expression, context))
    return render(source, context)


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


# ---------------------------------------------------------------------------- the verdict


def _report(
    prep: _Prepared,
    rt: Runtime,
    scheduler: Scheduler,
    state: RunState,
    outputs: dict[str, Any],
    output_errors: dict[str, str],
    interrupted: bool,
) -> RunReport:
    workflow = prep.workflow
    records = state.steps
    succeeded, counted = scheduler.count(records.values())
    status, reason = _verdict(rt, scheduler, records, succeeded, counted, output_errors)
    if interrupted:
        finished = sum(1 for r in records.values() if r.reason != "cancelled")
        status = "interrupted"
        reason = f"{finished} of {len(records)} steps finished, the rest cancelled"
    exit_code = {"passed": EXIT_PASSED, "failed": EXIT_FAILED}.get(status, EXIT_INTERRUPTED)
    cost = rt.ledger.as_dict()
    finished_at = time.time()
    # Plain data, validated in one pass (agnoctl.engine.report says why).
    return RunReport.model_validate(
        {
            "run_id": prep.run_id,
            "workflow": {"name": workflow.name, "file": str(prep.file)},
            "status": status,
            "reason": reason,
            "exit_code": exit_code,
            "interrupted": interrupted,
            "started": when(state.started),
            "finished": when(finished_at),
            "duration_ms": round((finished_at - state.started) * 1000, 3),
            "inputs": prep.redactor.redact_obj(prep.inputs),
            "mock": prep.options.mock,
            "seed": prep.options.seed,
            "resumed": prep.previous is not None,
            "reused": rt.reuse.reused,
            "success_threshold": workflow.success_threshold,
            "succeeded": succeeded,
            "total": counted,
            "share": share(succeeded, counted),
            "steps": {
                sid: step_data(record, rt.settings, scheduler.count)
                for sid, record in records.items()
            },
            "outputs": outputs,
            "output_errors": output_errors,
            "cost": cost,
            "limits": {
                # Rounded as the cost report is: sums of prices leave float residue (1.5999...).
                name: {"limit": usage["limit"], "used": round(usage["used"], 6)}
                for name, usage in rt.budget.usage().items()
            },
            "throttling": rt.providers.throttling(),
            "segments": _segments(
                prep, rt, cost["total"], state.started, finished_at, status, reason
            ),
        }
    )


def _segments(
    prep: _Prepared,
    rt: Runtime,
    total: Mapping[str, Any],
    started: float,
    finished: float,
    status: str,
    reason: str,
) -> list[dict[str, Any]]:
    """The run's segments: the earlier ones from the journal, then this one, whose usage is
    the run's ``total`` (the cost report's) less theirs."""
    earlier = prep.previous.segments if prep.previous is not None else []
    cost = total["cost_usd"] - sum(segment.cost for segment in earlier)
    return [
        *(
            {
                "started": segment.started,
                "finished": segment.finished or segment.started,
                "resumed": segment.resumed,
                "status": segment.status or "killed",
                "reason": segment.reason or _KILLED,
                "calls": segment.calls,
                "tokens": segment.tokens,
                "cost_usd": round(segment.cost, 6),
                "reused": segment.reused,
            }
            for segment in earlier
        ),
        {
            "started": when(started),
            "finished": when(finished),
            "resumed": prep.previous is not None,
            "status": status,
            "reason": reason,
            "calls": total["calls"] - sum(segment.calls for segment in earlier),
            "tokens": total["tokens"] - sum(segment.tokens for segment in earlier),
            "cost_usd": max(0.0, round(cost, 6)),  # no -0.0 from the float residue
            "reused": rt.reuse.reused,
        },
    ]


_KILLED = "the process ended before the segment's report was written (killed)"


def _verdict(
    rt: Runtime,
    scheduler: Scheduler,
    records: dict[str, StepRecord],
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
