"""Run history: the runs in ``.agnoctl/runs``, one run's report, and the diff of two runs.

``agnoctl report diff A B`` compares two reports step by step: status changes, gate results and
values, output changes, cost and latency deltas. It is the CI gate of a prompt change: run the
workflow before and after, then ``--fail-on-regression`` exits 1 when B is worse than A.

What counts as a regression (B against A):

- the run passed in A and did not in B;
- a step or for_each item succeeded in A and failed in B, or was skipped in B because a limit
  was reached (``budget``) or the run was stopped (``cancelled``); a step skipped because its
  upstream failed is not counted again (its upstream already is);
- a gate passed in A and failed in B (warn gates included: they exist to be watched);
- the value of a score gate got worse by more than the tolerance: ``threshold`` and ``judge``
  gates with a lower bound (``>= min``) going down, with an upper bound (``<= max``) going up.
  "More than the tolerance" means a change larger than ``tolerance * max(1, |A's value|)``:
  an absolute tolerance for scores in [0, 1], a relative one for larger numbers.

Steps present in only one run are listed as added or removed, never as regressions. Cost and
latency deltas are reported, never judged: they vary from run to run.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError
from pydantic_core import from_json

from agnoctl.engine.rundir import JOURNAL, LATEST, RUNS_DIR, latest_run, refuse_copied_latest
from agnoctl.errors import UsageError
from agnoctl.events import SegmentStarted, read_events
from agnoctl.money import usd, usd_change
from agnoctl.printable import clipped, one_line, shown_line
from agnoctl.reports.model import (
    GateReport,
    ItemReport,
    RunReport,
    StepReport,
    first_error,
    last_checked,
)

DiffFormat = Literal["text", "json", "markdown"]
DEFAULT_TOLERANCE = 0.05
_MAX_DIFF_LINES = 60
_MAX_CELL = 120
_BOUND = re.compile(r"(>=|<=)\s*-?[0-9.eE+-]+$")
_RUN_STAMP = re.compile(r"^(\d{8}T\d{6}Z)")
_SCORE_GATES = frozenset({"threshold", "judge"})
_COUNTED_SKIPS = frozenset({"budget", "cancelled"})


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of ``agnoctl runs list``."""

    run_id: str
    workflow: str | None
    status: str
    """passed, failed, interrupted, or incomplete (no report.json: the process was killed)."""
    started: datetime | None
    duration_ms: float | None
    cost_usd: float | None
    path: Path


def list_runs(runs_dir: Path = RUNS_DIR) -> list[RunSummary]:
    """Every run directory under ``runs_dir``, newest first."""
    if not runs_dir.is_dir():
        return []
    runs = [
        _summary(entry)
        for entry in runs_dir.iterdir()
        if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".")
    ]
    return sorted(runs, key=_newest_first, reverse=True)


def _newest_first(run: RunSummary) -> tuple[bool, datetime, str]:
    """By when it started (a run named by --report-dir has no time in its name), then name;
    a report's time without a zone (one written by hand) is taken as UTC, as agnoctl's are."""
    started = run.started or datetime.min
    aware = started if started.tzinfo else started.replace(tzinfo=UTC)
    return run.started is not None, aware, run.run_id


def _summary(run_dir: Path) -> RunSummary:
    try:
        # orjson: its bounded nesting makes a report.json nested past it a bad one (a
        # ValueError), where json's parser ran out of stack.
        data = orjson.loads((run_dir / "report.json").read_bytes())
        return RunSummary(
            run_id=run_dir.name,  # what `report show` and `--resume` look it up by
            workflow=(data.get("workflow") or {}).get("name"),
            status=str(data.get("status", "incomplete")),
            started=_parse_time(data.get("started")),
            duration_ms=data.get("duration_ms"),
            cost_usd=((data.get("cost") or {}).get("total") or {}).get("cost_usd"),
            path=run_dir,
        )
    except (OSError, ValueError, AttributeError):
        return _incomplete(run_dir)


def _incomplete(run_dir: Path) -> RunSummary:
    workflow = None
    events = run_dir / "events.jsonl"
    if events.is_file():
        first = next(iter(read_events(events)), None)
        if first is not None and isinstance(first.event, SegmentStarted):
            workflow = first.event.workflow
    stamp = _RUN_STAMP.match(run_dir.name)
    started = datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%S%z") if stamp else None
    return RunSummary(run_dir.name, workflow, "incomplete", started, None, None, run_dir)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def resolve_run(ref: str, runs_dir: Path = RUNS_DIR) -> Path:
    """The run directory ``ref`` names: a run id, ``latest``, a directory or a report.json."""
    given = Path(ref)
    if given.is_file() and given.name.endswith(".json"):
        return given.parent
    # A run directory by its path: also one without its report (a killed run), which
    # load_report then names as such, as it does for a run id.
    if given.is_dir() and ((given / "report.json").exists() or (given / JOURNAL).is_file()):
        return given
    if ref == LATEST:
        refuse_copied_latest(runs_dir / LATEST)
        found = latest_run(runs_dir)
        if found is None:
            raise UsageError(f"no runs yet in {runs_dir}: `agnoctl run` writes one")
        return found
    candidate = runs_dir / ref
    # A run is a folder with its journal: not `.`, `..` or `` (the runs folder and the one
    # above it, which a report could only be sought in by mistake).
    if "/" not in ref and (candidate / JOURNAL).is_file():
        return candidate
    raise UsageError(
        f"no run {ref!r} in {runs_dir}: give a run id (`agnoctl runs list`), `latest`, "
        "a run directory or a report.json"
    )


def load_report(ref: str, runs_dir: Path = RUNS_DIR) -> RunReport:
    """The report of the run ``ref`` names (see ``resolve_run``); a JSON file named is read
    itself, whatever its name (a baseline kept as ``baseline.json`` beside a run's own)."""
    given = Path(ref)
    is_file = given.is_file() and given.name.endswith(".json")
    path = given if is_file else resolve_run(ref, runs_dir) / "report.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        # `--resume` finds a run by its id among the runs, else by its directory's path.
        run_dir = path.parent
        among_runs = (runs_dir / run_dir.name).resolve() == run_dir.resolve()
        named = run_dir.name if among_runs else shlex.quote(str(run_dir))
        raise UsageError(
            f"{path} does not exist: the run was killed before it wrote its report; "
            f"`agnoctl run <workflow> --resume {named}` finishes it"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a valid report: it is not UTF-8 text") from None
    try:
        report = RunReport.model_validate_json(text).located(path.parent)
    except ValidationError as exc:
        raise UsageError(f"{path} is not a valid report: {first_error(exc)}") from None
    _refuse_non_finite(text, path)
    return report


def _refuse_non_finite(text: str, path: Path) -> None:
    """pydantic reads NaN and Infinity as numbers; agnoctl never writes them (a report from
    elsewhere does), and `report diff --format json` would print them as tokens no strict
    JSON reader takes. Only a text holding one of the words is parsed again, strictly."""
    if "NaN" not in text and "Infinity" not in text:
        return
    try:
        from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        raise UsageError(
            f"{path} is not a valid report: it holds NaN or Infinity, which JSON has not ({exc})"
        ) from None


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True, slots=True)
class GateDelta:
    name: str
    passed_a: bool | None
    """None when the gate was not checked in that run."""
    passed_b: bool | None
    value_a: Any
    value_b: Any
    regression: str | None
    """Why this is a regression, or None."""


@dataclass(frozen=True, slots=True)
class StepDelta:
    path: str
    change: Literal["changed", "added", "removed"]
    status_a: str | None
    status_b: str | None
    output_changed: bool
    output_diff: list[str]
    """A unified diff of the two outputs (text, or indented JSON), cut at 60 lines."""
    gates: list[GateDelta]
    cost_a: float
    cost_b: float
    duration_ms_a: float | None
    duration_ms_b: float | None
    regressions: list[str]


@dataclass(frozen=True, slots=True)
class RunDelta:
    run_a: str
    run_b: str
    workflow_a: str
    workflow_b: str
    status_a: str
    status_b: str
    cost_a: float
    cost_b: float
    tokens_a: int
    tokens_b: int
    duration_ms_a: float
    duration_ms_b: float
    tolerance: float
    steps: list[StepDelta]
    """Steps with any difference, in A's order, then steps only B has."""
    unchanged: int
    regressions: list[str] = field(default_factory=list)
    """Every regression, run-level first, as one line each."""

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


@dataclass(frozen=True, slots=True)
class _Entry:
    """A step or one for_each item, flattened for comparison."""

    status: str
    reason: str | None
    output: Any
    gates: dict[str, GateReport]
    cost: float
    duration_ms: float | None

    @property
    def label(self) -> str:
        return f"{self.status}: {self.reason}" if self.reason else self.status


def diff_reports(a: RunReport, b: RunReport, *, tolerance: float = DEFAULT_TOLERANCE) -> RunDelta:
    """What changed from run A to run B, and which changes are regressions."""
    if not (math.isfinite(tolerance) and tolerance >= 0):  # inf: `Infinity` in the JSON
        raise UsageError(f"--tolerance must be a finite number, 0 or more, not {tolerance:g}")
    entries_a, entries_b = _entries(a), _entries(b)
    steps: list[StepDelta] = []
    unchanged = 0
    for path in [*entries_a, *(p for p in entries_b if p not in entries_a)]:
        delta = _step_delta(path, entries_a.get(path), entries_b.get(path), tolerance)
        if delta is None:
            unchanged += 1
        else:
            steps.append(delta)
    regressions = []
    if a.status == "passed" and b.status != "passed":
        regressions.append(f"run: {a.status} → {b.status} ({b.reason})")
    regressions.extend(f"{s.path}: {why}" for s in steps for why in s.regressions)
    return RunDelta(
        run_a=a.run_id,
        run_b=b.run_id,
        workflow_a=a.workflow.name,
        workflow_b=b.workflow.name,
        status_a=a.status,
        status_b=b.status,
        cost_a=a.cost.total.cost_usd,
        cost_b=b.cost.total.cost_usd,
        tokens_a=a.cost.total.tokens,
        tokens_b=b.cost.total.tokens,
        duration_ms_a=a.duration_ms,
        duration_ms_b=b.duration_ms,
        tolerance=tolerance,
        steps=steps,
        unchanged=unchanged,
        regressions=regressions,
    )


def _entries(report: RunReport) -> dict[str, _Entry]:
    entries: dict[str, _Entry] = {}
    for step in report.all_steps():
        entries[step.path] = _entry(step)
        try:
            for item in report.items_of(step):
                entries[f"{step.path}[{item.index}]"] = _entry(item)
        except FileNotFoundError as exc:
            # report.json names the file that holds a big fan-out's items; without it the
            # comparison would be wrong, so it is refused, naming what is missing.
            raise UsageError(
                f"{exc.filename} does not exist: it holds the items of step {step.path} "
                "that report.json names (items_file)"
            ) from None
    return entries


def _entry(execution: StepReport | ItemReport) -> _Entry:
    return _Entry(
        status=execution.status,
        reason=execution.reason,
        output=execution.output,
        gates=_final_gates(execution.gates),
        cost=execution.cost_usd,
        duration_ms=execution.duration_ms,
    )


def _final_gates(gates: list[GateReport]) -> dict[str, GateReport]:
    """Each gate's result on the last attempt checked (a retried gate's earlier tries are moot)."""
    final: dict[str, GateReport] = {}
    for gate in last_checked(gates):
        name, n = gate.name, 2
        while name in final:  # two gates written alike stay two gates
            name, n = f"{gate.name} #{n}", n + 1
        final[name] = gate
    return final


def _step_delta(
    path: str, a: _Entry | None, b: _Entry | None, tolerance: float
) -> StepDelta | None:
    if a is None or b is None:
        return StepDelta(
            path=path,
            change="added" if a is None else "removed",
            status_a=None if a is None else a.label,
            status_b=None if b is None else b.label,
            output_changed=False,
            output_diff=[],
            gates=[],
            cost_a=0.0 if a is None else a.cost,
            cost_b=0.0 if b is None else b.cost,
            duration_ms_a=None if a is None else a.duration_ms,
            duration_ms_b=None if b is None else b.duration_ms,
            regressions=[],
        )
    gates = [
        _gate_delta(name, a.gates.get(name), b.gates.get(name), tolerance)
        for name in [*a.gates, *(n for n in b.gates if n not in a.gates)]
    ]
    changed_gates = [g for g in gates if _gate_changed(g)]
    text_a, text_b = _canonical(a.output), _canonical(b.output)
    regressions = []
    if a.status == "succeeded" and (
        b.status == "failed" or (b.status == "skipped" and b.reason in _COUNTED_SKIPS)
    ):
        regressions.append(f"{a.label} → {b.label}")
    regressions.extend(f"gate {g.name}: {g.regression}" for g in gates if g.regression)
    # Cost and latency differ on every run: alone, they do not make a step worth listing.
    if a.label == b.label and text_a == text_b and not changed_gates:
        return None
    return StepDelta(
        path=path,
        change="changed",
        status_a=a.label,
        status_b=b.label,
        output_changed=text_a != text_b,
        output_diff=_unified(text_a, text_b) if text_a != text_b else [],
        gates=changed_gates,
        cost_a=a.cost,
        cost_b=b.cost,
        duration_ms_a=a.duration_ms,
        duration_ms_b=b.duration_ms,
        regressions=regressions,
    )


def _gate_changed(gate: GateDelta) -> bool:
    return gate.passed_a != gate.passed_b or gate.value_a != gate.value_b


def _gate_delta(
    name: str, a: GateReport | None, b: GateReport | None, tolerance: float
) -> GateDelta:
    regression = None
    if a is not None and b is not None:
        if a.passed and not b.passed:
            regression = f"passed → failed ({b.finding or 'no finding'})"
        else:
            regression = _worse(a, b, tolerance)
    return GateDelta(
        name=name,
        passed_a=None if a is None else a.passed,
        passed_b=None if b is None else b.passed,
        value_a=None if a is None else a.value,
        value_b=None if b is None else b.value,
        regression=regression,
    )


def _worse(a: GateReport, b: GateReport, tolerance: float) -> str | None:
    """Why B's score is worse than A's beyond the tolerance, or None."""
    bound = _BOUND.search(b.name)
    if b.type not in _SCORE_GATES or bound is None:
        return None
    va, vb = _number(a.value), _number(b.value)
    if va is None or vb is None:
        return None
    loss = va - vb if bound.group(1) == ">=" else vb - va
    if loss > tolerance * max(1.0, abs(va)):
        return f"value {_num(va)} → {_num(vb)}, worse by more than the tolerance {tolerance:g}"
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _canonical(output: Any) -> str:
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    return json.dumps(output, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _unified(a: str, b: str) -> list[str]:
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "A", "B", n=1, lineterm=""))
    if len(lines) > _MAX_DIFF_LINES:
        cut = len(lines) - _MAX_DIFF_LINES
        lines = [*lines[:_MAX_DIFF_LINES], f"... {cut} more line(s)"]
    return lines


# --------------------------------------------------------------------------- rendering


def render_diff(delta: RunDelta, output_format: DiffFormat = "text") -> str:
    """The diff as text (terminal), JSON (tools) or Markdown (a pull-request comment)."""
    if output_format == "json":
        data = asdict(delta) | {"regressed": delta.regressed}
        return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    if output_format == "markdown":
        return "\n".join(_markdown(delta)) + "\n"
    return "\n".join(_text(delta)) + "\n"


def _text(delta: RunDelta) -> Iterator[str]:
    yield f"A {delta.run_a} → B {delta.run_b} ({_workflows(delta)})"
    yield (
        f"run: {_arrow(delta.status_a, delta.status_b)} · "
        f"cost {_money_delta(delta.cost_a, delta.cost_b)} · "
        f"duration {_ms_delta(delta.duration_ms_a, delta.duration_ms_b)} · "
        f"tokens {_int_delta(delta.tokens_a, delta.tokens_b)}"
    )
    for step in delta.steps:
        yield ""
        yield f"{step.change} {step.path}: {one_line(_arrow(step.status_a, step.status_b))}"
        for gate in step.gates:
            mark = "  REGRESSION" if gate.regression else ""
            yield f"  gate {gate.name}: {_gate_side(gate.passed_a, gate.value_a)} → " + (
                f"{_gate_side(gate.passed_b, gate.value_b)}{mark}"
            )
        if step.change == "changed":
            yield (
                f"  cost {_money_delta(step.cost_a, step.cost_b)} · "
                f"duration {_ms_delta(step.duration_ms_a, step.duration_ms_b)}"
            )
        if step.output_changed:
            yield "  output changed:"
            yield from (f"    {shown_line(line)}" for line in step.output_diff)
    yield ""
    yield f"{len(delta.steps)} step(s) differ, {delta.unchanged} unchanged"
    yield from _regression_lines(delta, bullet="  - ")


def _markdown(delta: RunDelta) -> Iterator[str]:
    icon = "❌" if delta.regressed else "✅"
    yield f"### {icon} agnoctl report diff: `{delta.run_a}` → `{delta.run_b}`"
    yield ""
    yield "| | A | B | Δ |"
    yield "|---|---|---|---:|"
    yield f"| status | {delta.status_a} | {delta.status_b} | |"
    yield (
        f"| cost | {usd(delta.cost_a)} | {usd(delta.cost_b)} | "
        f"{usd_change(delta.cost_b - delta.cost_a)} |"
    )
    yield (
        f"| duration | {delta.duration_ms_a / 1000:.2f} s | {delta.duration_ms_b / 1000:.2f} s | "
        f"{_signed((delta.duration_ms_b - delta.duration_ms_a) / 1000, '', 2)} s |"
    )
    yield f"| tokens | {delta.tokens_a} | {delta.tokens_b} | {delta.tokens_b - delta.tokens_a:+d} |"
    if delta.steps:
        yield ""
        yield "| step | status | gates | output | cost Δ | duration Δ |"
        yield "|---|---|---|---|---:|---:|"
        yield from (_markdown_row(step) for step in delta.steps)
    if delta.regressions:
        yield ""
        yield f"**{len(delta.regressions)} regression(s)**"
        yield ""
        yield from (f"- {_md_cell(line)}" for line in delta.regressions)
    for step in delta.steps:
        if step.output_changed:
            body = "\n".join(map(shown_line, step.output_diff))
            fence = "`" * max(3, _longest_backtick_run(body) + 1)
            yield ""
            yield f"<details><summary>output of <code>{_html_text(step.path)}</code></summary>"
            yield ""
            yield f"{fence}diff"
            yield body
            yield fence
            yield ""
            yield "</details>"
    yield ""
    yield f"{len(delta.steps)} step(s) differ, {delta.unchanged} unchanged."


def _markdown_row(step: StepDelta) -> str:
    gates = "<br>".join(
        _md_cell(
            f"{'⚠️ ' if g.regression else ''}{g.name}: "
            f"{_gate_side(g.passed_a, g.value_a)} → {_gate_side(g.passed_b, g.value_b)}"
        )
        for g in step.gates
    )
    duration = ""
    if step.duration_ms_a is not None and step.duration_ms_b is not None:
        duration = f"{_signed((step.duration_ms_b - step.duration_ms_a) / 1000, '', 2)} s"
    return (
        f"| `{_md_cell(step.path)}` | {_md_cell(_arrow(step.status_a, step.status_b))} "
        f"| {gates} | {'changed' if step.output_changed else ''} "
        f"| {usd_change(step.cost_b - step.cost_a)} | {duration} |"
    )


def _regression_lines(delta: RunDelta, *, bullet: str) -> Iterator[str]:
    if not delta.regressions:
        yield "no regressions"
        return
    yield f"{len(delta.regressions)} regression(s):"
    # One line each: a regression quotes a run's or a gate's reason, a judge's finding whose
    # own lines would be GitHub workflow commands in the CI log.
    yield from (f"{bullet}{one_line(line)}" for line in delta.regressions)


def _workflows(delta: RunDelta) -> str:
    if delta.workflow_a == delta.workflow_b:
        return f"workflow {delta.workflow_a}"
    return f"workflows {delta.workflow_a} → {delta.workflow_b}"


def _arrow(a: str | None, b: str | None) -> str:
    if a == b:
        return a or "-"
    return f"{a or '(absent)'} → {b or '(absent)'}"


def _gate_side(passed: bool | None, value: Any) -> str:
    if passed is None:
        return "(absent)"
    shown = "" if value is None else f" ({_short(value)})"
    return ("passed" if passed else "failed") + shown


def _short(value: Any) -> str:
    return clipped(_num(value) if isinstance(value, float) else json.dumps(value, default=str), 40)


def _num(value: float) -> str:
    return f"{value:.6g}"


def _signed(value: float, unit: str, digits: int) -> str:
    sign = "-" if value < 0 else "+"
    return f"{sign}{unit}{abs(value):.{digits}f}"


def _money_delta(a: float, b: float) -> str:
    change = usd_change(b - a)
    if a > 0:
        change += f", {(b - a) / a * 100:+.1f}%"
    return f"{usd(a)} → {usd(b)} ({change})"


def _ms_delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return f"{_seconds(a)} → {_seconds(b)}"
    return f"{_seconds(a)} → {_seconds(b)} ({_signed((b - a) / 1000, '', 2)} s)"


def _seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def _int_delta(a: int, b: int) -> str:
    return f"{a} → {b} ({b - a:+d})"


def _md_cell(text: str) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return clipped(_html_text(flat), _MAX_CELL)


def _html_text(text: str) -> str:
    # GitHub renders HTML inside Markdown: step names and findings must not become markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


__all__ = [
    "DEFAULT_TOLERANCE",
    "DiffFormat",
    "GateDelta",
    "RunDelta",
    "RunSummary",
    "StepDelta",
    "diff_reports",
    "list_runs",
    "load_report",
    "render_diff",
    "resolve_run",
]
