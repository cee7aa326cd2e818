"""``summary.md``: the run at a glance, in Markdown (also appended to ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import re

from agnoctl.money import usd
from agnoctl.printable import clipped, printable
from agnoctl.reports.model import (
    Row,
    RunReport,
    SegmentReport,
    StepReport,
    Usage,
    own_usage,
    whole_usage,
    worth_showing,
)

_ICONS = {
    "succeeded": "✅",
    "failed": "❌",
    "skipped": "⏭️",
    "pending": "⏸️",
    "running": "⏸️",
    "waiting": "✋",
}
_MAX_CELL = 200
# GitHub drops a step summary over 1 MiB whole; a page of a few hundred rows is also what a
# reader takes in. A run with more (a fan-out of groups) is in report.json and report.html.
_MAX_ROWS = 200
_MAX_FAILURES = 50


def render_summary(report: RunReport) -> str:
    icon = {"passed": "✅", "failed": "❌", "interrupted": "⚠️", "waiting": "✋"}[report.status]
    total = report.cost.total
    lines = [
        f"## {icon} {report.workflow.name}: {report.status}",
        "",
        _cell(report.reason, limit=None),  # it quotes a judge's finding, a command's error
        "",
        f"Run `{report.run_id}` · {report.duration_ms / 1000:.1f} s · "
        f"{total.calls} LLM calls · {total.tokens} tokens · {usd(total.cost_usd)}"
        + (" · mock provider" if report.mock else ""),
        "",
        *_segments(report),
        *_waiting(report),
        "| step | status | duration | tokens | cost |",
        "|---|---|---:|---:|---:|",
    ]
    lines += _table(report)
    failures = [(step, ok) for step, ok in report.tolerance() if step.status == "failed"]
    if failures:
        lines += ["", "### Failures", ""]
        lines.extend(_failure(step, tolerated) for step, tolerated in failures[:_MAX_FAILURES])
        if len(failures) > _MAX_FAILURES:
            lines.append(f"- … {len(failures) - _MAX_FAILURES:,} more failures in report.json")
    if report.output_errors:
        lines += ["", "### Output errors", ""]
        lines.extend(f"- **{name}**: {_cell(text)}" for name, text in report.output_errors.items())
    spending = _spending(report)
    if spending:
        lines += ["", "### Cost", "", "| by | name | tokens | cost |", "|---|---|---:|---:|"]
        lines.extend(spending)
    return "\n".join(lines) + "\n"


def _failure(step: StepReport, tolerated: bool) -> str:
    # As --format github makes it a warning: the run went on (and may pass) without it.
    note = " (tolerated)" if tolerated else ""
    return f"- **{step.path}**{note}: {_cell(step.error.message if step.error else 'failed')}"


def _waiting(report: RunReport) -> list[str]:
    """Who must decide what, and the commands that do it."""
    lines: list[str] = []
    for approval in report.approvals:
        if not approval.waiting:
            continue
        lines += [
            f"### ✋ Waiting for approval: `{approval.step}`",
            "",
            *_literal(approval.message or ""),
            "",
            "Approve or reject, from the directory the run ran in:",
            "",
            "```sh",
            approval.approve or "",
            approval.reject or "",
            "```",
            "",
        ]
    return lines


def resumed_note(report: RunReport) -> str | None:
    """The line that says a run was resumed (N segments, M tasks reused); None for a run
    that never was."""
    if len(report.segments) < 2:
        return None
    return (
        f"Resumed: {len(report.segments)} segments, {report.reused} task(s) reused in the "
        "last; the totals count every segment"
    )


def _segments(report: RunReport) -> list[str]:
    """The note and the table of a resumed run's segments (nothing for one run)."""
    note = resumed_note(report)
    if note is None:
        return []
    return [
        note + ".",
        "",
        "| segment | started (UTC) | ended | status | calls | tokens | cost | reused |",
        "|---:|---|---|---|---:|---:|---:|---:|",
        *(_segment_row(number, s) for number, s in enumerate(report.segments, 1)),
        "",
    ]


def _segment_row(number: int, segment: SegmentReport) -> str:
    status = f"{segment.status}: {_cell(segment.reason)}"
    return (
        f"| {number} | {segment.started:%Y-%m-%d %H:%M:%S} | {segment.finished:%H:%M:%S} "
        f"| {status} | {segment.calls} | {segment.tokens} | {usd(segment.cost_usd)} "
        f"| {segment.reused} |"
    )


def _table(report: RunReport) -> list[str]:
    """The step table as `report show` draws it: each loop iteration with its children, each
    call on one row; past ``_MAX_ROWS``, the top-level steps whole (children included), then
    the nested rows that did not succeed."""
    rows = list(report.rows())
    if len(rows) <= _MAX_ROWS:
        return [_row(row, own_usage(row.entry)) for row in rows]
    shown = worth_showing(rows, _MAX_ROWS)
    lines = [_row(row, whole_usage(row.entry) if row.depth == 0 else None) for row in shown]
    return [*lines, f"| … {len(rows) - len(shown):,} more rows in report.json |  |  |  |  |"]


def _row(row: Row, usage: Usage | None) -> str:
    entry = row.entry
    status = entry.status + (_step_status(entry) if isinstance(entry, StepReport) else "")
    duration = "" if entry.duration_ms is None else f"{entry.duration_ms / 1000:.2f} s"
    calls, tokens, cost = usage or (0, 0, 0.0)
    icon = _ICONS[entry.status]
    cost_cell = usd(cost) if calls else ""
    return f"| {_code(row.label)} | {icon} {status} | {duration} | {tokens or ''} | {cost_cell} |"


def _step_status(step: StepReport) -> str:
    status = f": {step.reason}" if step.reason else ""
    if step.total is not None and step.succeeded is not None:
        status += f" ({step.succeeded}/{step.total})"
    if step.loop is not None:
        status += f" · {step.loop.iterations} iteration(s)"
        if step.loop.exhausted:
            status += ", ran out"
    # Its calls were an earlier segment's: why its row is empty.
    return status + (" · reused" if step.reused else "")


def _spending(report: RunReport) -> list[str]:
    rows = []
    for label, table in (
        ("agent", report.cost.by_agent),
        ("model", report.cost.by_model),
        ("tag", report.cost.by_tag),
    ):
        for name, totals in table.items():
            rows.append(f"| {label} | {_code(name)} | {totals.tokens} | {usd(totals.cost_usd)} |")
    return rows


def _literal(text: str) -> list[str]:
    """``text`` as a fenced block, which GitHub shows as it is: an approval's message holds
    what a model wrote, whose Markdown or HTML must not shape the job's summary page."""
    runs = re.findall(r"`+", text)
    fence = "`" * max([3, *(len(run) + 1 for run in runs)])
    return [fence, printable(text), fence]


def _code(text: str) -> str:
    """``text`` as one code span in a table cell: a tag or a model name is the author's free
    text, whose backtick would end a plain span early (and let HTML after it through) and whose
    ``|`` splits a GFM table row even inside a span, unless escaped."""
    flat = printable(" ".join(text.split()))
    fence = "`" * max([1, *(len(run) + 1 for run in re.findall(r"`+", flat))])
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    escaped = flat.replace("|", "\\|")
    return f"{fence}{pad}{escaped}{pad}{fence}"


def _cell(text: str, limit: int | None = _MAX_CELL) -> str:
    """``text`` on one line of at most ``limit`` characters, shown as text: an error
    quotes what a command, a server or a model wrote, whose HTML, links, images and headings
    must not shape the job's summary page (nor a ``|`` break its table)."""
    flat = " ".join(text.split())
    if limit is not None:
        flat = clipped(flat, limit)
    return _MARKUP.sub(lambda found: "\\" + found.group(), flat)


# What starts HTML, an autolink, a link or an image, or ends a table cell; and the backslash,
# so that one already before them stays a backslash.
_MARKUP = re.compile(r"[\\<\[\]|]")
