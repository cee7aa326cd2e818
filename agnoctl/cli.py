"""The command line: a thin typer layer over the library.

Start-up cost matters (`agnoctl --help` must stay near the cost of importing typer), so every
command imports what it needs inside its own body. For the same reason annotations here are
not postponed (no `from __future__ import annotations`): typer reads every command's
parameters at start-up, and evaluating them from strings compiles each one again (a tenth of
`agnoctl --help`). This module is the only place that turns errors into exit codes and
terminal output.
"""

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from agnoctl.cache import CacheMode
    from agnoctl.events import Event
    from agnoctl.reports.model import RunReport
    from agnoctl.spec.diagnostics import Diagnostic
    from agnoctl.spec.loader import UnsetKey
    from agnoctl.spec.models import Workflow
    from agnoctl.terminal import Terminal

app = typer.Typer(
    name="agnoctl",
    help="Declarative, CI-native runner for multi-agent LLM workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error to stderr and exit."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


@contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """Pydantic looks for plugins, reading every installed package's metadata, when it builds
    its first validator; agnoctl's own models need none (typer skips them the same way)."""
    previous = os.environ.get(_NO_PLUGINS)
    os.environ[_NO_PLUGINS] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_NO_PLUGINS]
        else:
            os.environ[_NO_PLUGINS] = previous


_NO_PLUGINS = "PYDANTIC_DISABLE_PLUGINS"


def _version(value: bool) -> None:
    if value:
        from agnoctl import __version__

        sys.stdout.write(f"agnoctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Declarative, CI-native runner for multi-agent LLM workflows."""


class DiagnosticFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


WorkflowArgument = Annotated[Path, typer.Argument(help="Workflow file.", show_default=False)]
InputsOption = Annotated[
    list[str] | None,
    typer.Option("-i", "--input", help="Input value key=value (JSON for arrays/objects)."),
]
InputsFileOption = Annotated[
    Path | None, typer.Option("--inputs-file", help="YAML or JSON map of input values.")
]


# ---------------------------------------------------------------------------- commands
# Each command lives in its own section below; keep bodies short and import lazily.


# ---------------------------------------------------------------------------- validate


@app.command("validate")
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Workflow files, or directories searched for *.yaml / *.yml.",
            show_default=False,
        ),
    ],
    output_format: Annotated[
        DiagnosticFormat,
        typer.Option("--format", help="text, json, or github (workflow-command annotations)."),
    ] = DiagnosticFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Check workflows: every problem with file:line:col, a code and a fix hint.

    Exit 0 when valid, 2 when any file has an error (or a warning, with --strict).
    """
    _nothing_left_open()
    from agnoctl.errors import UsageError
    from agnoctl.spec.diagnostics import format_github, format_json, format_text
    from agnoctl.spec.loader import paused_gc

    # Each file's trees are dropped before the cycle collector runs again.
    with paused_gc(), _without_pydantic_plugins():
        from agnoctl.spec.validate import validate_file, workflow_files

        try:
            selection = workflow_files(paths)
        except UsageError as exc:
            fail(str(exc))
        files = selection.files
        if not files:
            fail("no workflow files found (a workflow has a top-level `version:` line)")
        diagnostics = []
        for path in files:
            result = validate_file(path, offline=True)
            diagnostics += result.diagnostics
            _write_notes(result.unset_keys)
    formatter = {"text": format_text, "json": format_json, "github": format_github}
    output = formatter[output_format.value](diagnostics)
    if output:
        sys.stdout.write(output + "\n")
    errors = sum(d.severity == "error" for d in diagnostics)
    failed = errors > 0 or (strict and len(diagnostics) > errors)
    sys.stderr.write(
        _validation_summary(
            failed, len(files), errors, len(diagnostics) - errors, len(selection.skipped)
        )
    )
    if failed:
        raise typer.Exit(EXIT_USAGE)


def _validation_summary(failed: bool, files: int, errors: int, warnings: int, skipped: int) -> str:
    noun = "file" if files == 1 else "files"
    extra = f" ({skipped} YAML file(s) without `version:` skipped)" if skipped else ""
    verdict = "invalid" if failed else "valid"
    return f"{verdict}: {files} {noun} checked, {errors} error(s), {warnings} warning(s){extra}\n"


@app.command("schema")
def schema(
    report: Annotated[
        bool, typer.Option("--report", help="Print the report.json schema instead.")
    ] = False,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the field reference (docs/reference.md) instead."),
    ] = False,
) -> None:
    """Print the workflow JSON Schema (for editors: yaml-language-server, IDE plugins)."""
    _nothing_left_open()
    if report and markdown:
        fail("--report and --markdown are different documents: pick one")
    if markdown:
        from agnoctl.spec.reference import reference_markdown

        sys.stdout.write(reference_markdown() + "\n")
        return
    if report:
        from agnoctl.reports.model import schema_text as report_schema_text

        sys.stdout.write(report_schema_text())
        return
    from agnoctl.spec.schema import schema_text

    sys.stdout.write(schema_text())


@app.command("init")
def init(
    name: Annotated[
        str | None,
        typer.Argument(
            help="File to write (NAME.yaml); default workflow.yaml.", show_default=False
        ),
    ] = None,
) -> None:
    """Write a commented starter workflow that validates and runs offline (mock provider)."""
    from agnoctl.errors import UsageError
    from agnoctl.init_template import write_starter

    try:
        path = write_starter(name)
    except UsageError as exc:
        fail(str(exc))
    sys.stdout.write(f"wrote {path}; try: agnoctl validate {path} && agnoctl run {path}\n")


# ---------------------------------------------------------------------------- cache

cache_app = typer.Typer(
    help="Inspect and trim the response cache.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(cache_app, name="cache")

CacheDirOption = Annotated[
    Path, typer.Option("--cache-dir", help="Cache directory.", show_default=True)
]
_DEFAULT_CACHE_DIR = Path(".agnoctl/cache")


def _when(timestamp: float | None) -> str:
    from datetime import datetime

    return "-" if timestamp is None else datetime.fromtimestamp(timestamp).isoformat(" ", "seconds")


def _size(size_bytes: int) -> str:
    size, unit = float(size_bytes), 0
    while size >= 1024 and unit < 3:
        size, unit = size / 1024, unit + 1
    return f"{size_bytes} B" if unit == 0 else f"{size:.1f} {('KiB', 'MiB', 'GiB')[unit - 1]}"


@cache_app.command("stats")
def cache_stats(cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR) -> None:
    """Show how many replies are cached, their size and age."""
    if not cache_dir.is_dir():
        sys.stdout.write(f"cache: {cache_dir} (empty: nothing cached yet)\n")
        return
    from agnoctl.cache import ResponseCache
    from agnoctl.errors import UsageError

    try:
        with ResponseCache(cache_dir) as cache:
            stats = cache.stats()
    except UsageError as exc:  # a damaged database: the message says how to clear it
        fail(str(exc))
    sys.stdout.write(
        f"cache: {stats.directory}\n"
        f"entries: {stats.entries}\n"
        f"size: {_size(stats.size_bytes)}\n"
        f"oldest: {_when(stats.oldest)}\n"
        f"newest: {_when(stats.newest)}\n"
    )


@cache_app.command("clear")
def cache_clear(cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR) -> None:
    """Delete every cached reply."""
    if not cache_dir.is_dir():
        sys.stdout.write(f"cache: {cache_dir} is empty; nothing to clear\n")
        return
    from agnoctl.cache import ResponseCache

    with ResponseCache(cache_dir) as cache:
        removed = cache.clear()
    if removed is None:
        sys.stdout.write(f"removed the damaged cache database from {cache_dir}\n")
    else:
        sys.stdout.write(f"removed {removed} cached replies from {cache_dir}\n")


@cache_app.command("prune")
def cache_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age to keep: 30d, 12h, 90m or seconds.")
    ] = "30d",
    cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR,
) -> None:
    """Delete cached replies older than an age."""
    from agnoctl.cache import ResponseCache, parse_age
    from agnoctl.errors import UsageError

    try:
        age = parse_age(older_than)
    except UsageError as exc:
        fail(str(exc))
    if not cache_dir.is_dir():
        sys.stdout.write(f"cache: {cache_dir} is empty; nothing to prune\n")
        return
    try:
        with ResponseCache(cache_dir) as cache:
            removed = cache.prune(age)
    except UsageError as exc:  # a damaged database: the message says how to clear it
        fail(str(exc))
    sys.stdout.write(f"removed {removed} cached replies older than {older_than} from {cache_dir}\n")


# ---------------------------------------------------------------------------- fixtures

fixtures_app = typer.Typer(
    help="Turn a run's model replies into mock fixtures.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(fixtures_app, name="fixtures")


@fixtures_app.command("export")
def fixtures_export(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="latest, a run id, or a run directory.")
    ] = "latest",
    output: Annotated[Path, typer.Option("-o", "--output", help="Fixtures file to write.")] = Path(
        "fixtures.yaml"
    ),
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where the runs are.")] = Path(
        ".agnoctl/runs"
    ),
) -> None:
    """Write a run's model replies as a --mock-fixtures file, to replay it offline."""
    from agnoctl.engine.resume import find_run
    from agnoctl.errors import UsageError
    from agnoctl.reports.fixtures_export import export_fixtures
    from agnoctl.reports.writer import atomic_write

    try:
        run_dir = find_run(run_ref, runs_dir)
        text, count = export_fixtures(run_dir)
        atomic_write(output, text)
    except UsageError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    sys.stdout.write(
        f"wrote {count} replies of run {run_dir.name} to {output}; replay with: "
        f"agnoctl run <workflow> --mock --mock-fixtures {output}\n"
    )


# ---------------------------------------------------------------------------- plan, graph


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


def _write_diagnostics(diagnostics: "list[Diagnostic]") -> None:
    from agnoctl.spec.diagnostics import format_text

    if diagnostics:
        sys.stderr.write(format_text(diagnostics) + "\n")


def _write_notes(unset_keys: "Iterable[UnsetKey]") -> None:
    for unset in unset_keys:
        sys.stderr.write(unset.note() + "\n")


def _load_or_exit(path: Path) -> "Workflow":
    """The validated workflow (warnings go to stderr); diagnostics and exit 2 when invalid.

    The commands that call it send no request: an unset provider key is only a note."""
    from agnoctl.spec.validate import validate_file

    result = validate_file(path, offline=True)
    _write_notes(result.unset_keys)
    _write_diagnostics(result.diagnostics)
    if result.workflow is None:
        fail(f"{path} is invalid: {len(result.errors)} error(s)")
    return result.workflow


@app.command("plan")
def plan(
    path: WorkflowArgument,
    inputs: InputsOption = None,
    inputs_file: InputsFileOption = None,
    output_format: Annotated[
        PlanFormat, typer.Option("--format", help="text, json, or markdown (for PR comments).")
    ] = PlanFormat.text,
    assume_items: Annotated[
        int,
        typer.Option(
            "--assume-items",
            min=1,
            help="Items assumed, at most, for a for_each list known only at run time.",
        ),
    ] = 10,
) -> None:
    """Show what a run would do and could cost, without any network call.

    Levels, fan-outs, loops, critical path, LLM call/token/cost ranges, provider concurrency
    and limit checks. Exit 0 when valid, 2 when the workflow or an input is invalid.
    """
    _nothing_left_open()
    from agnoctl.spec.loader import paused_gc

    # A plan allocates a record per step and holds no garbage cycles: as for validate, the
    # cycle collector would only rescan the loaded workflow again and again. The workflow and
    # the plan are dropped before it runs again (else its first pass walks them all).
    with paused_gc(), _without_pydantic_plugins():
        text = _plan_text(path, inputs or [], inputs_file, output_format, assume_items)
    sys.stdout.write(text)


def _plan_text(
    path: Path,
    inputs: list[str],
    inputs_file: Path | None,
    output_format: PlanFormat,
    assume_items: int,
) -> str:
    from agnoctl.errors import SpecInvalid, UsageError
    from agnoctl.plan import build_plan, render_plan
    from agnoctl.plan.inputs import plan_inputs

    workflow = _load_or_exit(path)  # build_plan reads the file again for an error's line
    try:
        values = plan_inputs(workflow.inputs, inputs, inputs_file)
        built = build_plan(workflow, values, workflow_path=path, assume_items=assume_items)
    except UsageError as exc:
        fail(str(exc))
    except SpecInvalid as exc:
        _write_diagnostics(exc.diagnostics)
        fail(f"{path} is invalid: {len(exc.diagnostics)} error(s)")
    return render_plan(built, output_format.value)


@app.command("graph")
def graph(
    path: WorkflowArgument,
    output_format: Annotated[
        GraphFormat, typer.Option("--format", help="mermaid (flowchart) or dot (Graphviz).")
    ] = GraphFormat.mermaid,
) -> None:
    """Draw the step graph: groups as subgraphs, for_each and loops marked, `if` on edges."""
    _nothing_left_open()
    from agnoctl.graph import render_graph

    workflow = _load_or_exit(path)
    sys.stdout.write(render_graph(workflow, output_format.value))


# ---------------------------------------------------------------------------- run


class RunFormat(StrEnum):
    text = "text"
    github = "github"


class LogFormatChoice(StrEnum):
    console = "console"
    json = "json"


class ProgressMode(StrEnum):
    auto = "auto"
    live = "live"
    plain = "plain"


@app.command("run")
def run(
    path: WorkflowArgument,
    inputs: InputsOption = None,
    inputs_file: InputsFileOption = None,
    mock_fixtures: Annotated[
        Path | None,
        typer.Option("--mock-fixtures", help="Scripted replies for the mock provider."),
    ] = None,
    mock: Annotated[
        bool, typer.Option("--mock", help="Route every agent to the mock provider (offline).")
    ] = False,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", help="Run directory (default .agnoctl/runs/<run-id>)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed the run's randomness (retry jitter).")
    ] = None,
    progress: Annotated[
        ProgressMode,
        typer.Option("--progress", help="auto (live on a terminal), live, or plain lines."),
    ] = ProgressMode.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (`agnoctl plan`); run nothing.")
    ] = False,
    output_format: Annotated[
        RunFormat,
        typer.Option("--format", help="github: also print annotations for what failed."),
    ] = RunFormat.text,
    log_format: Annotated[
        LogFormatChoice | None,
        typer.Option("--log-format", help="Structured logs of the run's events: console or json."),
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option("--log-file", help="Write the logs to this file (info level).")
    ] = None,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="Log to stderr: -v info, -vv debug.")
    ] = 0,
    metrics_push: Annotated[
        str | None,
        typer.Option("--metrics-push", help="Push metrics.prom to this Prometheus Pushgateway."),
    ] = None,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option("--otlp-endpoint", help="Send traces to this OTLP/HTTP collector."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Resume a run (latest, a run id or its directory): re-run only what did not "
            "succeed or changed.",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor fill the response cache.")
    ] = False,
    cache_only: Annotated[
        bool,
        typer.Option("--cache-only", help="Run offline from the response cache; a miss fails."),
    ] = False,
    cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR,
) -> None:
    """Run a workflow and write its run directory (report.json, events.jsonl, junit.xml, ...).

    Exit 0 when the run passed, 1 when it failed (a step, a gate, a threshold or a limit),
    2 for an invalid workflow or command line, 130 when interrupted (the report is still written).
    """
    _check_exports(otlp_endpoint)  # before the engine is even imported: fail fast
    from agnoctl.engine.run import RunOptions, run_workflow
    from agnoctl.errors import NothingToResume, RunLocked, SpecInvalid, UsageError
    from agnoctl.logs import LoggedRun, LogOptions, run_logging
    from agnoctl.terminal import Terminal, choose_mode

    if dry_run:
        plan(path, inputs, inputs_file)
        return
    if resume is not None and report_dir is not None:
        fail("--resume continues in the run's own directory; drop --report-dir")
    # A reader that goes away (`agnoctl run wf.yaml | head`) stops the output, not the run.
    terminal = Terminal(
        choose_mode(progress.value, quiet, sys.stdout), on_closed=_drop_pending_output
    )
    logs = LogOptions(log_format.value if log_format else None, log_file, verbose)
    options = RunOptions(
        input_pairs=inputs or [],
        inputs_file=inputs_file,
        mock=mock,
        mock_fixtures=mock_fixtures,
        report_dir=report_dir,
        seed=seed,
        handle_signals=True,
        observer=LoggedRun(terminal) if logs.requested else terminal,
        listeners=(_write_run_note,),
        resume=resume,
        cache_mode=_cache_mode(no_cache, cache_only),
        cache_dir=cache_dir,
    )
    try:
        with run_logging(logs):
            report = run_workflow(path, options)
    except NothingToResume as exc:
        sys.stdout.write(f"{exc}\n")
        raise typer.Exit(EXIT_OK) from None
    except SpecInvalid as exc:
        _write_diagnostics(exc.diagnostics)
        errors = sum(d.severity == "error" for d in exc.diagnostics)
        fail(f"{path} is invalid: {errors} error(s)")
    except (UsageError, RunLocked) as exc:
        fail(str(exc))
    finally:
        terminal.close()
    if report.resumed:  # what this segment did; report.json totals the whole run
        terminal.write(
            f"resumed run {report.run_id}: {report.reused} task(s) reused, "
            f"{report.segments[-1].calls} model call(s) made\n"
        )
    _after_run(report, report_dir, output_format, path, metrics_push, otlp_endpoint, terminal)
    raise typer.Exit(report.exit_code)


def _write_run_note(event: "Event") -> None:
    """What the engine notes as a run starts (`--resume latest` with nothing to resume)."""
    if event["type"] in ("run_started", "run_resumed") and "note" in event:
        sys.stderr.write(f"note: {event['note']}\n")


def _cache_mode(no_cache: bool, cache_only: bool) -> "CacheMode":
    if no_cache and cache_only:
        fail("--no-cache and --cache-only contradict each other; choose one")
    return "off" if no_cache else "only" if cache_only else "use"


def _check_exports(otlp_endpoint: str | None) -> None:
    """Refuse --otlp-endpoint before the run when tracing cannot work (fail closed)."""
    if otlp_endpoint is None:
        return
    from agnoctl.errors import UsageError
    from agnoctl.reports.otel import require_otel, traces_url

    try:
        require_otel()
        traces_url(otlp_endpoint)
    except UsageError as exc:
        fail(str(exc))


def _after_run(
    report: "RunReport",
    report_dir: Path | None,
    output_format: RunFormat,
    path: Path,
    metrics_push: str | None,
    otlp_endpoint: str | None,
    terminal: "Terminal",
) -> None:
    """Annotations, metrics push and traces: a failure here warns, never changes the verdict."""
    from agnoctl.errors import UsageError
    from agnoctl.reports.metrics import run_events
    from agnoctl.reports.writer import RUNS_DIR

    if output_format is RunFormat.github:
        from agnoctl.reports.annotations import github_annotations
        from agnoctl.spec.validate import validate_file

        source = validate_file(path, offline=True).source  # positions only
        terminal.write(github_annotations(report, source))
    if metrics_push is None and otlp_endpoint is None:
        return
    events = run_events(report_dir or RUNS_DIR / report.run_id)
    try:
        if metrics_push is not None:
            from agnoctl.reports.metrics import push_metrics

            push_metrics(metrics_push, report, events)
        if otlp_endpoint is not None:
            from agnoctl.reports.otel import export_traces

            export_traces(otlp_endpoint, report, events)
    except UsageError as exc:
        sys.stderr.write(f"warning: {exc}\n")


# ---------------------------------------------------------------------------- runs, report

runs_app = typer.Typer(
    help="List the runs in .agnoctl/runs.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(runs_app, name="runs")
report_app = typer.Typer(
    help="Show one run's report, or compare two.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(report_app, name="report")

RunsDirOption = Annotated[
    Path, typer.Option("--runs-dir", help="Where runs are kept.", show_default=True)
]
_DEFAULT_RUNS_DIR = Path(".agnoctl/runs")


class DiffFormatChoice(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


@runs_app.command("list")
def runs_list(
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest runs shown.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """The runs, newest first: id, workflow, status, duration and cost."""
    import json

    from agnoctl.reports.history import list_runs

    runs = list_runs(runs_dir)[:limit]
    if as_json:
        for run in runs:
            row = {
                "run_id": run.run_id,
                "workflow": run.workflow,
                "status": run.status,
                "started": run.started.isoformat() if run.started else None,
                "duration_ms": run.duration_ms,
                "cost_usd": run.cost_usd,
                "path": str(run.path),
            }
            sys.stdout.write(json.dumps(row) + "\n")
        return
    if not runs:
        sys.stdout.write(f"no runs in {runs_dir} yet: `agnoctl run <workflow>` makes one\n")
        return
    from rich.console import Console
    from rich.table import Column, Table

    # The run id starts with its UTC start time: no column of its own for it.
    table = Table(Column("run id", no_wrap=True), "workflow", "status", "duration", "cost")
    for run in runs:
        table.add_row(
            run.run_id,
            run.workflow or "-",
            run.status,
            "-" if run.duration_ms is None else f"{run.duration_ms / 1000:.2f}s",
            "-" if run.cost_usd is None else f"${run.cost_usd:.4f}",
        )
    Console(highlight=False).print(table)


@report_app.command("show")
def report_show(
    run: Annotated[
        str, typer.Argument(help="Run id, `latest`, a run directory or report.json.")
    ] = "latest",
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
) -> None:
    """One run at a glance: every step, its gates, and where the full report is."""
    from agnoctl.errors import UsageError
    from agnoctl.reports.history import load_report, resolve_run
    from agnoctl.terminal import Terminal

    try:
        run_dir = resolve_run(run, runs_dir)
        report = load_report(str(run_dir), runs_dir)
    except UsageError as exc:
        fail(str(exc))
    terminal = Terminal("plain")
    terminal.run_finished(report, run_dir)
    gates = [(s.path, g) for s in report.all_steps() for g in s.gates]
    if gates:
        from rich.table import Table

        table = Table(
            "step",
            "attempt",
            "gate",
            "result",
            "value",
            "finding",
            title="gates",
            title_justify="left",
        )
        for step_path, gate in gates:
            result = "passed" if gate.passed else f"failed ({gate.severity})"
            table.add_row(
                step_path,
                str(gate.attempt or ""),
                gate.name,
                result,
                repr(gate.value),
                gate.finding or "",
            )
        terminal.console.print(table)
    html = run_dir / "report.html"
    if html.is_file():
        sys.stdout.write(f"full report: {html}\n")


@report_app.command("diff")
def report_diff(
    run_a: Annotated[str, typer.Argument(help="The baseline: run id, `latest`, a directory...")],
    run_b: Annotated[str, typer.Argument(help="The run compared with it.")] = "latest",
    output_format: Annotated[
        DiffFormatChoice, typer.Option("--format", help="text, json, or markdown (PR comments).")
    ] = DiffFormatChoice.text,
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="Exit 1 when B regressed against A.")
    ] = False,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", min=0.0, help="Score gates: how much worse a value may get (see docs)."
        ),
    ] = 0.05,
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
) -> None:
    """What changed from run A to run B: statuses, gates, outputs, cost and latency.

    A regression: the run or a step went from passing to failing, a gate from passed to
    failed, or a score gate's value got worse by more than --tolerance.
    """
    from agnoctl.errors import UsageError
    from agnoctl.reports.history import diff_reports, load_report, render_diff

    try:
        delta = diff_reports(
            load_report(run_a, runs_dir), load_report(run_b, runs_dir), tolerance=tolerance
        )
    except UsageError as exc:
        fail(str(exc))
    sys.stdout.write(render_diff(delta, output_format.value))
    if fail_on_regression and delta.regressed:
        raise typer.Exit(EXIT_FAILED)


def main() -> None:
    """Run the command line; ends in SystemExit with the exit code, like any typer app."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except OSError as exc:
        # What the system refused under a command, such as output to a full disk: one line,
        # never a traceback. (A reader that went away, `agnoctl ... | head`, click already
        # ends quietly with exit 1.)
        _drop_pending_output()
        sys.stderr.write(f"error: {exc.strerror or exc}\n")
        sys.exit(EXIT_FAILED)


def _drop_pending_output() -> None:
    """Point stdout at the null device, so that the text that could not be written is not
    tried again (and refused again, with a traceback) when the process ends."""
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file descriptor (an in-process caller's)
        pass


class _Ending:
    """Whether the command that ran left anything to close.

    validate, plan, graph and schema leave no open file, thread, exporter or atexit work. After
    them the interpreter's teardown would only free every object one by one: 7 % of a small
    `agnoctl validate`'s instructions, 86 M after a 10,000-step file. So the `agnoctl`
    executable ends the process there without it, as mypy does. Every other command ends
    normally.
    """

    nothing_open = False


def _nothing_left_open() -> None:
    _Ending.nothing_open = True


def console() -> NoReturn:
    """The `agnoctl` executable (and `python -m agnoctl`): `main`, then the process ends."""
    try:
        main()
    except SystemExit as end:
        code = end.code
        if _Ending.nothing_open and (code is None or isinstance(code, int)) and _flushed():
            os._exit(code or 0)
        raise
    raise AssertionError("main() ends in SystemExit")


def _flushed() -> bool:
    """Flush what the command printed; False when that fails (a closed pipe), so that the
    normal ending reports it as it always has."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return False
    return True
