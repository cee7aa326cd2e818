"""What ``report.html`` shows, worked out from the report: the page's view, no markup.

The DAG is laid out by levels (a step's level is one more than its deepest need, and each
column is ordered by the mean position of its needs, which removes most crossings); the
timeline has a row per step, for_each item and loop iteration, with a bar per attempt and
retry wait; a big run is cut to what a browser opens quickly (``MAX_*``: the failed and
retried steps are detailed first), and every cut says what it left out. ``reports/html.py``
draws it.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agnoctl.engine.resume import step_of
from agnoctl.printable import clipped
from agnoctl.reports.model import (
    AttemptReport,
    CostTotals,
    ItemReport,
    LoopIterationReport,
    RunReport,
    StepReport,
    attempt_outcome,
)
from agnoctl.reports.summary import resumed_note

if TYPE_CHECKING:
    from agnoctl.spec.models import StepSpec, Workflow

MAX_TEXT = 20_000
"""Characters of one output, prompt or error shown; report.json has them whole."""
MAX_ROWS = 400
"""Timeline rows shown; a bigger fan-out is cut (and says so)."""
MAX_ITEMS = 200
"""for_each items listed per step."""
MAX_NODES = 300
"""Top-level steps drawn in the DAG; a bigger workflow draws its first ones (and says so)."""
MAX_DETAILS = 300
"""Steps given a details section; a bigger run details its failed and retried steps first,
then the others in order, and says how many more report.json holds. A page of 10,000
detailed steps would take seconds to write and more to open."""
MAX_COST_ROWS = 100
"""Rows of the cost-by-step table; a bigger run lists its most expensive steps."""
_NODE_W, _COL_W, _NODE_H, _GAP, _PAD = 180, 230, 46, 18, 16
LINE_H = 15
"""Height of one child's line in a group's box in the DAG."""
CHILD_LINES = 6
"""Children listed in a group's box; more are counted."""
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Child:
    label: str
    status: str


@dataclass
class Node:
    path: str
    anchor: str
    status: str
    detail: str
    x: float = 0.0
    y: float = 0.0
    height: float = _NODE_H
    children: list[Child] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    conditional: bool = False


@dataclass(frozen=True)
class Edge:
    d: str
    conditional: bool


@dataclass(frozen=True)
class Bar:
    left: float
    width: float
    kind: str  # ok, fail, wait, span, run
    title: str


@dataclass(frozen=True)
class Row:
    anchor: str
    label: str
    depth: int
    status: str
    failed: bool
    retried: bool
    bars: list[Bar]
    ran_on: str | None = None  # the Ray node of its last attempt (`--executor ray`)


@dataclass(frozen=True)
class Item:
    index: int
    item: str
    status: str
    attempts: int
    output: str
    error: str | None


@dataclass(frozen=True)
class StepView:
    path: str
    anchor: str
    kind: str
    status: str
    label: str
    failed: bool
    retried: bool
    depth: int
    step: StepReport
    prompt: str | None
    prompt_label: str
    instructions: str | None
    output: str
    items: list[Item]
    items_cut: int


@dataclass
class _Anchors:
    used: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)  # the anchors handed out, for O(1) look-ups

    def __call__(self, path: str) -> str:
        if path in self.used:
            return self.used[path]
        base = "step-" + _UNSAFE_ID.sub("_", path)
        anchor, n = base, 2
        while anchor in self.taken:
            anchor, n = f"{base}-{n}", n + 1
        self.used[path] = anchor
        self.taken.add(anchor)
        return anchor


@dataclass(frozen=True)
class Page:
    """What the page shows, worked out: the drawing of the DAG, the timeline's rows, the steps
    detailed, and what each part leaves out."""

    report: RunReport
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float
    nodes_cut: int
    workflow_known: bool
    ticks: list[tuple[float, str]]
    rows: list[Row]
    rows_cut: int
    ran_on: list[str]
    """The Ray nodes the rows ran on, in order of first use; empty for a run on one machine
    (the timeline then has no "group by node")."""
    steps: list[StepView]
    steps_cut: int
    cost_by_step: dict[str, CostTotals]
    cost_steps_cut: int
    resumed: str | None


def page_view(report: RunReport, workflow: Workflow | None = None) -> Page:
    """The page of ``report``; ``workflow`` adds the DAG's edges and the steps' prompts."""
    report = _with_items_read(report)
    anchors = _Anchors()  # handed out in page order: the DAG's, the timeline's, the details'
    drawn = dict(itertools.islice(report.steps.items(), MAX_NODES))
    nodes = _layout(_nodes(drawn, workflow, anchors))
    rows = _rows(report, anchors)
    every_step = list(report.all_steps())
    detailed = _detailed(every_step)
    return Page(
        report=report,
        nodes=nodes,
        edges=_edges(nodes),
        width=max((n.x for n in nodes), default=0) + _NODE_W + 2 * _PAD,
        height=max((n.y + n.height for n in nodes), default=0) + _PAD,
        nodes_cut=len(report.steps) - len(drawn),
        workflow_known=workflow is not None,
        ticks=_ticks(report.duration_ms),
        rows=rows,
        rows_cut=max(0, _row_count(report) - MAX_ROWS),
        ran_on=list(dict.fromkeys(row.ran_on for row in rows if row.ran_on is not None)),
        steps=[_step_view(step, workflow, anchors) for step in detailed],
        steps_cut=len(every_step) - len(detailed),
        cost_by_step=_cost_by_step(report),
        cost_steps_cut=max(0, len(report.cost.by_step) - MAX_COST_ROWS),
        resumed=resumed_note(report),
    )


def _with_items_read(report: RunReport) -> RunReport:
    """``report`` with the first ``MAX_ITEMS`` items of each fan-out that keeps them in the
    run's items file read back (the page draws no more of a step's items): a copy, the
    report itself when every step lists its items."""
    if not any(_spilled(step) for step in report.all_steps()):
        return report
    shown = report.model_copy(deep=True)
    for step in shown.all_steps():
        if _spilled(step):
            step.items = list(itertools.islice(report.items_of(step), MAX_ITEMS))
    return shown


def _spilled(step: StepReport) -> bool:
    return step.items is None and step.items_file is not None


def _item_count(step: StepReport) -> int:
    """A fan-out's items, also those its items file holds beyond what the page read."""
    if step.items_file is not None:
        return step.total or 0
    return len(step.items or ())


def seconds(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def pretty(value: Any) -> str:
    """An output as shown: text as it is, anything else as indented JSON; cut when long."""
    if value is None:
        return ""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    )
    if len(text) > MAX_TEXT:
        return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT} more characters in report.json)"
    return text


def _status_label(execution: StepReport | ItemReport) -> str:
    label = execution.status + (f": {execution.reason}" if execution.reason else "")
    if isinstance(execution, StepReport) and execution.total is not None:
        label += f" ({execution.succeeded}/{execution.total})"
    return label


def _retried(execution: StepReport | ItemReport) -> bool:
    if len(execution.attempts) > 1:
        return True
    return isinstance(execution, StepReport) and any(
        len(item.attempts) > 1 for item in execution.items or ()
    )


def _failed(execution: StepReport | ItemReport) -> bool:
    """Failed, failed a gate on its last attempt (a warn gate too), or has a failed item."""
    last = max((g.attempt or 0 for g in execution.gates), default=0)
    if execution.status == "failed" or any(
        not g.passed and (g.attempt or 0) == last for g in execution.gates
    ):
        return True
    return isinstance(execution, StepReport) and any(
        item.status == "failed" for item in execution.items or ()
    )


# --------------------------------------------------------------------------- the DAG


def _nodes(
    steps: dict[str, StepReport], workflow: Workflow | None, anchors: _Anchors
) -> list[Node]:
    """Boxes of the top-level ``steps`` drawn, with edges only between them."""
    nodes = []
    for path, step in steps.items():
        spec = workflow.steps.get(path) if workflow is not None else None
        node = Node(path=path, anchor=anchors(path), status=step.status, detail=_detail(step))
        if spec is not None:
            node.needs = [need for need in spec.needs if need in steps]
            node.conditional = spec.if_ is not None
        for child_id, child in (step.steps or {}).items():
            node.children.append(Child(f"{child_id}: {_status_label(child)}", child.status))
        shown = min(len(node.children), CHILD_LINES)
        extra = 1 if len(node.children) > CHILD_LINES else 0
        node.height = _NODE_H + (shown + extra) * LINE_H
        nodes.append(node)
    return nodes


def _detail(step: StepReport) -> str:
    parts = [step.kind, _status_label(step)]
    if step.loop is not None:
        parts.append(f"{step.loop.iterations} iteration(s)")
    if len(step.attempts) > 1:
        parts.append(f"{len(step.attempts)} attempts")
    return " · ".join(parts)


def _layout(nodes: list[Node]) -> list[Node]:
    """Columns by level, each ordered by the mean row of its needs."""
    by_path = {node.path: node for node in nodes}
    levels: dict[str, int] = {}

    def level(node: Node, seen: frozenset[str] = frozenset()) -> int:
        if node.path not in levels:
            parents = [by_path[n] for n in node.needs if n not in seen]
            inner = seen | {node.path}
            levels[node.path] = 1 + max((level(p, inner) for p in parents), default=-1)
        return levels[node.path]

    columns: dict[int, list[Node]] = {}
    for node in nodes:
        columns.setdefault(level(node), []).append(node)
    rank: dict[str, float] = {}
    for column_level in sorted(columns):
        column = columns[column_level]
        order = {node.path: i for i, node in enumerate(column)}
        column.sort(key=lambda n: (_mean_rank(n, rank, order[n.path]), order[n.path]))
        y = float(_PAD)
        for position, node in enumerate(column):
            rank[node.path] = position
            node.x = _PAD + column_level * _COL_W
            node.y = y
            y += node.height + _GAP
    return nodes


def _mean_rank(node: Node, rank: dict[str, float], fallback: int) -> float:
    ranks = [rank[need] for need in node.needs if need in rank]
    return sum(ranks) / len(ranks) if ranks else float(fallback)


def _edges(nodes: list[Node]) -> list[Edge]:
    by_path = {node.path: node for node in nodes}
    edges = []
    for node in nodes:
        for need in node.needs:
            source = by_path[need]
            x1, y1 = source.x + _NODE_W, source.y + _NODE_H / 2
            x2, y2 = node.x, node.y + _NODE_H / 2
            bend = max(30.0, (x2 - x1) / 2)
            d = (
                f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} "
                f"{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            )
            edges.append(Edge(d, node.conditional))
    return edges


# --------------------------------------------------------------------------- the timeline


def _rows(report: RunReport, anchors: _Anchors) -> list[Row]:
    start = report.started
    total = max(report.duration_ms, 1e-3)
    rows: list[Row] = []
    for label, path, depth, step in report.rows():  # a loop's every iteration, in turn
        if isinstance(step, LoopIterationReport):
            rows.append(_iteration_row(step, label, anchors(path), depth, start, total))
            continue
        rows.append(
            Row(
                anchor=anchors(step.path),
                label=step.path,
                depth=depth,
                status=step.status,
                failed=_failed(step),
                retried=_retried(step),
                bars=_bars(step, start, total),
                ran_on=_ran_on(step),
            )
        )
        for item in step.items or ():
            rows.append(
                Row(
                    anchor=anchors(step.path),
                    label=f"{step.path}[{item.index}]",
                    depth=depth + 1,
                    status=item.status,
                    failed=_failed(item),
                    retried=_retried(item),
                    bars=_bars(item, start, total),
                    ran_on=_ran_on(item),
                )
            )
        if len(rows) >= MAX_ROWS:
            return rows[:MAX_ROWS]
    return rows


def _iteration_row(
    iteration: LoopIterationReport,
    label: str,
    anchor: str,
    depth: int,
    start: datetime,
    total: float,
) -> Row:
    title = f"iteration {iteration.number}: {iteration.status} · {seconds(iteration.duration_ms)}"
    kind = "run" if iteration.status == "succeeded" else "fail"
    bar = _bar(iteration.started, iteration.duration_ms, start, total, kind, title)
    failed = iteration.status == "failed"
    return Row(anchor, label, depth, iteration.status, failed, False, [bar])


def _row_count(report: RunReport) -> int:
    return sum(
        1 + (_item_count(row.entry) if isinstance(row.entry, StepReport) else 0)
        for row in report.rows()
    )


def _ran_on(execution: StepReport | ItemReport) -> str | None:
    """The Ray node of the last attempt that ran on one, if any."""
    return next((a.node for a in reversed(execution.attempts) if a.node is not None), None)


def _bars(execution: StepReport | ItemReport, start: datetime, total: float) -> list[Bar]:
    bars = []
    # A group's span, then its own attempts (its gates' judges) over it.
    nested = bool(execution.steps or (isinstance(execution, StepReport) and execution.items))
    if execution.started is not None and (nested or not execution.attempts):
        kind = "span" if execution.status == "succeeded" else "fail"
        if isinstance(execution, StepReport) and nested:
            kind = "run"
        title = f"{_status_label(execution)} · {seconds(execution.duration_ms)}"
        bars.append(_bar(execution.started, execution.duration_ms, start, total, kind, title))
    for attempt in execution.attempts:
        bars.append(_attempt_bar(attempt, start, total))
        if attempt.delay is not None and attempt.finished is not None:
            title = f"retry wait after attempt {attempt.number} · {attempt.delay:.2f} s"
            bars.append(_bar(attempt.finished, attempt.delay * 1000, start, total, "wait", title))
    return bars


def _attempt_bar(attempt: AttemptReport, start: datetime, total: float) -> Bar:
    if attempt.error is not None:
        kind, outcome = "fail", f"failed: {attempt.error.kind}"
    elif attempt_outcome(attempt) == "cancelled":  # cut short (Ctrl-C, a limit): unfinished
        kind, outcome = "cut", "cancelled"
    else:
        kind, outcome = "ok", "ok"
    title = f"attempt {attempt.number} · {seconds(attempt.duration_ms)} · {outcome}"
    if attempt.model:
        title += f" · {attempt.model}"
    if attempt.ttft_ms is not None:
        title += f" · first token {seconds(attempt.ttft_ms)}"
    return _bar(attempt.started, attempt.duration_ms, start, total, kind, title)


def _bar(
    begin: datetime, duration_ms: float | None, start: datetime, total: float, kind: str, title: str
) -> Bar:
    offset = (begin - start).total_seconds() * 1000
    left = min(max(offset / total * 100, 0.0), 99.5)
    width = max((duration_ms or 0.0) / total * 100, 0.4)
    return Bar(round(left, 3), round(min(width, 100.0 - left), 3), kind, title)


def _ticks(duration_ms: float) -> list[tuple[float, str]]:
    return [(i * 25.0, seconds(duration_ms * i / 4)) for i in range(5)]


# --------------------------------------------------------------------------- step details


def _detailed(steps: list[StepReport]) -> list[StepReport]:
    """The steps given a details section, in page order: all of them, or for a big run the
    failed and retried ones first, then the others in order, up to ``MAX_DETAILS``."""
    if len(steps) <= MAX_DETAILS:
        return steps
    flagged = [i for i, step in enumerate(steps) if _failed(step) or _retried(step)]
    chosen = set(flagged[:MAX_DETAILS])
    rest = (i for i in range(len(steps)) if i not in chosen)
    chosen.update(itertools.islice(rest, MAX_DETAILS - len(chosen)))
    return [steps[i] for i in sorted(chosen)]


def _cost_by_step(report: RunReport) -> dict[str, CostTotals]:
    """The cost-by-step rows: every step, or the ``MAX_COST_ROWS`` most expensive ones."""
    rows = report.cost.by_step
    if len(rows) <= MAX_COST_ROWS:
        return rows
    costly = sorted(rows.items(), key=lambda row: (-row[1].cost_usd, -row[1].tokens, row[0]))
    return dict(costly[:MAX_COST_ROWS])


def _step_view(step: StepReport, workflow: Workflow | None, anchors: _Anchors) -> StepView:
    spec = _spec(workflow, step.path)
    prompt, prompt_label, instructions = _prompt(spec, workflow)
    items = [
        Item(
            index=item.index,
            item=_short(item.item),
            status=_status_label(item),
            attempts=len(item.attempts),
            output=_short(item.output),
            error=item.error.message if item.error else None,
        )
        for item in (step.items or ())[:MAX_ITEMS]
    ]
    return StepView(
        path=step.path,
        anchor=anchors(step.path),
        kind=step.kind,
        status=step.status,
        label=_status_label(step),
        failed=_failed(step),
        retried=_retried(step),
        depth=step.path.count(".") + step.path.count("["),
        step=step,
        prompt=prompt,
        prompt_label=prompt_label,
        instructions=instructions,
        output="" if step.kind == "group" else pretty(step.output),
        items=items,
        items_cut=max(0, _item_count(step) - MAX_ITEMS),
    )


def _spec(workflow: Workflow | None, path: str) -> StepSpec | None:
    if workflow is None:
        return None
    from agnoctl.spec.dag import find_step

    return find_step(workflow, step_of(path))


def _prompt(spec: StepSpec | None, workflow: Workflow | None) -> tuple[str | None, str, str | None]:
    """(text, what it is, the agent's instructions) for the step's details."""
    if spec is None or workflow is None:
        return None, "", None
    if spec.run is not None:
        return pretty(json.dumps(spec.run, ensure_ascii=False)), "command (argv)", None
    if spec.prompt is None:
        return None, "", None
    agent = workflow.agents.get(spec.agent or "")
    instructions = agent.instructions if agent is not None else None
    return pretty(spec.prompt), "prompt (template)", instructions


def _short(value: Any) -> str:
    """A for_each item or its output on one line, cut to a table cell."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return clipped(" ".join(text.split()), 160)


__all__ = [
    "CHILD_LINES",
    "LINE_H",
    "MAX_COST_ROWS",
    "MAX_DETAILS",
    "MAX_ITEMS",
    "MAX_NODES",
    "MAX_ROWS",
    "MAX_TEXT",
    "Node",
    "Page",
    "Row",
    "StepView",
    "page_view",
    "pretty",
    "seconds",
]
