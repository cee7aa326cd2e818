"""A Plan as text (terminals and CI logs), JSON (tools) or Markdown (pull-request comments).

Text and Markdown show the same sections: inputs, levels, steps, critical path, models,
providers, totals, limits, warnings and notes, assumptions. Ranges print as `min-max`, or one
number when both ends agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal

from agnoctl.plan.model import SCHEMA_VERSION, FloatRange, IntRange, Plan, StepPlan
from agnoctl.plan.units import count, limit_amount, seconds, usd

PlanFormat = Literal["text", "json", "markdown"]

_RIGHT = frozenset({"tasks", "LLM calls", "input tokens", "output tokens", "cost", "time"})


def render_plan(plan: Plan, fmt: PlanFormat) -> str:
    """The plan in one of the three formats, ending with a newline."""
    if fmt == "json":
        return plan.model_dump_json(indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(plan)
    return _text(plan)


PLAN_SCHEMA_URL = "https://raw.githubusercontent.com/agnoctl/agnoctl/main/schemas/plan.schema.json"
"""Where the committed plan schema is published (its `$id`)."""


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `agnoctl plan --format json`."""
    schema = Plan.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": PLAN_SCHEMA_URL,
        **schema,
        "title": f"agnoctl plan (schema version {SCHEMA_VERSION})",
    }


def plan_schema_text() -> str:
    """The schema as `schemas/plan.schema.json` holds it: two-space JSON, final newline."""
    return json.dumps(plan_json_schema(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- sections


_Row = tuple[str, list[str]]
"""A table row: its first cell, and the others (rows of steps share them: see _step_rows)."""


def _sections(plan: Plan) -> list[tuple[str, list[str], list[_Row]]]:
    """(title, headers, rows) of every table, shared by text and Markdown."""
    totals = plan.totals
    cost = _usd_range(totals.cost_usd) + ("" if totals.cost_complete else " + unpriced calls")
    return [
        ("Steps", _STEP_HEADERS, _step_rows(plan.steps)),
        (
            "Models",
            ["model", "price in/out per 1M", "LLM calls", "input tokens", "output tokens", "cost"],
            [
                (
                    use.model,
                    [
                        _price(use.price_input, use.price_output, use.price_source),
                        _int_range(use.llm_calls),
                        _int_range(use.input_tokens),
                        _int_range(use.output_tokens),
                        _usd_range(use.cost_usd) if use.cost_usd else "unknown",
                    ],
                )
                for use in plan.models
            ],
        ),
        (
            "Providers",
            ["provider", "type", "max concurrency", "models", "LLM calls"],
            [
                (
                    provider.name,
                    [
                        provider.type or "?",
                        str(provider.max_concurrency or "unbounded"),
                        ", ".join(provider.models),
                        _int_range(provider.llm_calls),
                    ],
                )
                for provider in plan.providers
            ],
        ),
        (
            "Totals",
            ["", "estimate"],
            [
                ("LLM calls", [_int_range(totals.llm_calls)]),
                ("input tokens", [_int_range(totals.input_tokens)]),
                ("output tokens", [_int_range(totals.output_tokens)]),
                ("cost", [cost]),
                ("time (critical path)", [_seconds_range(totals.duration_s)]),
            ],
        ),
        (
            "Limits",
            ["limit", "value", "estimate", "status"],
            [
                (
                    check.limit,
                    [
                        limit_amount(check.limit, check.value),
                        _limit_estimate(check.limit, check.estimate),
                        check.status.replace("_", " "),
                    ],
                )
                for check in plan.limits
            ],
        ),
    ]


_STEP_HEADERS = [
    "step",
    "kind",
    "model",
    "tasks",
    "LLM calls",
    "input tokens",
    "output tokens",
    "cost",
    "time",
]


def _step_rows(steps: list[StepPlan]) -> list[_Row]:
    # Thousands of steps repeat a few dozen sets of figures: make the cells after the name
    # once per set, and let the rows share them (the text table pads each list once).
    shared: dict[tuple[Any, ...], list[str]] = {}
    rows = []
    for step in steps:
        tasks, calls, sent, produced = (
            step.tasks,
            step.llm_calls,
            step.input_tokens,
            step.output_tokens,
        )
        cost, seconds = step.cost_usd, step.duration_s
        key = (
            step.kind,
            step.model,
            tasks.min,
            tasks.max,
            calls.min,
            calls.max,
            sent.min,
            sent.max,
            produced.min,
            produced.max,
            None if cost is None else (cost.min, cost.max),
            seconds.min,
            seconds.max,
        )
        cells = shared.get(key)
        if cells is None:
            kind = step.kind
            model = step.model or ("" if kind != "agent" else "?")
            cells = shared[key] = [kind, model, *_number_cells(step)]
        path = step.path
        depth = path.count(".")
        name = "  " * depth + path.rpartition(".")[2] if depth else path
        rows.append((name + _marks(step), cells))
    return rows


def _number_cells(step: StepPlan) -> list[str]:
    return [
        _int_range(step.tasks),
        _int_range(step.llm_calls),
        _int_range(step.input_tokens),
        _int_range(step.output_tokens),
        _usd_range(step.cost_usd) if step.cost_usd else "unknown",
        _seconds_range(step.duration_s),
    ]


def _marks(step: StepPlan) -> str:
    marks = []
    if step.for_each is not None:
        count = step.for_each.items
        marks.append(
            f"for_each x{count}"
            if count is not None
            else f"for_each x? (<= {step.for_each.assumed_max})"
        )
    if step.loop is not None:
        marks.append(f"loop <= {step.loop.max_iterations}")
    if step.runs == "never":
        marks.append("skipped: if is false")
    elif step.runs == "maybe" and step.condition is not None:
        marks.append("if")  # decided at run time: an `if` known true runs, unmarked
    return f" [{', '.join(marks)}]" if marks else ""


def _levels(plan: Plan) -> list[str]:
    lines = [f"{i}: {', '.join(level)}" for i, level in enumerate(plan.levels)]
    for step in plan.steps:
        if step.levels:
            lines += [f"{step.path} {i}: {', '.join(level)}" for i, level in enumerate(step.levels)]
    return lines


def _inputs(plan: Plan) -> list[str]:
    return [
        f"{name} = {json.dumps(value, ensure_ascii=False)}" for name, value in plan.inputs.items()
    ]


def _critical(plan: Plan) -> str:
    return " -> ".join(plan.critical_path)


def _assumptions(plan: Plan) -> str:
    a = plan.assumptions
    return (
        f"{a.chars_per_token} characters per token; {a.default_output_tokens} output tokens per "
        f"call without max_tokens; a call takes {a.call_overhead_s:g} s + output at "
        f"{a.output_tokens_per_second:g} tokens/s; a command {a.command_s:g} s; a for_each list "
        f"known only at run time has 1 to {a.assume_items} items"
    )


# ---------------------------------------------------------------------------- text


def _text(plan: Plan) -> str:
    out = [f"Plan for {plan.workflow} ({_flat(plan.file)})", ""]
    if plan.inputs:
        out += _block("Inputs", _inputs(plan))
    out += _block("Levels (steps of one level may run at once)", _levels(plan))
    for title, headers, rows in _sections(plan):
        if rows:
            out += [title, *_indent(_aligned(headers, rows)), ""]
        if title == "Steps":
            out += _block("Critical path", [_critical(plan)])
    out += _block("Warnings", plan.warnings)
    out += _block("Notes", plan.notes)
    out += _block("Assumptions", [_assumptions(plan)])
    return "\n".join(out).rstrip("\n") + "\n"


def _block(title: str, lines: Sequence[str]) -> list[str]:
    return [title, *_indent([_flat(line) for line in lines]), ""] if lines else []


def _flat(text: str) -> str:
    """``text`` on one line. Model names and warnings quote the workflow file, which may hold
    a line break in any quoted string: printed as it is, it would start a line of the file's
    choosing, a GitHub workflow command (`::error ...`) when a CI log shows the plan, and a
    line out of its Markdown table. Shown as `\\n`, `\\r` instead."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _indent(lines: Sequence[str]) -> list[str]:
    return [f"  {line}" for line in lines]


def _aligned(headers: list[str], rows: list[_Row]) -> list[str]:
    # Rows may share their cells after the first (see _step_rows): each list is measured and
    # padded once.
    rows = [(_flat(first), [_flat(cell) for cell in rest]) for first, rest in rows]
    shared = {tuple(rest): rest for _, rest in rows}
    widths = [len(header) for header in headers]
    widths[0] = max(widths[0], max(map(len, [first for first, _ in rows]), default=0))
    for rest in shared.values():
        for column, cell in enumerate(rest, 1):
            widths[column] = max(widths[column], len(cell))
    first_fmt, *specs = [
        f"{{:{'>' if header in _RIGHT else '<'}{width}}}"
        for header, width in zip(headers, widths, strict=True)
    ]
    rest_fmt = "  ".join(specs).format
    padded = {key: "  " + rest_fmt(*rest) for key, rest in shared.items()}
    pad = first_fmt.format
    return [
        (pad(headers[0]) + "  " + rest_fmt(*headers[1:])).rstrip(),
        *[(pad(first) + padded[tuple(rest)]).rstrip() for first, rest in rows],
    ]


# ---------------------------------------------------------------------------- markdown


def _markdown(plan: Plan) -> str:
    out = [f"### Plan for `{plan.workflow}`", "", f"File: {_md_code(_flat(plan.file))}", ""]
    if plan.inputs:
        out += ["**Inputs**", "", *(f"- {_md_code(line)}" for line in _inputs(plan)), ""]
    out += ["**Levels** (steps of one level may run at once)", ""]
    out += [f"- {_md(line)}" for line in _levels(plan)] + [""]
    for title, headers, rows in _sections(plan):
        if rows:
            out += [f"**{title}**", "", *_md_table(headers, rows), ""]
        if title == "Steps":
            out += ["**Critical path**: " + _md(" → ".join(plan.critical_path)), ""]
    for title, lines in (("Warnings", plan.warnings), ("Notes", plan.notes)):
        if lines:
            out += [f"**{title}**", "", *(f"- {_md(line)}" for line in lines), ""]
    out += [f"<sub>Assumptions: {_md(_assumptions(plan))}</sub>"]
    return "\n".join(out) + "\n"


def _md_table(headers: list[str], rows: list[_Row]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(_md(cell.strip()) or " " for cell in cells) + " |"

    rule = "|" + "|".join("---:" if h in _RIGHT else "---" for h in headers) + "|"
    indent_rows = [[_nbsp_indent(first), *rest] for first, rest in rows]
    return [line(headers), rule, *(line(row) for row in indent_rows)]


def _nbsp_indent(cell: str) -> str:
    # Markdown collapses leading spaces; nested steps keep their depth with non-breaking ones.
    stripped = cell.lstrip(" ")
    return "\u00a0\u00a0" * ((len(cell) - len(stripped)) // 2) + stripped


def _md(text: str) -> str:
    """``text`` as text in a Markdown line or table cell: a model name or a warning quotes the
    workflow file, whose HTML, links and images (`![](https://...)`, a tracking pixel in a
    pull request's comment) must not shape the comment, nor a `|` or a line break its table.
    Our own marks (`[for_each x3]`) hold none of the sequences that start a link."""
    text = _MD_LINK.sub(lambda found: "\\" + found.group(), _flat(text))
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


# A backslash (so one written before the rest stays one), and what opens an image, or closes
# the text of an inline, full reference or defined link.
_MD_LINK = re.compile(r"\\|!\[|\](?=[(\[:])")


def _md_code(text: str) -> str:
    """``text`` as a code span: fenced with more backticks than any run of them it holds, so
    a backtick in an input's value cannot end the span and let the rest be Markdown."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# ---------------------------------------------------------------------------- numbers


def _range(low: float, high: float, show: Callable[[float], str]) -> str:
    first, last = show(low), show(high)
    if first == last:
        return first
    return f"{first} - {last}" if " " in first + last else f"{first}-{last}"


def _int_range(span: IntRange) -> str:
    return _count_range(span.min, span.max)


@lru_cache(maxsize=4096)
def _count_range(low: int, high: int) -> str:
    # Thousands of steps share a few ranges: format each once.
    return _range(low, high, count)


def _usd_range(span: FloatRange) -> str:
    return _money_range(span.min, span.max)


def _seconds_range(span: FloatRange) -> str:
    return _time_range(span.min, span.max)


@lru_cache(maxsize=4096)
def _money_range(low: float, high: float) -> str:
    return _range(low, high, usd)


@lru_cache(maxsize=4096)
def _time_range(low: float, high: float) -> str:
    return _range(low, high, seconds)


def _price(price_in: float | None, price_out: float | None, source: str) -> str:
    if price_in is None or price_out is None:
        return "unknown"
    return f"{usd(price_in)} / {usd(price_out)} ({source})"


def _limit_estimate(limit: str, estimate: FloatRange | None) -> str:
    if estimate is None:
        return "unknown"
    return _range(estimate.min, estimate.max, lambda v: limit_amount(limit, v))


__all__ = ["PLAN_SCHEMA_URL", "PlanFormat", "plan_json_schema", "plan_schema_text", "render_plan"]
