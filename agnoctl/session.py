"""Run a workflow from its file to its reports: the library's entry point
(``agnoctl.run_workflow``, ``agnoctl.arun_workflow``).

A session is four stages, each in its layer:

1. **prepare** (here): load and check the workflow, the inputs and the fixtures, pick the run
   directory (or the run ``--resume`` names) before anything is written; then, under the run
   directory's lock, point ``latest`` at it and clear what a killed process left there;
2. **the engine** (``agnoctl.engine.run.execute``): the steps, the journal, and the verdict;
   report.json is built here, from what it returns, and written when it says;
3. **the reports** (``agnoctl.reports``): junit.xml, summary.md, outputs/, report.html and
   metrics.prom, made from report.json;
4. **notify**: the GitHub job summary and the webhooks, once per finished segment.

A run whose journal recorded its end, and whose workflow and inputs did not change since, has
no work left: ``--resume`` of it makes again the report files a kill or a full disk kept from
being written (and tells the world what it had not been told), and raises ``NothingToResume``
with the run's exit code. A run that passed with nothing lost just says "nothing to resume".
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio

from agnoctl.cache import DEFAULT_CACHE_DIR, CacheMode, check_cache
from agnoctl.engine.approval import ApprovalOptions, check_decisions
from agnoctl.engine.resume import PreviousRun, Resumption, final_report, prepare_resume
from agnoctl.engine.run import STOP_SIGNALS, RunResult, RunSetup, execute
from agnoctl.engine.rundir import (
    JOURNAL,
    LATEST,
    LOCK_FILE,
    REPORT_FILE,
    RUNS_DIR,
    RunLock,
    atomic_write,
    latest_run,
    new_run_id,
    refuse_links,
    remove_temporaries,
    repair_journal,
    unwritable,
    update_latest,
)
from agnoctl.engine.state import ItemRecord, RunState, StepRecord
from agnoctl.errors import ExitCode, NothingToResume, UsageError
from agnoctl.events import Entry, Listener
from agnoctl.log_config import get_logger
from agnoctl.printable import one_line
from agnoctl.providers.base import Provider
from agnoctl.redact import SECRET_NAME, Redactor, masking
from agnoctl.reports.build import checkpoint_text, item_fields, report_and_text
from agnoctl.reports.items import ItemsFile
from agnoctl.reports.metrics import JournalTally
from agnoctl.reports.model import RunReport
from agnoctl.reports.writer import (
    PUBLICATIONS,
    Publication,
    append_github_summary,
    mark_published,
    published,
    stale_files,
    write_derived_files,
    write_report_json,
)
from agnoctl.spec.inputs import resolve_inputs
from agnoctl.spec.models import JudgeGate, Workflow
from agnoctl.spec.uses import every_workflow, run_providers, run_steps

if TYPE_CHECKING:
    from agnoctl.engine.ray_executor import RayOptions


class RunObserver(Protocol):
    """Watches a run (the terminal): its live state, each event, the final report."""

    def run_started(self, state: RunState) -> None: ...

    def event(self, entry: Entry) -> None: ...

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
    listeners: Sequence[Listener] = ()
    """More event listeners (e.g. ``agnoctl.logs.log_event``); they see redacted events."""
    providers: Mapping[str, Provider] = field(default_factory=dict)
    """Ready-made providers by name, used instead of building them (tests, custom servers)."""
    resume: str | os.PathLike[str] | None = None
    """Resume this run (`latest`, a run id or a run directory) in its own directory."""
    cache_mode: CacheMode = "off"
    """use: read and fill the response cache (the command line's default); off (`--no-cache`,
    and this API's default, so that library callers and tests opt in); only: `--cache-only`."""
    cache_dir: Path = DEFAULT_CACHE_DIR
    approvals: ApprovalOptions = field(default_factory=ApprovalOptions)
    """How approval steps are decided: `--approve`/`--reject` by step id, and who asks at a
    terminal (none: an undecided approval leaves the run `waiting`)."""
    on_text: Callable[[str, int | None, str], None] | None = None
    """Told each piece of a streamed reply's text as it arrives (task path, item index,
    text), unredacted (the run's redactor is ``agnoctl.redact.active()`` where it is called);
    None: nobody shows text, and no reply does any work for it."""
    executor: Literal["local", "ray"] = "local"
    """Where command steps and command tools run their programs: here, or as tasks of a Ray
    cluster (`--executor ray`, the `ray` extra; docs/ray.md)."""
    ray_address: str | None = None
    """The Ray cluster's address (`--ray-address`); unset: `RAY_ADDRESS`, else a cluster of
    this machine started for the run. Only with ``executor="ray"``."""
    ray_agents: bool = False
    """Every agent step's model calls as Ray tasks too (`--ray-agents`), not only those of
    steps with `resources:`. Only with ``executor="ray"``."""

    def __post_init__(self) -> None:
        # Library callers write paths as text (`report_dir="runs/x"`) as often as Paths.
        for name in _PATH_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, Path(value))


_PATH_FIELDS = ("inputs_file", "mock_fixtures", "report_dir", "runs_dir", "cache_dir")


@dataclass(frozen=True)
class _Repair:
    """A run whose journal recorded its end, nothing changed since: no work is left, but
    report files, the job summary or the webhooks may be (``stale``, ``owed``)."""

    previous: PreviousRun
    report: RunReport | None  # its final report.json; None when nothing is to be made from it
    stale: list[str]
    owed: set[Publication]
    workflow: Workflow
    file: Path
    redactor: Redactor
    resume: str  # how the run was named to --resume it

    @property
    def run_dir(self) -> Path:
        return self.previous.run_dir


_Prepared = RunSetup | _Repair


def run_workflow(
    path: str | os.PathLike[str], options: RunOptions | None = None, **fields: Any
) -> RunReport:
    """Run the workflow at ``path``; returns its report (also written to the run directory).

    Raises ``SpecInvalid`` for an invalid workflow and ``UsageError`` for bad inputs or
    fixtures, before anything runs, and ``RunDirUnwritable`` when a file of the run directory
    could not be written (a full disk: the run stopped there, resumable). ``NothingToResume``
    says that the run ``resume`` names has no work left (its lost reports made again, if
    any). Keyword arguments are ``RunOptions`` fields. It runs its own event loop: inside a
    running one, ``await arun_workflow(...)`` instead.
    """
    _refuse_inside_a_loop()
    options = options or RunOptions(**fields)
    prepared = _load(path, options)
    reports: list[RunReport] = []
    with _signals_restored(options), _held(prepared, options):
        # The report leaves through a list, not as the main task's result: asyncio's runner
        # looks up the SIGINT handler at exit, and that look-up reprs the finished main task,
        # its result included (a 10,000-step report takes a second to repr).
        anyio.run(_session, prepared, options, reports.append)
    return reports[0]


async def arun_workflow(
    path: str | os.PathLike[str], options: RunOptions | None = None, **fields: Any
) -> RunReport:
    """``run_workflow`` for a caller inside an event loop (asyncio or trio): the run is a task
    of the caller's loop. The workflow is read and checked in a worker thread, so the loop
    goes on meanwhile."""
    options = options or RunOptions(**fields)
    prepared = await anyio.to_thread.run_sync(_load, path, options)
    reports: list[RunReport] = []
    with _signals_restored(options), _held(prepared, options):
        await _session(prepared, options, reports.append)
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


@contextlib.contextmanager
def _signals_restored(options: RunOptions) -> Iterator[None]:
    """The caller's handlers of the stop signals, back after a run that handled them."""
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        if options.handle_signals:
            for signum, handler in saved.items():
                signal.signal(signum, handler)


@contextlib.contextmanager
def _held(prepared: _Prepared, options: RunOptions) -> Iterator[None]:
    """The run directory, locked for the session.

    A new run that ends before its journal records anything (the Ray cluster refused its
    address, or a local one did not start) never started: it has nothing to keep, so nothing
    of it is kept, neither its directory nor ``latest`` pointing at it. ``--resume latest``,
    `runs list` and `report show` then see the runs before it, not an empty run."""
    before = latest_run(options.runs_dir)
    lock = RunLock.acquire(prepared.run_dir)
    if lock.left_by is not None:
        # The last writer was killed (SIGKILL, the OOM killer): the programs it was running
        # run on, re-parented, and the steps they belong to are about to run again.
        from agnoctl.tools.command import end_left_behind

        end_left_behind(lock.left_by)
    try:
        yield
    except BaseException:
        lock.release()  # the lock file goes first: the directory must hold nothing else
        if isinstance(prepared, RunSetup) and _never_started(prepared):
            _withdraw(prepared, options, before)
        raise
    finally:
        lock.release()


def _never_started(setup: RunSetup) -> bool:
    """Whether ``setup`` is a new run whose directory holds only an empty journal."""
    journal = setup.run_dir / JOURNAL
    if setup.previous is not None:
        return False
    try:
        if any(p != journal for p in setup.run_dir.iterdir()):
            return False
    except FileNotFoundError:  # removed while the run went on: the error that stopped it says so
        return False
    return not journal.exists() or journal.stat().st_size == 0


def _withdraw(setup: RunSetup, options: RunOptions, before: Path | None) -> None:
    """Remove what a run that never started left: its empty journal; its directory, unless
    the caller named it (--report-dir); and ``latest``'s move to it, unless a run since moved
    it on."""
    (setup.run_dir / JOURNAL).unlink(missing_ok=True)
    if options.report_dir is not None:
        return
    setup.run_dir.rmdir()
    if latest_run(options.runs_dir) is None:  # it named this run, whose directory is gone
        if before is not None:
            update_latest(options.runs_dir, before.name)
        elif not (options.runs_dir / LATEST).is_dir():  # a directory: a copy (update_latest)
            (options.runs_dir / LATEST).unlink(missing_ok=True)


async def _session(
    prepared: _Prepared, options: RunOptions, done: Callable[[RunReport], None]
) -> None:
    # What the run cuts short is masked before the cut.
    with masking(prepared.redactor):
        if isinstance(prepared, _Repair):
            await _repair(prepared, _rehearsal(options))
        else:
            done(await _run(prepared, options))


# ---------------------------------------------------------------------------- prepare


def _load(path: str | os.PathLike[str], options: RunOptions) -> _Prepared:
    from agnoctl.spec.validate import load_workflow

    file = Path(path)
    _check_executor(options)
    if options.mock and options.cache_mode == "only":
        raise UsageError(
            "--mock answers every model call with the mock, whose replies are never cached, "
            "so --cache-only would replay none: drop --mock to replay the cache offline, or "
            "--cache-only to rehearse with the mock"
        )
    # --mock and --cache-only send no request: an unset provider key variable is no error.
    workflow = load_workflow(file, offline=options.mock or options.cache_mode == "only")
    return _prepare(workflow, file, options)


def _check_executor(options: RunOptions) -> None:
    """Refuse an executor setting that would be ignored, or Ray when it is not installed,
    before anything is written."""
    if options.executor not in ("local", "ray"):
        raise UsageError(f"unknown executor {options.executor!r}: use local or ray")
    if options.executor == "ray":
        from agnoctl.engine.ray_executor import RayOptions, check_ray

        check_ray(RayOptions(options.ray_address))
    elif options.ray_address is not None:
        raise UsageError("--ray-address names the cluster of --executor ray: add it, or drop it")
    elif options.ray_agents:
        raise UsageError(
            "--ray-agents sends agent steps' model calls to the cluster of --executor ray: "
            "add it, or drop it"
        )


def _ray(options: RunOptions) -> RayOptions | None:
    if options.executor != "ray":
        return None
    from agnoctl.engine.ray_executor import RayOptions

    return RayOptions(options.ray_address, agents=options.ray_agents)


def _prepare(workflow: Workflow, file: Path, options: RunOptions) -> _Prepared:
    check_decisions(workflow, options.approvals.decisions)
    redactor = _redactor(workflow)
    resumption, note = None, None
    if options.resume is not None:
        resumption = prepare_resume(
            os.fspath(options.resume),
            options.runs_dir,
            workflow,
            options.input_pairs,
            options.inputs_file,
            options.inputs,
            mock=options.mock,
        )
        if resumption is None:
            note = (
                f"no earlier run of workflow {workflow.name!r} in {options.runs_dir} to "
                "resume: this is a new run"
            )
    previous = None
    if resumption is not None:
        # A decision on the command line always wins, also over a run that ended: it is
        # decided again, and what depends on it runs again.
        if resumption.ended and not options.approvals.decisions:
            repair = _repair_of(resumption, workflow, file, redactor, options)
            if repair is not None:
                return repair
        previous, inputs = resumption.previous, resumption.inputs
        note = previous.note()
    else:
        inputs = resolve_inputs(
            workflow.inputs, options.input_pairs, options.inputs_file, options.inputs
        )
    fixtures = _fixtures(workflow, options)
    if previous is not None:  # a resumed run continues in its own directory
        run_id, run_dir = previous.run_id, previous.run_dir
    else:
        run_id = new_run_id()
        run_dir = options.report_dir or options.runs_dir / run_id
        _check_place(run_dir)
        # A lone lock file is what a run killed before its first event leaves: no run to
        # resume, so the directory is free (a live holder still refuses it, at the lock).
        if run_dir.exists() and any(entry.name != LOCK_FILE for entry in run_dir.iterdir()):
            raise UsageError(
                f"the report directory {run_dir} is not empty: choose another one, or carry on "
                f"the run it holds with `--resume {run_dir}` (without --report-dir)"
            )
    cache_mode = options.cache_mode
    cache_note = check_cache(options.cache_dir, cache_mode)
    if cache_note is not None:  # a damaged cache: this run goes without it
        cache_mode = "off"
        note = cache_note if note is None else f"{note}; {cache_note}"
    rehearsal = _rehearsal(options)
    if rehearsal is not None and _webhooks(workflow):
        held = f"{rehearsal} run: its webhooks (notify:) are not sent"
        note = held if note is None else f"{note}; {held}"
    observer = options.observer
    return RunSetup(
        workflow=workflow,
        file=file,
        inputs=inputs,
        redactor=redactor,
        run_id=run_id,
        run_dir=run_dir,
        # A run under --report-dir is not the runs directory's latest, nor perhaps one resumed
        # by name (a newer run may be): name its directory.
        resume_as=str(run_dir) if _named(options) else LATEST,
        mock=options.mock,
        seed=options.seed,
        handle_signals=options.handle_signals,
        on_started=observer.run_started if observer is not None else None,
        listeners=(*options.listeners, *([observer.event] if observer is not None else [])),
        providers=options.providers,
        cache_mode=cache_mode,
        cache_dir=options.cache_dir,
        fixtures=fixtures,
        previous=previous,
        note=note,
        approvals=options.approvals,
        on_text=options.on_text,
        ray=_ray(options),
    )


def _rehearsal(options: RunOptions) -> str | None:
    """The option that makes the run a rehearsal, which sends no request: a CI job that
    rehearses a workflow must not tell its on-call channel (its webhooks) anything."""
    if options.mock:
        return "--mock"
    return "--cache-only" if options.cache_mode == "only" else None


def _webhooks(workflow: Workflow) -> bool:
    notify = workflow.notify
    return notify is not None and any(
        (notify.on_failure, notify.on_success, notify.on_budget_warning, notify.on_approval)
    )


def _check_place(run_dir: Path) -> None:
    """The run directory, or the nearest folder above it that exists, must be a folder: a
    file in its place (`--report-dir report.json`) would fail the run's first write with a
    bare "Not a directory", as if the run had failed."""
    existing = next((place for place in (run_dir, *run_dir.parents) if place.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(
            f"the report directory {run_dir} cannot be made: {existing} is a file; "
            "choose another one"
        )


def _repair_of(
    resumption: Resumption, workflow: Workflow, file: Path, redactor: Redactor, options: RunOptions
) -> _Repair | None:
    """What a run whose journal recorded its end still lacks; None when the run is to be
    resumed instead: a failed run with nothing lost (its failures run again), or a run whose
    report.json is not its final report (one that passed is then resumed with every task
    reused, which makes it)."""
    previous = resumption.previous
    data = final_report(previous)
    passed = previous.status == "passed"
    if data is None:
        previous.report_lost = passed
        return None
    outputs = data.get("outputs")
    stale = stale_files(previous.run_dir, outputs if isinstance(outputs, Mapping) else {})
    owed = _owed(previous.run_dir, len(data["segments"]), stale)
    report = None
    if stale or owed:
        from pydantic import ValidationError

        try:
            report = RunReport.model_validate(data).located(previous.run_dir)
        except ValidationError:
            previous.report_lost = passed
            return None
    elif not passed:
        return None
    resume = os.fspath(options.resume) if options.resume is not None else "latest"
    return _Repair(previous, report, stale, owed, workflow, file, redactor, resume)


def _owed(run_dir: Path, segment: int, stale: list[str]) -> set[Publication]:
    """What the run's last segment has not told the world yet. Its record is written before
    the report files; without one, the segment was told everything unless its files are
    stale (a run from before the record existed, whose files were made and told at once)."""
    done = published(run_dir, segment)
    if done is None:
        return set(PUBLICATIONS) if stale else set()
    return set(PUBLICATIONS) - done


def _fixtures(workflow: Workflow, options: RunOptions) -> Any:
    if options.mock_fixtures is None:
        return None
    if not options.mock:
        _check_scripted(workflow)
    from agnoctl.providers.fixtures import load_fixtures

    fixtures = load_fixtures(options.mock_fixtures)
    steps = dict(run_steps(workflow))
    judged = {
        path
        for path, spec in steps.items()
        if any(isinstance(gate, JudgeGate) for gate in spec.gates or ())
    }
    agents = {name for each in every_workflow(workflow) for name in each.agents}
    problems = fixtures.unknown_names(set(steps), judged, agents)
    if problems:
        raise UsageError("; ".join(problems))
    return fixtures


def _check_scripted(workflow: Workflow) -> None:
    """Fixtures script the mock provider only: without `mock`, an agent on a real provider
    would ignore them and call (and bill) that provider instead; a sub-workflow's too."""
    providers = run_providers(workflow)
    for name, agent in (item for each in every_workflow(workflow) for item in each.agents.items()):
        for reference in [agent.model, *agent.fallback_models]:
            provider = reference.partition("/")[0]
            spec = providers.get(provider)
            if (spec.type if spec is not None else provider) != "mock":
                raise UsageError(
                    f"--mock-fixtures scripts the mock provider only, but agent {name!r} calls "
                    f"{reference}: add --mock to send every agent to the mock provider"
                )


def _redactor(workflow: Workflow) -> Redactor:
    from agnoctl.providers.registry import secrets

    found = [s for name, spec in workflow.providers.items() for s in secrets(name, spec)]
    found += mcp_secret_values(workflow)
    return Redactor.from_environment(extra=found)


def mcp_secret_values(workflow: Workflow) -> list[str]:
    """Every `headers:` value of the MCP tools of the run's files, and each `env` value named
    like a secret (GITHUB_TOKEN), as their cache keys hold them: credentials, masked."""
    return [
        value
        for each in every_workflow(workflow)
        for tool in each.tools.values()
        if tool.type == "mcp"
        for value in [
            *(tool.headers or {}).values(),
            *(value for name, value in (tool.env or {}).items() if SECRET_NAME.search(name)),
        ]
    ]


def _named(options: RunOptions) -> bool:
    """Whether the run is not found as `latest`: under --report-dir, or resumed by name."""
    resume = None if options.resume is None else os.fspath(options.resume)
    return options.report_dir is not None or resume not in (None, LATEST)


def _take_up(setup: RunSetup, options: RunOptions) -> None:
    """Make the run directory ready, under its lock: ``latest`` points at a new run; a
    resumed one loses what its killed segment was writing."""
    setup.run_dir.mkdir(parents=True, exist_ok=True)
    if options.report_dir is None and setup.previous is None:
        update_latest(options.runs_dir, setup.run_id)
    if setup.previous is not None:
        refuse_links(setup.run_dir)
        remove_temporaries(setup.run_dir)
        repair_journal(setup.run_dir / JOURNAL)


# ---------------------------------------------------------------------------- run


async def _run(setup: RunSetup, options: RunOptions) -> RunReport:
    _take_up(setup, options)
    files = _ReportJson(setup)
    # metrics.prom's share of the journal, tallied as the events are written: reading a big
    # fan-out's journal back took an eighth of its run.
    tally = JournalTally(setup.run_id)
    try:
        await execute(replace(setup, listeners=(*setup.listeners, tally.subscription())), files)
    finally:
        files.close()
    report, dumped = files.final()
    run_dir = setup.run_dir
    report.located(run_dir)
    try:
        mark_published(run_dir, len(report.segments), set())  # before the files: see _owed
        write_derived_files(
            run_dir, report, setup.redactor.redact, setup.workflow, dumped=dumped, tally=tally
        )
        await _tell(
            run_dir, setup.workflow, report, setup.redactor, set(PUBLICATIONS), _rehearsal(options)
        )
    except OSError as exc:
        path = Path(exc.filename or run_dir)
        raise unwritable("report", path, exc, setup.file, setup.resume_as) from exc
    if options.observer is not None:
        options.observer.run_finished(report, run_dir)
    return report


class _ReportJson:
    """report.json for the engine (``agnoctl.engine.run.ReportFiles``): a checkpoint while
    the run goes on, the final report at its end."""

    def __init__(self, setup: RunSetup) -> None:
        self._setup = setup
        self._final: tuple[RunReport, str] | None = None
        redact = setup.redactor.redact if setup.redactor else None
        self._items = ItemsFile(setup.run_dir, item_fields, redact)

    def checkpoint(self, result: RunResult) -> str:
        return checkpoint_text(result, self._items)

    def spill(self, step: StepRecord, item: ItemRecord) -> None:
        self._items(step, item)

    def write_checkpoint(self, text: str) -> None:
        atomic_write(self._setup.run_dir / REPORT_FILE, text)

    def write_final(self, result: RunResult) -> None:
        report, dumped = report_and_text(result, self._items)  # masked already
        write_report_json(self._setup.run_dir, report, dumped=dumped)
        self._final = report, dumped

    def close(self) -> None:
        """Close the items file of a run stopped before its final report (a full disk, a
        removed run directory), which the next --resume deletes."""
        self._items.close()

    def final(self) -> tuple[RunReport, str]:
        """The final report the engine had written, and its ``dumps()``."""
        assert self._final is not None, "the engine returns after the final report.json"
        return self._final


async def _tell(
    run_dir: Path,
    workflow: Workflow,
    report: RunReport,
    redactor: Redactor,
    owed: set[Publication],
    rehearsal: str | None,
) -> None:
    """Tell the world how the segment ``report`` ends went, as far as it is ``owed``: the
    GitHub job summary, then the webhooks (not those of a ``rehearsal``, which count as told).
    The summary is recorded as soon as it is appended, so that a kill while the webhooks go
    out does not append it twice."""
    segment = len(report.segments)
    done = published(run_dir, segment) or set()
    if "step_summary" in owed:
        try:
            appended = append_github_summary(run_dir)
        except OSError as exc:
            # The run's outcome stands, but its job page lacks the summary: say so, and leave
            # it owed, for a `--resume` to add.
            get_logger(run_id=report.run_id).warning(
                "step_summary_failed", path=exc.filename, error=exc.strerror or str(exc)
            )
        else:
            done.add("step_summary")
            if appended:
                mark_published(run_dir, segment, done)
    if "webhooks" in owed:
        # Most workflows notify nobody: no webhook code to load.
        if workflow.notify is not None and rehearsal is None:
            from agnoctl.reports.notify import notify_run

            await notify_run(workflow.notify, report, run_dir, redactor)
        done.add("webhooks")
    mark_published(run_dir, segment, done)


# ---------------------------------------------------------------------------- repair


async def _repair(repair: _Repair, rehearsal: str | None) -> None:
    """Make the lost report files of a run with no work left, tell the world what it was
    not told, clear what a killed writer left; raises NothingToResume saying what was done."""
    run_dir, report = repair.run_dir, repair.report
    refuse_links(run_dir)
    removed = remove_temporaries(run_dir)
    try:
        if report is not None:
            if repair.stale:
                write_derived_files(run_dir, report, repair.redactor.redact, repair.workflow)
            await _tell(run_dir, repair.workflow, report, repair.redactor, repair.owed, rehearsal)
    except OSError as exc:
        path = Path(exc.filename or run_dir)
        raise unwritable("report", path, exc, repair.file, repair.resume) from exc
    what = [f"made {', '.join(repair.stale)} again"] if repair.stale else []
    if "step_summary" in repair.owed:
        what.append("added its summary to the job page")
    if "webhooks" in repair.owed:
        held = rehearsal is not None and _webhooks(repair.workflow)
        what.append(f"sent no webhook ({rehearsal} run)" if held else "sent its webhooks")
    if removed:
        what.append(f"removed {len(removed)} half-written file(s)")
    raise NothingToResume(_repaired(repair, what), _exit_code(repair))


def _repaired(repair: _Repair, what: list[str]) -> str:
    run_id = repair.previous.run_id
    if repair.previous.status == "passed":
        done = f"run {run_id} already passed and nothing changed since: nothing to resume"
    else:
        command = (
            f"agnoctl run {shlex.quote(str(repair.file))} --resume {shlex.quote(repair.resume)}"
        )
        # One line: the reason quotes a judge's finding, whose own lines would be GitHub
        # workflow commands in the CI log.
        reason = one_line(repair.report.reason) if repair.report is not None else ""
        done = f"run {run_id} failed: {reason}; `{command}` runs again what did not succeed"
    if not what:
        return done
    return f"repaired the reports of run {run_id} ({'; '.join(what)}); {done}"


def _exit_code(repair: _Repair) -> ExitCode:
    return ExitCode.PASSED if repair.previous.status == "passed" else ExitCode.FAILED


__all__ = ["RunObserver", "RunOptions", "arun_workflow", "run_workflow"]
