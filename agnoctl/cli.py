"""The command line: a thin typer layer over the library.

Start-up cost matters (`agnoctl --help` must stay near the cost of importing typer), so every
command imports what it needs inside its own body. For the same reason annotations here are
not postponed (no `from __future__ import annotations`): typer reads every command's
parameters at start-up, and evaluating them from strings compiles each one again (a tenth of
`agnoctl --help`). This module is the only place that turns errors into exit codes and
terminal output.
"""

import atexit
import io
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core
from typer import _click as click

from agnoctl.errors import ExitCode
from agnoctl.printable import not_utf8_at, printable

if TYPE_CHECKING:
    from agnoctl.cache import CacheMode
    from agnoctl.engine.approval import ApprovalOptions
    from agnoctl.events import Entry, Subscription
    from agnoctl.reports.history import RunSummary
    from agnoctl.reports.model import RunReport
    from agnoctl.spec.diagnostics import Diagnostic
    from agnoctl.spec.loader import UnsetKey
    from agnoctl.spec.models import Workflow
    from agnoctl.terminal import Mode, Terminal


class _Command(typer.core.TyperCommand):
    """A command whose help speaks the user's words: arguments by their metavar (`FILE`,
    `[RUN]`, `[PATH]...`), as git, ruff and uv write them, never typer's type names
    (`{path}`, `<list[Path]>`). Options name theirs with `metavar=` where they are declared."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_usage(param))
            else:
                pieces += param.get_usage_pieces(ctx)
        return pieces

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:
            values, _, order = self.make_parser(ctx).parse_args(args=list(args))
            _refuse_repeated(order)
            _refuse_empty(order, values)
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((_argument_name(param), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _refuse_repeated(order: list[click.Parameter]) -> None:
    """An option that holds one value, given twice (``--report-dir a --report-dir b``): click
    keeps the last and drops the other without a word, where the user meant one of them."""
    seen: set[str] = set()
    for param in order:
        if not isinstance(param, typer.core.TyperOption):
            continue
        if param.multiple or param.count or param.is_flag:
            continue
        name = max(param.opts, key=len)
        if name in seen:
            fail(f"{name} is given twice: give it once")
        seen.add(name)


def _refuse_empty(order: list[click.Parameter], values: dict[str, Any]) -> None:
    """An empty value (`--report-dir "$DIR"`, DIR unset) is no value any option takes, and an
    empty path is Python's `.`: the run went into the working directory itself."""
    for param in order:
        value = values.get(param.name or "")
        given = value if isinstance(value, list | tuple) else [value]
        if "" in given:
            name = param.metavar or (param.name or "").upper()
            if param.param_type_name != "argument":
                name = max(param.opts, key=len)
            fail(f"{name} is empty: give it a value (an unset variable?)")


def _argument_name(param: click.Parameter) -> str:
    name = param.metavar or (param.name or "").upper()
    return name + ("..." if param.nargs != 1 else "")


def _argument_usage(param: click.Parameter) -> str:
    name = param.metavar or (param.name or "").upper()
    usage = name if param.required else f"[{name}]"
    return usage + ("..." if param.nargs != 1 else "")


def _choices(choices: type[StrEnum]) -> str:
    """An option's metavar listing what it accepts: `[text|json|github]`."""
    return "[" + "|".join(choice.value for choice in choices) + "]"


class _Root(typer.core.TyperGroup):
    """The root command. Typer's completion options are flags that complete the shell agnoctl
    runs under: a shell named after one (`--install-completion zsh`) is refused, rather than
    taken for a command while another shell's completion is installed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if len(args) == 2 and args[0] in _COMPLETION_OPTIONS:
            fail(
                f"{args[0]} takes no shell name: it completes the shell it runs in, "
                f"so run it from {args[1]}"
            )
        return super().parse_args(ctx, args)


_COMPLETION_OPTIONS = ("--install-completion", "--show-completion")
_PROGRAM = "agnoctl"


def _typer(help_text: str, *, add_completion: bool = False, **options: Any) -> typer.Typer:
    """A command group; `-h` and `--help` both show its help."""
    return typer.Typer(
        **options,
        help=help_text,
        no_args_is_help=True,
        add_completion=add_completion,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = _typer(
    "Declarative, CI-native runner for multi-agent LLM workflows.",
    add_completion=True,  # Typer's --install-completion and --show-completion
    name=_PROGRAM,
    cls=_Root,
)


def fail(message: str, code: int = ExitCode.USAGE) -> NoReturn:
    """Print a one-line error to stderr and exit."""
    _err(f"error: {message}\n")
    raise typer.Exit(code)


def _out(text: str) -> None:
    """Print to stdout. What steps, models and workflow files wrote shows its control
    characters as escapes: a terminal or CI log never obeys them.

    A reader that went away (`agnoctl plan wf.yaml | head -20`) had what it wanted: the rest
    is dropped and the command ends with its own exit code, as `run` does. (Click would end it
    with 1, "the run failed", which fails a CI step under `set -o pipefail`.)"""
    try:
        sys.stdout.write(printable(text))
    except BrokenPipeError:
        _drop_pending_output()


def _err(text: str) -> None:
    """Print to stderr, as ``_out`` does."""
    sys.stderr.write(printable(text))


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

        _out(f"agnoctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Declarative, CI-native runner for multi-agent LLM workflows."""


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


JsonFormatOption = Annotated[
    TextOrJson,
    typer.Option("--format", metavar=_choices(TextOrJson), help="text, or json for tools."),
]


class DiagnosticFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


def _utf8_name(path: Path) -> Path:
    """A workflow file's name is recorded in the run's events, report and plan, all UTF-8: a
    byte that is not (Python reads it as a lone surrogate) ended a run in a traceback."""
    if not_utf8_at(str(path)) is not None:
        fail(
            f"FILE {os.fsencode(path).decode(errors='backslashreplace')}: the name is no "
            "UTF-8 text, which the run's report and events could not record; rename the file"
        )
    return path


WorkflowArgument = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="Workflow file.", show_default=False, callback=_utf8_name),
]
InputsOption = Annotated[
    list[str] | None,
    typer.Option(
        "-i",
        "--input",
        metavar="KEY=VALUE",
        help="An input value (JSON for arrays/objects); repeat for more.",
    ),
]
InputsFileOption = Annotated[
    Path | None,
    typer.Option("--inputs-file", metavar="FILE", help="YAML or JSON map of input values."),
]


# ---------------------------------------------------------------------------- commands
# Each command lives in its own section below; keep bodies short and import lazily.


# ---------------------------------------------------------------------------- validate


@app.command("validate", cls=_Command)
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Workflow files, or directories searched for workflows (*.yaml / *.yml with "
            "a top-level `version:`).  [default: .]",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        DiagnosticFormat,
        typer.Option(
            "--format",
            metavar=_choices(DiagnosticFormat),
            help="text, json, or github (workflow-command annotations).",
        ),
    ] = DiagnosticFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
    only_workflows: Annotated[
        bool,
        typer.Option(
            "--only-workflows",
            help="Skip the files named that are no workflows (no top-level `version:`), as a "
            "directory's are: for pre-commit, which names every YAML file.",
        ),
    ] = False,
) -> None:
    """Check workflows: every problem with file:line:col, a code and a fix hint.

    Exit 0 when valid, 2 when any file has an error (or a warning, with --strict).
    """
    from functools import partial

    from agnoctl.errors import UsageError
    from agnoctl.spec.diagnostics import Diagnostic, format_github, format_json, format_text
    from agnoctl.spec.loader import paused_gc

    # Each file's trees are dropped before the cycle collector runs again.
    with paused_gc(), _without_pydantic_plugins():
        from agnoctl.spec.validate import validate_file, workflow_files

        try:
            selection = workflow_files(paths or [Path(".")], only_workflows=only_workflows)
        except UsageError as exc:
            fail(str(exc))
        files = selection.files
        if not files and not only_workflows:
            fail("no workflow files found (a workflow has a top-level `version:` line)")
        # A file that another one uses is checked with it too: its problems are told once.
        found: dict[Diagnostic, None] = {}
        for path in files:
            result = validate_file(path, offline=True)
            found.update(dict.fromkeys(result.diagnostics))
            _write_notes(result.unset_keys)
        diagnostics = list(found)
    formatter: dict[str, Callable[[list[Diagnostic]], str]] = {
        "text": format_text,
        "json": partial(format_json, strict=strict),
        "github": format_github,
    }
    output = formatter[output_format.value](diagnostics)
    if output:
        _out(output + "\n")
    errors = sum(d.severity == "error" for d in diagnostics)
    failed = errors > 0 or (strict and len(diagnostics) > errors)
    _err(
        _validation_summary(
            failed, len(files), errors, len(diagnostics) - errors, len(selection.skipped)
        )
    )
    if failed:
        raise typer.Exit(ExitCode.USAGE)


def _validation_summary(failed: bool, files: int, errors: int, warnings: int, skipped: int) -> str:
    noun = "file" if files == 1 else "files"
    extra = f" ({skipped} YAML file(s) without `version:` skipped)" if skipped else ""
    verdict = "invalid" if failed else "valid"
    return f"{verdict}: {files} {noun} checked, {errors} error(s), {warnings} warning(s){extra}\n"


class SchemaFormat(StrEnum):
    json = "json"
    markdown = "markdown"


@app.command("schema", cls=_Command)
def schema(
    report: Annotated[
        bool, typer.Option("--report", help="Print the report.json schema instead.")
    ] = False,
    output_format: Annotated[
        SchemaFormat,
        typer.Option(
            "--format",
            metavar=_choices(SchemaFormat),
            help="json (JSON Schema), or markdown (the field reference, docs/reference.md).",
        ),
    ] = SchemaFormat.json,
    markdown: Annotated[
        bool, typer.Option("--markdown", hidden=True, help="The former --format markdown.")
    ] = False,
) -> None:
    """Print the workflow JSON Schema (for editors: yaml-language-server, IDE plugins)."""
    if report and markdown:
        fail("--report and --markdown are different documents: pick one")
    if report and output_format is SchemaFormat.markdown:
        fail("--report has no markdown form (the report schema is JSON Schema only)")
    if markdown or output_format is SchemaFormat.markdown:
        from agnoctl.spec.reference import reference_markdown

        _out(reference_markdown() + "\n")
        return
    if report:
        from agnoctl.reports.model import schema_text as report_schema_text

        _out(report_schema_text())
        return
    from agnoctl.spec.schema import schema_text

    _out(schema_text())


@app.command("init", cls=_Command)
def init(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME",
            help="File to write (NAME.yaml); default workflow.yaml.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a commented starter workflow that validates and runs offline (mock provider)."""
    from agnoctl.errors import UsageError
    from agnoctl.init_template import shell_word, write_starter

    try:
        path = write_starter(name)
    except UsageError as exc:
        fail(str(exc))
    word = shell_word(path)
    _out(f"wrote {path}; try: agnoctl validate {word} && agnoctl run {word}\n")


# ---------------------------------------------------------------------------- cache

cache_app = _typer("Inspect and trim the response cache.")
app.add_typer(cache_app, name="cache")

CacheDirOption = Annotated[
    Path, typer.Option("--cache-dir", metavar="DIR", help="Cache directory.", show_default=True)
]
_DEFAULT_CACHE_DIR = Path(".agnoctl/cache")


def _runs_folder(path: Path) -> Path:
    """--runs-dir names a folder (that may not exist yet): a file there holds no runs, and
    "no runs in FILE yet" would hide the mistake (as --cache-dir refuses one)."""
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{path} is not a directory")
    return path


RunsDirOption = Annotated[
    Path,
    typer.Option(
        "--runs-dir",
        metavar="DIR",
        help="Where runs are kept.",
        show_default=True,
        callback=_runs_folder,
    ),
]
_DEFAULT_RUNS_DIR = Path(".agnoctl/runs")


def _when(timestamp: float | None) -> str:
    from datetime import datetime

    return "-" if timestamp is None else datetime.fromtimestamp(timestamp).isoformat(" ", "seconds")


def _size(size_bytes: int) -> str:
    size, unit = float(size_bytes), 0
    while size >= 1024 and unit < 3:
        size, unit = size / 1024, unit + 1
    return f"{size_bytes} B" if unit == 0 else f"{size:.1f} {('KiB', 'MiB', 'GiB')[unit - 1]}"


def _holds_cache(cache_dir: Path) -> bool:
    """Whether the cache commands have a database to look into; a --cache-dir that is a file
    is a usage error."""
    from agnoctl.cache import holds_cache
    from agnoctl.errors import UsageError

    try:
        return holds_cache(cache_dir)
    except UsageError as exc:
        fail(str(exc))


@cache_app.command("stats", cls=_Command)
def cache_stats(
    cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR,
    output_format: JsonFormatOption = TextOrJson.text,
) -> None:
    """Show how many replies are cached, their size and age."""
    from agnoctl.cache import CacheStats, ResponseCache
    from agnoctl.errors import UsageError

    cached = _holds_cache(cache_dir)
    if not cached and output_format is TextOrJson.text:
        _out(f"cache: {cache_dir} (empty: nothing cached yet)\n")
        return
    if not cached:
        stats = CacheStats(cache_dir, 0, 0, None, None, 0, 0)
    else:
        try:
            with ResponseCache(cache_dir) as cache:
                stats = cache.stats()
        except UsageError as exc:  # a damaged database: the message says how to clear it
            fail(str(exc))
    if output_format is TextOrJson.json:
        import json

        fields = ("entries", "size_bytes", "oldest", "newest")
        row = {"directory": str(stats.directory)} | {f: getattr(stats, f) for f in fields}
        _out(json.dumps(row) + "\n")
        return
    _out(
        f"cache: {stats.directory}\n"
        f"entries: {stats.entries}\n"
        f"size: {_size(stats.size_bytes)}\n"
        f"oldest: {_when(stats.oldest)}\n"
        f"newest: {_when(stats.newest)}\n"
    )


@cache_app.command("clear", cls=_Command)
def cache_clear(cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR) -> None:
    """Delete every cached reply."""
    from agnoctl.cache import ResponseCache

    if not _holds_cache(cache_dir):
        _out(f"cache: {cache_dir} is empty; nothing to clear\n")
        return

    with ResponseCache(cache_dir) as cache:
        removed = cache.clear()
    if removed is None:
        _out(f"removed the damaged cache database from {cache_dir}\n")
    else:
        _out(f"removed {removed} cached replies from {cache_dir}\n")


@cache_app.command("prune", cls=_Command)
def cache_prune(
    older_than: Annotated[
        str,
        typer.Option("--older-than", metavar="AGE", help="Age to keep: 30d, 12h, 90m or seconds."),
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
    if not _holds_cache(cache_dir):
        _out(f"cache: {cache_dir} is empty; nothing to prune\n")
        return
    try:
        with ResponseCache(cache_dir) as cache:
            removed = cache.prune(age)
    except UsageError as exc:  # a damaged database: the message says how to clear it
        fail(str(exc))
    _out(f"removed {removed} cached replies older than {older_than} from {cache_dir}\n")


# ---------------------------------------------------------------------------- fixtures

fixtures_app = _typer("Turn a run's model replies into mock fixtures.")
app.add_typer(fixtures_app, name="fixtures")


@fixtures_app.command("export", cls=_Command)
def fixtures_export(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="latest, a run id, or a run directory.")
    ] = "latest",
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", metavar="FILE", help="Fixtures file to write; - for stdout (JSON)."
        ),
    ] = Path("fixtures.yaml"),
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Overwrite the output file if it exists.")
    ] = False,
) -> None:
    """Write a run's model replies as a --mock-fixtures file, to replay it offline."""
    import json

    from agnoctl.engine.rundir import atomic_write, find_run
    from agnoctl.errors import UsageError
    from agnoctl.reports.fixtures_export import export_fixtures

    to_stdout = str(output) == "-"
    # The file is written beside and renamed over: a device (`/dev/full`, `/dev/stdout`) or
    # FIFO named by -o would be replaced by a regular file (as root, in /dev), not written.
    if not to_stdout and output.exists() and not output.is_file():
        fail(
            f"cannot write {output}: not a regular file (a directory, a device or a FIFO); "
            "-o names the fixtures file to write"
        )
    # fixtures.yaml is also what people name the fixtures they write by hand.
    if not to_stdout and output.exists() and not force:
        fail(f"{output} already exists: pass --force to overwrite it, or -o another file")
    try:
        export = export_fixtures(find_run(run_ref, runs_dir))
    except UsageError as exc:
        fail(str(exc))
    if to_stdout:
        # JSON, which a fixtures file may be: every character past ASCII escaped, so a
        # terminal or CI log shows the replies' text unobeyed and a pipe carries it exactly
        # (YAML's scalars would change meaning under `printable`'s escapes).
        _out(json.dumps(export.data, indent=2) + "\n")
        _err(f"wrote {export.replies} replies of run {export.run_id} to stdout\n")
        return
    try:
        atomic_write(output, export.text)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    _out(
        f"wrote {export.replies} replies of run {export.run_id} to {output}; replay with: "
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
        _err(format_text(diagnostics) + "\n")


def _write_notes(unset_keys: "Iterable[UnsetKey]") -> None:
    for unset in unset_keys:
        _err(unset.note() + "\n")


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


_MOST_ITEMS = 1_000_000_000
"""--assume-items at most: far past it a plan's token counts outgrow the float a price is
worked out in (an OverflowError); a billion items is already no run's list."""


@app.command("plan", cls=_Command)
def plan(
    path: WorkflowArgument,
    inputs: InputsOption = None,
    inputs_file: InputsFileOption = None,
    output_format: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            metavar=_choices(PlanFormat),
            help="text, json, or markdown (for PR comments).",
        ),
    ] = PlanFormat.text,
    assume_items: Annotated[
        int,
        typer.Option(
            "--assume-items",
            min=1,
            max=_MOST_ITEMS,
            metavar="N",
            help="Items assumed, at most, for a for_each list known only at run time.",
        ),
    ] = 10,
) -> None:
    """Show what a run would do and could cost, without any network call.

    Levels, fan-outs, loops, critical path, LLM call/token/cost ranges, provider concurrency
    and limit checks. Exit 0 when valid, 2 when the workflow or an input is invalid.
    """
    from agnoctl.spec.loader import paused_gc

    # A plan allocates a record per step and holds no garbage cycles: as for validate, the
    # cycle collector would only rescan the loaded workflow again and again. The workflow and
    # the plan are dropped before it runs again (else its first pass walks them all).
    with paused_gc(), _without_pydantic_plugins():
        text = _plan_text(path, inputs or [], inputs_file, output_format, assume_items)
    _out(text)


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


@app.command("graph", cls=_Command)
def graph(
    path: WorkflowArgument,
    output_format: Annotated[
        GraphFormat,
        typer.Option(
            "--format",
            metavar=_choices(GraphFormat),
            help="mermaid (flowchart) or dot (Graphviz).",
        ),
    ] = GraphFormat.mermaid,
) -> None:
    """Draw the step graph: groups as subgraphs, for_each and loops marked, `if` on edges."""
    from agnoctl.diagram import render_graph

    workflow = _load_or_exit(path)
    _out(render_graph(workflow, output_format.value))


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


class ExecutorChoice(StrEnum):
    local = "local"
    ray = "ray"


@app.command("run", cls=_Command)
def run(
    ctx: typer.Context,
    path: WorkflowArgument,
    inputs: InputsOption = None,
    inputs_file: InputsFileOption = None,
    mock_fixtures: Annotated[
        Path | None,
        typer.Option(
            "--mock-fixtures", metavar="FILE", help="Scripted replies for the mock provider."
        ),
    ] = None,
    mock: Annotated[
        bool, typer.Option("--mock", help="Route every agent to the mock provider (offline).")
    ] = False,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            "--report-dir", metavar="DIR", help="Run directory (default .agnoctl/runs/RUN-ID)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", metavar="N", help="Seed the run's randomness (retry jitter)."),
    ] = None,
    progress: Annotated[
        ProgressMode,
        typer.Option(
            "--progress",
            metavar=_choices(ProgressMode),
            help="auto (live on a terminal), live, or plain lines.",
        ),
    ] = ProgressMode.auto,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
    show_text: Annotated[
        bool | None,
        typer.Option(
            "--show-text/--no-show-text",
            help="Live display: show the text of running agent steps as it arrives (default: "
            "on a terminal, while one step alone writes).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (`agnoctl plan`); run nothing.")
    ] = False,
    output_format: Annotated[
        RunFormat,
        typer.Option(
            "--format",
            metavar=_choices(RunFormat),
            help="github: also print annotations for what failed.",
        ),
    ] = RunFormat.text,
    log_format: Annotated[
        LogFormatChoice | None,
        typer.Option(
            "--log-format",
            metavar=_choices(LogFormatChoice),
            help="Structured logs of the run's events: console or json.",
        ),
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", metavar="FILE", help="Write the logs to this file (info level)."
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="Log to stderr: -v info, -vv debug.")
    ] = 0,
    metrics_push: Annotated[
        str | None,
        typer.Option(
            "--metrics-push",
            metavar="URL",
            help="Push metrics.prom to this Prometheus Pushgateway.",
        ),
    ] = None,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(
            "--otlp-endpoint", metavar="URL", help="Send traces to this OTLP/HTTP collector."
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="RUN",
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
    approve: Annotated[
        list[str] | None,
        typer.Option(
            "--approve",
            metavar="STEP",
            help="Approve this approval step (repeatable); with --resume: a waiting run goes on.",
        ),
    ] = None,
    reject: Annotated[
        list[str] | None,
        typer.Option("--reject", metavar="STEP", help="Reject this approval step (repeatable)."),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="Why (with --approve / --reject)."),
    ] = None,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input", help="Never ask on the terminal: an undecided approval waits (exit 75)."
        ),
    ] = False,
    executor: Annotated[
        ExecutorChoice,
        typer.Option(
            "--executor",
            metavar=_choices(ExecutorChoice),
            help="Where command steps and tools run: local, or ray (a Ray cluster; docs/ray.md).",
        ),
    ] = ExecutorChoice.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            metavar="ADDRESS",
            help="The Ray cluster (--executor ray); default RAY_ADDRESS, else one on this machine.",
        ),
    ] = None,
    ray_agents: Annotated[
        bool,
        typer.Option(
            "--ray-agents",
            help="Agent steps' model calls run on the cluster too (--executor ray; docs/ray.md).",
        ),
    ] = False,
) -> None:
    """Run a workflow and write its run directory (report.json, events.jsonl, junit.xml, ...).

    Exit 0 when the run passed, 1 when it failed (a step, a gate, a threshold or a limit),
    2 for an invalid workflow or command line, 75 when it waits for an approval (`--resume
    latest --approve STEP` carries it on), 130 when interrupted (the report is still written).
    """
    _check_exports(otlp_endpoint)  # before the engine is even imported: fail fast
    from agnoctl.spec.loader import paused_gc

    # The engine's modules and models live as long as the process: the cycle collector
    # would only scan them again and again while they load.
    with paused_gc():
        from agnoctl.collector import tuned_for_a_run
        from agnoctl.errors import NothingToResume, RunLocked, SpecInvalid, UsageError
        from agnoctl.logs import LoggedRun, LogOptions, run_logging
        from agnoctl.session import RunOptions, run_workflow
        from agnoctl.terminal import Terminal, choose_mode

    if dry_run:
        _refuse_run_options(ctx)
        plan(path, inputs, inputs_file)
        return
    if resume is not None and report_dir is not None:
        fail("--resume continues in the run's own directory; drop --report-dir")
    if quiet:
        _refuse_display_options(progress, show_text)
    # A reader that goes away (`agnoctl run wf.yaml | head`) stops the output, not the run.
    mode = choose_mode(progress.value, quiet, sys.stdout)
    terminal = Terminal(
        mode, on_closed=_drop_pending_output, show_text=_show_text(show_text, mode, sys.stdout)
    )
    logs = LogOptions(log_format.value if log_format else None, log_file, verbose)
    cache_mode = _cache_mode(no_cache, cache_only, cache_dir=_given(ctx, "cache_dir"))
    approvals = _approvals(approve or [], reject or [], reason, None if no_input else terminal)
    try:
        # This process is the run's own: its cycle collector is tuned for it.
        with (
            run_logging(logs),
            tuned_for_a_run(LoggedRun(terminal) if logs.requested else terminal) as observer,
        ):
            options = RunOptions(
                input_pairs=inputs or [],
                inputs_file=inputs_file,
                mock=mock,
                mock_fixtures=mock_fixtures,
                report_dir=report_dir,
                seed=seed,
                handle_signals=True,
                observer=observer,
                listeners=(_run_note(), *([logs.listener()] if logs.requested else [])),
                resume=resume,
                cache_mode=cache_mode,
                cache_dir=cache_dir,
                approvals=approvals,
                on_text=terminal.live_text.add if terminal.live_text is not None else None,
                executor=executor.value,
                ray_address=ray_address,
                ray_agents=ray_agents,
            )
            report = run_workflow(path, options)
    except NothingToResume as exc:
        _out(f"{exc}\n")
        raise typer.Exit(exc.exit_code) from None
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
    if report.status == "interrupted":
        _err(_resume_hint(path, report_dir, resume, report.run_id))
    for waiting in (a for a in report.approvals if a.waiting):
        _err(f"waiting for approval of step {waiting.step}; decide with:\n  {waiting.approve}\n")
        _err(f"  {waiting.reject}\n")
    _after_run(report, report_dir, output_format, path, metrics_push, otlp_endpoint, terminal)
    raise typer.Exit(report.exit_code)


_DRY_RUN_OPTIONS = frozenset({"path", "inputs", "inputs_file", "dry_run"})


def _refuse_run_options(ctx: typer.Context) -> None:
    """A dry run prints the plan: an option that shapes the run itself would be ignored."""
    given = [
        "/".join([param.opts[0], *param.secondary_opts])  # --show-text/--no-show-text: either
        for param in ctx.command.params
        if param.name not in _DRY_RUN_OPTIONS and _given(ctx, param.name)
    ]
    if given:
        fail(
            f"--dry-run prints the plan and runs nothing, so {', '.join(given)} would be "
            f"ignored: drop {'it' if len(given) == 1 else 'them'}, or run without --dry-run"
        )


def _refuse_display_options(progress: ProgressMode, show_text: bool | None) -> None:
    """--quiet turns the display off: progress or text asked for with it would be dropped."""
    ignored = [f"--progress {progress.value}"] if progress is not ProgressMode.auto else []
    ignored += ["--show-text"] if show_text else []
    if ignored:
        fail(
            f"--quiet prints only the result, so {', '.join(ignored)} would be ignored: "
            "drop one or the other"
        )


def _given(ctx: typer.Context, name: str | None) -> bool:
    """Whether the command line set this parameter."""
    source = ctx.get_parameter_source(name or "")
    return source is not None and source.name == "COMMANDLINE"


def _approvals(
    approve: list[str], reject: list[str], reason: str | None, terminal: "Terminal | None"
) -> "ApprovalOptions":
    """The decisions the command line gives, and who asks on a terminal (stdin and stdout
    both one, not --no-input, not in CI): nobody, in CI."""
    from agnoctl.engine.approval import Answer, ApprovalOptions

    both = sorted(set(approve) & set(reject))
    if both:
        fail(f"--approve and --reject both name {', '.join(both)}: choose one")
    if reason is not None and not (approve or reject):
        fail("--reason goes with --approve STEP or --reject STEP")
    decisions = {step: Answer(True, reason) for step in approve}
    decisions |= {step: Answer(False, reason) for step in reject}
    if terminal is not None and sys.stdin.isatty() and sys.stdout.isatty() and not _in_ci():
        from agnoctl.approval_prompt import TerminalPrompter

        prompter = TerminalPrompter(terminal.paused, sys.stdin, sys.stdout)
        return ApprovalOptions(decisions, prompter, abandon=prompter.abandon)
    return ApprovalOptions(decisions)


def _in_ci() -> bool:
    """Whether a CI service runs this (``CI`` set, as GitHub Actions, GitLab, Buildkite and
    CircleCI set it): some give the job a pseudo-terminal (Buildkite, ``docker run -t``), on
    which a question would wait for an answer nobody can type."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _resume_hint(path: Path, report_dir: Path | None, resume: str | None, run_id: str) -> str:
    """How to carry on an interrupted run: `latest` when that names it, else its directory."""
    from agnoctl.engine.rundir import resume_command

    if report_dir is not None:
        ref = str(report_dir)
    elif resume in (None, "latest"):
        ref = "latest"
    else:
        ref = run_id
    return f"note: the finished work is kept; carry on with: {resume_command(path, ref)}\n"


def _run_note() -> "Subscription":
    """Writes what the engine notes as a run starts (`--resume latest` with nothing to
    resume): told of that event alone."""
    from agnoctl.events import SegmentStarted, Subscription

    def write(entry: "Entry") -> None:
        assert isinstance(entry.event, SegmentStarted)
        if entry.event.note is not None:
            _err(f"note: {entry.event.note}\n")

    return Subscription((SegmentStarted,), write)


def _show_text(asked: bool | None, mode: "Mode", stream: IO[str]) -> bool | None:
    """Whether the live display shows the text of running steps: True for every one, None
    while one alone writes (the default on a terminal), False never. Never in plain lines (a
    CI log, a pipe), where asking for it is refused; by default not when stdout is no
    terminal, even with ``--progress live``."""
    if asked and mode != "live":
        fail("--show-text needs the live display: run on a terminal, or with --progress live")
    if asked is None and not (mode == "live" and stream.isatty()):
        return False
    return True if asked else asked


def _cache_mode(no_cache: bool, cache_only: bool, *, cache_dir: bool) -> "CacheMode":
    """The run's cache mode; ``cache_dir``: whether --cache-dir was given."""
    if no_cache and cache_only:
        fail("--no-cache and --cache-only contradict each other; choose one")
    if no_cache and cache_dir:
        fail(
            "--no-cache turns the response cache off, so --cache-dir would be ignored: "
            "drop one or the other"
        )
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
    from agnoctl.engine.rundir import RUNS_DIR
    from agnoctl.errors import UsageError
    from agnoctl.reports.metrics import run_events

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
        _err(f"warning: {exc}\n")


# ---------------------------------------------------------------------------- tools

tools_app = _typer("What the agents of a workflow may call.")
app.add_typer(tools_app, name="tools")


@tools_app.command("list", cls=_Command)
def tools_list(path: WorkflowArgument, output_format: JsonFormatOption = TextOrJson.text) -> None:
    """Start the workflow's MCP servers and show, per agent, the tools it would see.

    Declared tools too, with their descriptions. Exit 1 when a server cannot start or list
    its tools (the message names its entry), 2 when the workflow is invalid, 130 when
    interrupted (the servers are ended).
    """
    workflow = _load_or_exit(path)
    from agnoctl.errors import AgnoctlError
    from agnoctl.tools.listing import list_tools

    try:
        listed = list_tools(workflow, path)
    except AgnoctlError as exc:
        fail(str(exc), ExitCode.FAILED)
    if listed is None:  # SIGINT, SIGTERM or SIGHUP: the servers are closed
        _err("interrupted\n")
        raise typer.Exit(ExitCode.INTERRUPTED)
    if output_format is TextOrJson.json:
        import json
        from dataclasses import asdict

        rows = {agent: [asdict(tool) for tool in tools] for agent, tools in listed.items()}
        _out(json.dumps({"agents": rows}, indent=2) + "\n")
        return
    for agent, tools in listed.items():
        _out(f"{agent}: {len(tools)} tool(s)\n")
        for tool in tools:
            origin = tool.kind if tool.kind != "mcp" else f"MCP server {tool.source}"
            summary = tool.description.strip().splitlines()[0] if tool.description.strip() else ""
            _out(f"  {tool.name} ({origin}){': ' + summary if summary else ''}\n")


# ---------------------------------------------------------------------------- runs, report

runs_app = _typer("List the runs in .agnoctl/runs.")
app.add_typer(runs_app, name="runs")
report_app = _typer("Show one run's report, or compare two.")
app.add_typer(report_app, name="report")


class DiffFormatChoice(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


@runs_app.command("list", cls=_Command)
def runs_list(
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="Newest runs shown.")
    ] = 20,
    output_format: Annotated[
        TextOrJson,
        typer.Option(
            "--format", metavar=_choices(TextOrJson), help="text (a table) or json (JSON lines)."
        ),
    ] = TextOrJson.text,
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="The former --format json.")
    ] = False,
) -> None:
    """The runs, newest first: id, workflow, status, duration and cost."""
    from agnoctl.reports.history import list_runs

    runs = list_runs(runs_dir)[:limit]
    if as_json or output_format is TextOrJson.json:
        _write_runs_json(runs)
        return
    if not runs:
        _out(f"no runs in {runs_dir} yet: `agnoctl run <workflow>` makes one\n")
        return
    from agnoctl.terminal import Terminal, runs_table

    _print_table(Terminal("plain"), runs_table(runs))


def _write_runs_json(runs: "list[RunSummary]") -> None:
    import json

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
        _out(json.dumps(row) + "\n")


@report_app.command("show", cls=_Command)
def report_show(
    run: Annotated[
        str,
        typer.Argument(metavar="RUN", help="Run id, `latest`, a run directory or report.json."),
    ] = "latest",
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
    output_format: JsonFormatOption = TextOrJson.text,
) -> None:
    """One run at a glance: every step, its gates, and where the full report is."""
    from agnoctl.errors import UsageError
    from agnoctl.reports.history import load_report, resolve_run
    from agnoctl.terminal import Terminal, gates_table

    try:
        run_dir = resolve_run(run, runs_dir)
        report = load_report(run, runs_dir)
    except UsageError as exc:
        fail(str(exc))
    if output_format is TextOrJson.json:  # report.json as it is, for tools
        _out(report.dumps())
        return
    try:
        gates = gates_table(report)  # a big fan-out's items file read, whole or refused
    except UsageError as exc:
        fail(str(exc))
    terminal = Terminal("plain")
    terminal.run_finished(report, run_dir)
    if gates.row_count:
        _print_table(terminal, gates)
    html = run_dir / "report.html"
    if html.is_file():
        _out(f"full report: {html}\n")


def _tolerance(value: float) -> float:
    """A finite number, 0 or more: click's own range check calls NaN "less than 0", and inf
    (also what `1e400` parses to) would reach `--format json` as `Infinity`, which no strict
    JSON reader takes."""
    import math

    if not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(
            f"must be a finite number, 0 or more (such as 0.05), not {value:g}"
        )
    return value


@report_app.command("diff", cls=_Command)
def report_diff(
    run_a: Annotated[
        str,
        typer.Argument(metavar="BASELINE", help="The baseline: run id, `latest`, a directory..."),
    ],
    run_b: Annotated[
        str, typer.Argument(metavar="RUN", help="The run compared with it.")
    ] = "latest",
    output_format: Annotated[
        DiffFormatChoice,
        typer.Option(
            "--format",
            metavar=_choices(DiffFormatChoice),
            help="text, json, or markdown (PR comments).",
        ),
    ] = DiffFormatChoice.text,
    fail_on_regression: Annotated[
        bool,
        typer.Option("--fail-on-regression", help="Exit 1 when RUN regressed against BASELINE."),
    ] = False,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            metavar="X",
            help="Score gates: how much worse a value may get, 0 or more (see docs).",
            callback=_tolerance,
        ),
    ] = 0.05,
    runs_dir: RunsDirOption = _DEFAULT_RUNS_DIR,
) -> None:
    """What changed from BASELINE to RUN: statuses, gates, outputs, cost and latency.

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
    _out(render_diff(delta, output_format.value))
    if fail_on_regression and delta.regressed:
        raise typer.Exit(ExitCode.FAILED)


def main() -> None:
    """Run the command line; ends in SystemExit with the exit code, like any typer app."""
    _reopen_closed_streams()
    _printable_streams()
    try:
        # Named `agnoctl` under `python -m agnoctl` too: completion scripts call the executable.
        app(prog_name=_PROGRAM)
    except KeyboardInterrupt:
        _err("interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
    except OSError as exc:
        # What the system refused under a command, such as output to a full disk: one line,
        # never a traceback. (A reader that went away, `agnoctl ... | head`, is no failure:
        # `_out` drops the rest of the output, and the command keeps its exit code.)
        _drop_pending_output()
        where = f"{exc.filename}: " if exc.filename else ""  # the file it was, when one was
        _err(f"error: {where}{exc.strerror or exc}\n")
        sys.exit(ExitCode.FAILED)


def _print_table(terminal: "Terminal", table: object) -> None:
    """Print a table as ``_out`` prints text: a reader that went away ends nothing."""
    try:
        terminal.console.print(table)
    except BrokenPipeError:
        _drop_pending_output()


def _reopen_closed_streams() -> None:
    """A stream the caller closed (`agnoctl plan wf.yaml >&-`, `<&-`) starts Python with it
    None, and its first use was a traceback, exit 1. A closed output is a reader gone before
    it read, a closed input one that is empty: each is the null device, whose descriptor also
    keeps the stream's number from the next file opened (which a command step would inherit
    as its stdin or stdout)."""
    for fd, name, flags, mode in (
        (0, "stdin", os.O_RDONLY, "r"),
        (1, "stdout", os.O_WRONLY, "w"),
        (2, "stderr", os.O_WRONLY, "w"),
    ):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, flags)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        os.set_inheritable(fd, True)  # os.open's own is not: a program run would lack it
        stream = open(fd, mode, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        setattr(sys, name, stream)


def _printable_streams() -> None:
    """Let stdout show what its encoding cannot hold as escapes, as stderr does, rather than
    end the command in a traceback: `→` and `·` of a report under Windows' cp1252 or
    `PYTHONIOENCODING=ascii`, a file name that is not UTF-8 under `PYTHONIOENCODING=utf-8`
    (Python's own choice, `surrogateescape` in a UTF-8 locale, is kept)."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        with suppress(OSError, ValueError):
            stream.reconfigure(errors="backslashreplace")


def _drop_pending_output() -> None:
    """Point stdout at the null device, so that the text that could not be written is not
    tried again (and refused again, with a traceback) when the process ends."""
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file descriptor (an in-process caller's)
        pass


def console() -> NoReturn:
    """The `agnoctl` executable (and `python -m agnoctl`): `main`, then the process ends.

    It ends as the interpreter would, without the teardown that frees every object one by one
    and by then has nothing left to save: that teardown was 5 % of a small `agnoctl run`'s
    instructions (104 M) and 86 M after validating a 10,000-step file. What an ending does
    besides is done first: waiting for the threads that are ending (the event loop's worker
    threads stop as it closes), the atexit work (exporters flushing, logging closing its
    files) and flushing the output. While another thread still runs past that, the
    interpreter ends as usual, since it would wait for that thread or its atexit work might;
    so does an exit that is not a number and an output that cannot be flushed, which the usual
    ending reports. `main()` itself always ends in SystemExit, for in-process callers.
    """
    try:
        main()
    except SystemExit as end:
        code = end.code
        if (code is None or isinstance(code, int)) and _threads_ended() and _flushed():
            # The ending's own step, private to the atexit module but declared by typeshed:
            # the callbacks are cleared as they run, so a usual ending after it repeats none.
            atexit._run_exitfuncs()
            if _flushed():
                os._exit(code or 0)
        raise
    raise AssertionError("main() ends in SystemExit")


_THREAD_GRACE = 0.5
"""Seconds a thread may take to end after the command did: one that was told to stop (a
worker thread of the closed event loop) ends in far less, even on a loaded machine."""


def _threads_ended() -> bool:
    """Whether every thread but the main one has ended, once those that were ending are
    waited for (the interpreter's ending waits for them too; not for daemon threads, which
    an ending abandons, and which run until then: an exporter's, flushed by its atexit work,
    gets the usual ending)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(_THREAD_GRACE)
    return threading.active_count() == 1


def _flushed() -> bool:
    """Flush what the command printed; False when that fails, so that the normal ending
    reports it as it always has. A reader of stdout that went away is no failure (see
    ``_out``): what it did not read is dropped."""
    try:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _drop_pending_output()
            sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return False
    return True
