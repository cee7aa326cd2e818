"""``report.html``: one self-contained page per run, for people.

The page holds everything inline (CSS, a small script, an SVG picture of the DAG) and loads
nothing: it opens from a CI artefact, an e-mail attachment or a file share, offline. It shows
the run's verdict and totals (a resumed run's segments too), the DAG with each step's status,
a Gantt timeline of every attempt, retry wait and for_each item, and per step its prompt,
output, gates, tokens and cost. Filters show failed or retried steps only. What it shows is
worked out in ``reports/html_view.py``; this module draws it.

Outputs, prompts and errors are untrusted text (a model wrote them). Every value is escaped
(``Markup.format`` and ``Markup.join`` escape what is not markup already), values reach the
page only as text and attributes (never inside the script), and a Content-Security-Policy
allows no network and only the page's own script, pinned by its SHA-256: an injected
``<script>`` or ``onerror=`` would not run even if escaping were ever bypassed.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from markupsafe import Markup

from agnoctl.money import usd
from agnoctl.printable import clipped
from agnoctl.reports.html_view import (
    CHILD_LINES,
    LINE_H,
    Node,
    Page,
    StepView,
    page_view,
    pretty,
    seconds,
)
from agnoctl.reports.model import (
    AttachmentReport,
    AttemptReport,
    ErrorInfo,
    GateReport,
    LoopReport,
    RunReport,
    StepReport,
    attempt_outcome,
)
from agnoctl.version import __version__

if TYPE_CHECKING:
    from agnoctl.spec.models import Workflow

# --------------------------------------------------------------------------- the page

# The page is written in Python, not a template language: a run draws it once, and compiling
# a template for one render cost more than drawing the page (docs/performance.md). Every
# value goes through ``Markup.format`` or ``Markup.join``, which escape whatever is not
# already markup, as a template's autoescape does; only the page's own assets (its CSS and
# script, files of this package) are passed as markup.

_HEAD = Markup("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
img-src data:; script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="agnoctl {version}">
<title>{name} · {status} · agnoctl run {run_id}</title>
<style>
{css}</style>
</head>
<body>
<main>
""")

_HEADER = Markup("""\
<header>
  <div class="verdict">
    <h1>{name}</h1>
    <span class="badge s-{status}">{status}</span>
{mock}{resumed}  </div>
  <p>{reason}</p>
  <div class="facts">
    <span>run <b class="mono">{run_id}</b></span>
    <span>file <b class="mono">{file}</b></span>
    <span>started <b>{started} UTC</b></span>
{seed}  </div>
</header>

<section class="cards" aria-label="totals">
  <div class="card"><b>{duration}</b><span>duration</span></div>
  <div class="card"><b>{succeeded} / {total}</b><span>steps succeeded \
(threshold {threshold})</span></div>
  <div class="card"><b>{calls}</b><span>LLM calls{cached}</span></div>
  <div class="card"><b>{tokens}</b><span>tokens ({tokens_in} in · {tokens_out} out)</span></div>
  <div class="card"><b>{cost}</b><span>cost</span></div>
</section>
""")

_SEGMENTS = Markup("""\

<h2 id="segments">Segments</h2>
<p>{note}.</p>
<table>
<thead><tr><th class="num">#</th><th>started (UTC)</th><th>ended</th><th>status</th>\
<th>why it ended</th><th class="num">calls</th><th class="num">tokens</th><th class="num">cost</th>\
<th class="num">reused</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
""")

_SEGMENT = Markup(
    '<tr><td class="num">{number}</td><td>{started}</td><td>{finished}</td>'
    '<td><span class="badge s-{s.status}">{s.status}</span></td><td>{s.reason}</td>'
    '<td class="num">{s.calls}</td><td class="num">{s.tokens}</td><td class="num">{cost}</td>'
    '<td class="num">{s.reused}</td></tr>\n'
)

_DAG = Markup("""\

<h2>Steps</h2>
<div class="legend">
  <span><i style="background: var(--ok)"></i>succeeded</span>
  <span><i style="background: var(--fail)"></i>failed</span>
  <span><i style="background: var(--skip)"></i>skipped</span>
  <span>- - - runs only if its condition holds</span>
{notes}</div>
<div class="dag">
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" \
viewBox="0 0 {width} {height}" role="img" aria-label="step graph">
  <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" \
markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/>\
</marker></defs>
{edges}{nodes}</svg>
</div>
""")

_NODE = Markup("""\
  <a class="node n-{n.status}" href="#{n.anchor}" data-node="{n.path}">
    <title>{n.path}: {n.detail}</title>
    <rect class="box" x="{n.x}" y="{n.y}" width="180" height="{n.height}" rx="8"/>
    <text class="id" x="{text_x}" y="{id_y}">{path}</text>
    <text class="sub" x="{text_x}" y="{sub_y}">{detail}</text>
{children}  </a>
""")

_CHILD = Markup("""\
    <circle class="c-{status}" cx="{cx}" cy="{cy}" r="4"/>
    <text x="{x}" y="{y}">{label}</text>
""")

_TIMELINE = Markup("""\

<h2>Timeline</h2>
<div class="legend">
  <span><i class="g-ok"></i>attempt succeeded</span>
  <span><i class="g-fail"></i>attempt failed</span>
  <span><i class="g-cut"></i>attempt cut short</span>
  <span><i class="g-wait"></i>retry wait</span>
  <span><i class="g-span"></i>step (no model attempt)</span>
  <span><i class="g-run"></i>group or fan-out</span>
</div>
<div class="toolbar" role="search">
  <label><input type="checkbox" id="only-failed"> failed only</label>
  <label><input type="checkbox" id="only-retried"> retried only</label>
  <input type="search" id="search" placeholder="filter steps by path" \
aria-label="filter steps by path">
  <button type="button" id="expand-all">expand all</button>
  <button type="button" id="collapse-all">collapse all</button>
{by_node}  <span id="filter-count" class="muted" aria-live="polite"></span>
</div>
<div class="gantt">
  <div class="g-axis"><span></span><div class="g-ticks">{ticks}</div></div>
{rows}{heads}{cut}</div>
""")

_ROW = Markup("""\
  <div class="g-row" data-filter="{label}" data-failed="{failed}" data-retried="{retried}"{node}>
    <div class="g-label" style="padding-left: {indent}px" title="{label}">\
<a href="#{anchor}" class="s-{status}">●</a> {label}</div>
    <div class="g-track">{bars}</div>
  </div>
""")

# The timeline of a run whose tasks ran on Ray nodes: a "group by node" toggle, and a heading
# for each node (and for the driver), hidden until the toggle orders the rows under them.
_BY_NODE = Markup('  <label><input type="checkbox" id="by-node"> group by node</label>\n')
_NODE_HEAD = Markup(
    '  <div class="g-node" data-node-head="{node}" hidden>{label} '
    '<span class="muted">{rows} rows</span></div>\n'
)

_BAR = Markup(
    '<span class="g-bar g-{kind}" style="left: {left}%; width: {width}%" title="{title}"></span>'
)

_STEP = Markup("""\
<details class="step s-{v.status}" id="{v.anchor}" data-filter="{v.path}" data-failed="{failed}" \
data-retried="{retried}"{open} style="margin-left: {indent}px">
  <summary>
    <b class="mono">{v.path}</b>
    <span class="badge s-{v.status}">{v.label}</span>
    <span class="muted">{v.kind}{model} · {duration}{usage}{attempts}</span>
  </summary>
  <div class="body">
    <div class="facts">
      <span>calls <b>{v.step.calls}</b></span>
      <span>tokens in <b>{v.step.tokens_in}</b></span>
      <span>tokens out <b>{v.step.tokens_out}</b></span>
      <span>cost <b>{cost}</b></span>
{facts}    </div>
{sections}  </div>
</details>
""")

_TABLE = Markup("""\
    <h3>{title}</h3>
    <table>
      <thead><tr>{head}</tr></thead>
      <tbody>
{rows}      </tbody>
    </table>
""")

_ATTACHMENT = Markup(
    '        <tr><td class="mono">{name}</td><td>{media_type}</td><td class="num">{size}</td>'
    '<td class="mono" title="{sha256}">{sha256_short}</td></tr>\n'
)

_ATTEMPT = Markup("""\
        <tr><td>{number}</td><td class="mono">{model}</td><td class="num">{duration}</td>
          <td>{outcome}</td>
          <td class="num">{delay}</td>
          <td class="num">{calls}</td><td class="num">{tokens}</td><td class="num">{cost}</td>
          <td class="num">{ttft}</td><td class="num">{tokens_per_s}</td></tr>
""")

_GATE = Markup("""\
        <tr><td class="mono">{name}</td>
          <td>{result}</td>
          <td class="mono">{value}</td>
          <td>{finding}{detail}</td>
          <td class="num">{attempt}</td></tr>
""")

_ITEM = Markup("""\
        <tr><td class="num">{index}</td><td class="mono">{item}</td>\
<td class="s-{kind}">{status}</td><td class="num">{attempts}</td>
          <td>{result}</td></tr>
""")

_COST = Markup("""\

<h2>Cost</h2>
<table>
  <thead><tr><th>by</th><th>name</th><th class="num">calls</th><th class="num">cached</th>\
<th class="num">tokens in</th><th class="num">tokens out</th><th class="num">cost</th></tr></thead>
  <tbody>
{rows}{cut}  </tbody>
</table>
""")

_COST_ROW = Markup(
    '    <tr><td>{by}</td><td class="mono">{name}</td><td class="num">{t.calls}</td>'
    '<td class="num">{t.cache_hits}</td><td class="num">{t.tokens_in}</td>'
    '<td class="num">{t.tokens_out}</td><td class="num">{cost}</td></tr>\n'
)

_LIMITS = Markup("""\
<h3>Limits</h3>
<table>
  <thead><tr><th>limit</th><th class="num">used</th><th class="num">of</th></tr></thead>
  <tbody>
{rows}  </tbody>
</table>
""")

_FOOT = Markup("""\
<footer>agnoctl {version} · report schema {schema} · this page is self-contained and loads \
nothing from the network</footer>
</main>
<script>{script}</script>
</body>
</html>""")

_NOTHING = Markup()


def render_html(report: RunReport, workflow: Workflow | None = None) -> str:
    """The page for ``report``; ``workflow`` adds the DAG's edges and the steps' prompts."""
    view = page_view(report, workflow)
    # Our own files, never data; a run on Ray nodes adds the timeline's grouping by node.
    script, css = _asset("report.js"), _asset("report.css")
    if view.ran_on:
        script, css = script + _asset("report_nodes.js"), css + _asset("report_nodes.css")
    parts = (
        _HEAD.format(
            script_hash=base64.b64encode(hashlib.sha256(script.encode()).digest()).decode(),
            version=__version__,
            name=report.workflow.name,
            status=report.status,
            run_id=report.run_id,
            css=Markup(css),
        ),
        _header(report, view.resumed),
        _segments(report, view.resumed),
        _dag(view),
        _timeline(view),
        _details(view),
        _outputs(report),
        _cost(view),
        _inputs(report),
        _FOOT.format(version=__version__, schema=report.schema_version, script=Markup(script)),
    )
    return str(_join(parts))


@cache
def _asset(name: str) -> str:
    return (resources.files("agnoctl.reports") / "templates" / name).read_text(encoding="utf-8")


def _if(condition: object, markup: str, **values: object) -> Markup:
    """``markup`` filled with ``values`` when ``condition`` holds, else nothing."""
    return Markup(markup).format(**values) if condition else _NOTHING


def _join(parts: Iterable[Markup]) -> Markup:
    return Markup().join(parts)


def _header(report: RunReport, resumed: str | None) -> Markup:
    total = report.cost.total
    return _HEADER.format(
        name=report.workflow.name,
        status=report.status,
        mock=_if(report.mock, '<span class="badge muted">mock provider</span>'),
        resumed=_if(
            resumed,
            '<a class="badge muted" href="#segments">resumed · {n} segments</a>',
            n=len(report.segments),
        ),
        reason=report.reason,
        run_id=report.run_id,
        file=report.workflow.file,
        started=report.started.strftime("%Y-%m-%d %H:%M:%S"),
        seed=_if(report.seed is not None, "<span>seed <b>{seed}</b></span>", seed=report.seed),
        duration=seconds(report.duration_ms),
        succeeded=report.succeeded,
        total=report.total,
        threshold=report.success_threshold,
        calls=total.calls,
        cached=_if(total.cache_hits, " · {n} cached", n=total.cache_hits),
        tokens=total.tokens,
        tokens_in=total.tokens_in,
        tokens_out=total.tokens_out,
        cost=usd(total.cost_usd),
    )


def _segments(report: RunReport, note: str | None) -> Markup:
    if not note:
        return _NOTHING
    rows = (
        _SEGMENT.format(
            number=number,
            s=segment,
            started=segment.started.strftime("%Y-%m-%d %H:%M:%S"),
            finished=segment.finished.strftime("%H:%M:%S"),
            cost=usd(segment.cost_usd),
        )
        for number, segment in enumerate(report.segments, 1)
    )
    return _SEGMENTS.format(note=note, rows=_join(rows))


def _dag(view: Page) -> Markup:
    notes = (
        _if(
            not view.workflow_known,
            "<span>(workflow file not available: dependencies not drawn)</span>",
        ),
        _if(
            view.nodes_cut,
            "<span>the first {drawn} steps drawn, {cut} more not drawn "
            "(<code>agnoctl graph</code> draws them all)</span>",
            drawn=len(view.nodes),
            cut=view.nodes_cut,
        ),
    )
    edges = (
        Markup('  <path class="edge{conditional}" d="{d}" marker-end="url(#arrow)"/>\n').format(
            conditional=" conditional" if edge.conditional else "", d=edge.d
        )
        for edge in view.edges
    )
    return _DAG.format(
        notes=_join(notes),
        width=view.width,
        height=view.height,
        edges=_join(edges),
        nodes=_join(_node(node) for node in view.nodes),
    )


def _node(node: Node) -> Markup:
    children = [
        _CHILD.format(
            status=child.status,
            cx=node.x + 14,
            cy=node.y + 50 + line * LINE_H,
            x=node.x + 24,
            y=node.y + 54 + line * LINE_H,
            label=clipped(child.label, 26),
        )
        for line, child in enumerate(node.children[:CHILD_LINES])
    ]
    more = len(node.children) - CHILD_LINES
    children.append(
        _if(
            more > 0,
            '    <text class="sub" x="{x}" y="{y}">+{more} more</text>\n',
            x=node.x + 24,
            y=node.y + 54 + CHILD_LINES * LINE_H,
            more=more,
        )
    )
    return _NODE.format(
        n=node,
        text_x=node.x + 10,
        id_y=node.y + 19,
        sub_y=node.y + 36,
        path=clipped(node.path, 24),
        detail=clipped(node.detail, 28),
        children=_join(children),
    )


def _timeline(view: Page) -> Markup:
    ticks = (
        Markup('<span style="left: {left}%">{label}</span>').format(left=left, label=label)
        for left, label in view.ticks
    )
    rows = (
        _ROW.format(
            label=row.label,
            failed=_flag(row.failed),
            retried=_flag(row.retried),
            indent=8 + row.depth * 14,
            anchor=row.anchor,
            status=row.status,
            bars=_join(_BAR.format(**vars(bar)) for bar in row.bars),
            node=_if(view.ran_on, ' data-ran-on="{node}"', node=row.ran_on or ""),
        )
        for row in view.rows
    )
    left_out = _if(
        view.rows_cut,
        '<p class="muted" style="padding: 0 8px">{more} more rows not drawn; '
        "report.json has every attempt.</p>",
        more=view.rows_cut,
    )
    return _TIMELINE.format(
        ticks=_join(ticks),
        rows=_join(rows),
        cut=left_out,
        by_node=_if(view.ran_on, _BY_NODE),
        heads=_node_heads(view),
    )


def _node_heads(view: Page) -> Markup:
    """A heading for each node the rows ran on, and one for the driver's rows if any."""
    if not view.ran_on:
        return _NOTHING
    counts = Counter(row.ran_on or "" for row in view.rows)
    named = [(node, f"node {node[:12]}", counts[node]) for node in view.ran_on]
    driver = [("", "on the driver", counts[""])] if counts[""] else []
    return _join(
        _NODE_HEAD.format(node=node, label=label, rows=rows)
        for node, label, rows in (*named, *driver)
    )


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _details(view: Page) -> Markup:
    left_out = _if(
        view.steps_cut,
        '<p class="muted">{shown} steps detailed here (failed and retried ones first); '
        "{cut} more are in report.json.</p>",
        shown=len(view.steps),
        cut=view.steps_cut,
    )
    steps = _join(_step(step) for step in view.steps)
    return Markup("\n<h2>Step details</h2>\n{cut}{steps}\n").format(cut=left_out, steps=steps)


def _step(view: StepView) -> Markup:
    step = view.step
    return _STEP.format(
        v=view,
        failed=_flag(view.failed),
        retried=_flag(view.retried),
        open=_if(view.failed, " open"),
        indent=view.depth * 18,
        model=_if(step.model, " · {model}", model=step.model),
        duration=seconds(step.duration_ms),
        usage=_if(
            step.calls,
            " · {tokens} tokens · {cost}",
            tokens=step.tokens_in + step.tokens_out,
            cost=usd(step.cost_usd),
        ),
        attempts=_if(len(step.attempts) > 1, " · {n} attempts", n=len(step.attempts)),
        cost=usd(step.cost_usd),
        facts=_facts(step),
        sections=_sections(view),
    )


def _facts(step: StepReport) -> Markup:
    return _join(
        (
            _if(
                step.exit_code is not None,
                "<span>exit code <b>{code}</b></span>",
                code=step.exit_code,
            ),
            _if(step.continue_on_error, "<span><b>continue_on_error</b></span>"),
            _loop(step.loop) if step.loop else _NOTHING,
        )
    )


def _loop(loop: LoopReport) -> Markup:
    ending = ", until met" if loop.until_met else ", ran out" if loop.exhausted else ""
    return Markup("<span>loop <b>{iterations} / {most}</b> iterations{ending}</span>").format(
        iterations=loop.iterations, most=loop.max_iterations, ending=ending
    )


def _sections(view: StepView) -> Markup:
    step = view.step
    files = step.attempts[-1].attachments if step.attempts else []
    return _join(
        (
            _error(step.error) if step.error else _NOTHING,
            _if(
                view.instructions,
                "<h3>Agent instructions (template)</h3><pre>{text}</pre>",
                text=view.instructions,
            ),
            _if(
                view.prompt,
                "<h3>{label}</h3><pre>{text}</pre>",
                label=view.prompt_label.capitalize(),
                text=view.prompt,
            ),
            _attachments(files) if files else _NOTHING,
            _attempts(step.attempts) if step.attempts else _NOTHING,
            _gates(step.gates) if step.gates else _NOTHING,
            _items(view) if view.items else _NOTHING,
            _if(view.output, "<h3>Output</h3><pre>{text}</pre>", text=view.output),
            _if(
                step.stderr,
                "<h3>Standard error (end)</h3><pre>{text}</pre>",
                text=step.stderr,
            ),
        )
    )


def _error(error: ErrorInfo) -> Markup:
    return Markup(
        '<h3>Error <span class="muted">({kind})</span></h3><pre class="error">{message}</pre>'
    ).format(kind=error.kind, message=error.message)


def _table(title: str, head: str, rows: Iterable[Markup]) -> Markup:
    return _TABLE.format(title=title, head=Markup(head), rows=_join(rows))


def _attachments(files: list[AttachmentReport]) -> Markup:
    return _table(
        "Attachments",
        '<th>file</th><th>type</th><th class="num">bytes</th><th>sha256</th>',
        (
            _ATTACHMENT.format(
                name=file.name,
                media_type=file.media_type,
                size=file.size if file.size is not None else "",
                sha256=file.sha256 or "",
                sha256_short=(file.sha256 or "")[:12],
            )
            for file in files
        ),
    )


def _attempts(attempts: list[AttemptReport]) -> Markup:
    return _table(
        "Attempts",
        '<th>#</th><th>model</th><th class="num">duration</th><th>outcome</th>'
        '<th class="num">wait after</th><th class="num">calls</th><th class="num">tokens</th>'
        '<th class="num">cost</th><th class="num" title="time to first token of its first '
        'streamed reply">first token</th><th class="num" title="output tokens per second of '
        'its streamed replies">tokens/s</th>',
        (_attempt(attempt) for attempt in attempts),
    )


def _attempt(attempt: AttemptReport) -> Markup:
    error = attempt.error
    if error is not None:
        outcome = Markup('<span class="error">{kind}</span>: {message}').format(
            kind=error.kind, message=clipped(error.message, 300)
        )
    elif attempt_outcome(attempt) == "cancelled":  # cut short: it never finished
        outcome = Markup('<span class="warn">cancelled</span>')
    else:
        outcome = Markup('<span class="pass">ok</span>')
    return _ATTEMPT.format(
        number=attempt.number,
        model=attempt.model or "",
        duration=seconds(attempt.duration_ms),
        outcome=outcome,
        delay="" if attempt.delay is None else f"{attempt.delay:.2f} s",
        calls=attempt.calls,
        tokens=attempt.tokens_in + attempt.tokens_out,
        cost=usd(attempt.cost_usd),
        ttft="" if attempt.ttft_ms is None else seconds(attempt.ttft_ms),
        tokens_per_s="" if attempt.tokens_per_s is None else f"{attempt.tokens_per_s:.1f}",
    )


def _gates(gates: list[GateReport]) -> Markup:
    return _table(
        "Gates",
        '<th>gate</th><th>result</th><th>value</th><th>finding</th><th class="num">attempt</th>',
        (_gate(gate) for gate in gates),
    )


def _gate(gate: GateReport) -> Markup:
    if gate.passed:
        result = Markup('<span class="pass">passed</span>')
    elif gate.severity == "warn":
        result = Markup('<span class="warn">failed (warn)</span>')
    else:
        result = Markup('<span class="error">failed</span>')
    return _GATE.format(
        name=gate.name,
        result=result,
        value=clipped(pretty(gate.value), 120),
        finding=gate.finding or "",
        detail=_if(gate.detail, '<div class="muted">{detail}</div>', detail=gate.detail),
        attempt=gate.attempt if gate.attempt is not None else "",
    )


def _items(view: StepView) -> Markup:
    table = _table(
        "Items",
        '<th class="num">#</th><th>item</th><th>status</th><th class="num">attempts</th>'
        "<th>output / error</th>",
        (
            _ITEM.format(
                index=item.index,
                item=item.item,
                kind=item.status.split(":")[0],
                status=item.status,
                attempts=item.attempts,
                result=(
                    Markup('<span class="error">{error}</span>').format(
                        error=clipped(item.error, 300)
                    )
                    if item.error
                    else item.output
                ),
            )
            for item in view.items
        ),
    )
    left_out = _if(
        view.items_cut,
        '<p class="muted">{cut} more items in {file}.</p>',
        cut=view.items_cut,
        file=view.step.items_file or "report.json",
    )
    return table + left_out


def _outputs(report: RunReport) -> Markup:
    if not (report.outputs or report.output_errors):
        return _NOTHING
    values = (
        Markup('<h3 class="mono">{name}</h3><pre>{value}</pre>\n').format(
            name=name, value=pretty(value)
        )
        for name, value in report.outputs.items()
    )
    errors = (
        Markup('<h3 class="mono">{name}</h3><pre class="error">{message}</pre>\n').format(
            name=name, message=message
        )
        for name, message in report.output_errors.items()
    )
    return Markup("<h2>Outputs</h2>\n{values}{errors}").format(
        values=_join(values), errors=_join(errors)
    )


def _cost(view: Page) -> Markup:
    report, by_step = view.report, view.cost_by_step
    tables = (
        ("model", report.cost.by_model),
        ("agent", report.cost.by_agent),
        ("step", by_step),
        ("tag", report.cost.by_tag),
    )
    rows = (
        _COST_ROW.format(by=by, name=name, t=totals, cost=usd(totals.cost_usd))
        for by, table in tables
        for name, totals in table.items()
    )
    left_out = _if(
        view.cost_steps_cut,
        '<tr><td>step</td><td colspan="6" class="muted">the {shown} most expensive steps '
        "listed; {more} more in report.json</td></tr>",
        shown=len(by_step),
        more=view.cost_steps_cut,
    )
    return _COST.format(rows=_join(rows), cut=left_out) + _limits(report)


def _limits(report: RunReport) -> Markup:
    if not report.limits:
        return _NOTHING
    rows = (
        Markup(
            '    <tr><td class="mono">{name}</td><td class="num">{used}</td>'
            '<td class="num">{limit}</td></tr>\n'
        ).format(
            name=name,
            used=f"{usage.used:g}",
            limit=f"{usage.limit:g}" if usage.limit is not None else "no limit",
        )
        for name, usage in report.limits.items()
    )
    return _LIMITS.format(rows=_join(rows))


def _inputs(report: RunReport) -> Markup:
    return _if(
        report.inputs, "<h2>Inputs</h2>\n<pre>{inputs}</pre>\n", inputs=pretty(report.inputs)
    )


__all__ = ["render_html"]
