from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'report.html.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_script_hash = resolve('script_hash')
    l_0_version = resolve('version')
    l_0_report = resolve('report')
    l_0_resumed = resolve('resumed')
    l_0_seconds = resolve('seconds')
    l_0_money = resolve('money')
    l_0_workflow_known = resolve('workflow_known')
    l_0_nodes_cut = resolve('nodes_cut')
    l_0_nodes = resolve('nodes')
    l_0_width = resolve('width')
    l_0_height = resolve('height')
    l_0_edges = resolve('edges')
    l_0_ticks = resolve('ticks')
    l_0_rows = resolve('rows')
    l_0_row_count = resolve('row_count')
    l_0_max_rows = resolve('max_rows')
    l_0_steps_cut = resolve('steps_cut')
    l_0_steps = resolve('steps')
    l_0_cost_by_step = resolve('cost_by_step')
    l_0_cost_steps_cut = resolve('cost_steps_cut')
    l_0_pretty = resolve('pretty')
    l_0_script = resolve('script')
    try:
        t_1 = environment.filters['capitalize']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'capitalize' found.")
    try:
        t_2 = environment.filters['format']
    except KeyError:
        @internalcode
        def t_2(*unused):
            raise TemplateRuntimeError("No filter named 'format' found.")
    try:
        t_3 = environment.filters['length']
    except KeyError:
        @internalcode
        def t_3(*unused):
            raise TemplateRuntimeError("No filter named 'length' found.")
    try:
        t_4 = environment.filters['truncate']
    except KeyError:
        @internalcode
        def t_4(*unused):
            raise TemplateRuntimeError("No filter named 'truncate' found.")
    try:
        t_5 = environment.tests['none']
    except KeyError:
        @internalcode
        def t_5(*unused):
            raise TemplateRuntimeError("No test named 'none' found.")
    pass
    yield '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:; script-src \'sha256-'
    yield escape((undefined(name='script_hash') if l_0_script_hash is missing else l_0_script_hash))
    yield '\'; base-uri \'none\'; form-action \'none\'">\n<meta name="referrer" content="no-referrer">\n<meta name="generator" content="agnoctl '
    yield escape((undefined(name='version') if l_0_version is missing else l_0_version))
    yield '">\n<title>'
    yield escape(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'workflow'), 'name'))
    yield ' · '
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'status'))
    yield ' · agnoctl run '
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'run_id'))
    yield '</title>\n<style>\n:root {\n  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;\n  --ok: #1a7f37; --fail: #cf222e; --skip: #8c959f; --wait: #bf8700; --run: #0969da;\n  --ok-bg: #dafbe1; --fail-bg: #ffebe9; --skip-bg: #eef1f4; --wait-bg: #fff8c5;\n}\n@media (prefers-color-scheme: dark) {\n  :root {\n    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --panel: #151b23;\n    --ok-bg: #12261e; --fail-bg: #2d1214; --skip-bg: #1d2229; --wait-bg: #272115;\n  }\n}\n* { box-sizing: border-box; }\nbody { margin: 0; background: var(--bg); color: var(--fg);\n  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }\nmain { max-width: 1200px; margin: 0 auto; padding: 24px; }\nh1 { font-size: 22px; margin: 0 0 4px; }\nh2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }\nh3 { font-size: 14px; margin: 14px 0 6px; }\ncode, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }\npre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px;\n  overflow: auto; max-height: 420px; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }\ntable { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }\nth, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }\nth { color: var(--muted); font-weight: 600; font-size: 12px; }\ntd.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }\n.muted { color: var(--muted); }\n.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;\n  border: 1px solid currentColor; white-space: nowrap; }\n.s-succeeded, .s-passed { color: var(--ok); }\n.s-failed, .s-killed { color: var(--fail); }\n.s-skipped, .s-pending { color: var(--skip); }\n.s-running, .s-interrupted { color: var(--wait); }\n.verdict { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }\n.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 16px 0; }\n.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }\n.card b { display: block; font-size: 18px; }\n.card span { color: var(--muted); font-size: 12px; }\n.dag { overflow: auto; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); }\n.dag svg { display: block; }\n.dag .node rect.box { stroke-width: 2; rx: 8; }\n.dag .node text { font-size: 12px; fill: var(--fg); }\n.dag .node text.id { font-weight: 700; font-size: 13px; }\n.dag .node text.sub { fill: var(--muted); font-size: 11px; }\n.dag .n-succeeded rect.box { stroke: var(--ok); fill: var(--ok-bg); }\n.dag .n-failed rect.box { stroke: var(--fail); fill: var(--fail-bg); }\n.dag .n-skipped rect.box, .dag .n-pending rect.box { stroke: var(--skip); fill: var(--skip-bg); }\n.dag .n-running rect.box { stroke: var(--wait); fill: var(--wait-bg); }\n.dag .c-succeeded { fill: var(--ok); } .dag .c-failed { fill: var(--fail); }\n.dag .c-skipped, .dag .c-pending, .dag .c-running { fill: var(--skip); }\n.dag path.edge { fill: none; stroke: var(--muted); stroke-width: 1.5; }\n.dag path.edge.conditional { stroke-dasharray: 5 4; }\n.dag a:focus rect.box, .dag a:hover rect.box { stroke-width: 3; }\n.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin: 6px 0; }\n.legend i { display: inline-block; width: 14px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }\n.toolbar { position: sticky; top: 0; z-index: 2; background: var(--bg); display: flex; gap: 14px;\n  align-items: center; flex-wrap: wrap; padding: 8px 0; border-bottom: 1px solid var(--line); }\n.toolbar input[type=search] { padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px;\n  background: var(--bg); color: var(--fg); min-width: 200px; }\n.toolbar button { padding: 3px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); cursor: pointer; }\n.gantt { border: 1px solid var(--line); border-radius: 8px; padding: 6px 0; }\n.g-row { display: grid; grid-template-columns: minmax(160px, 26%) 1fr; align-items: center; min-height: 22px; }\n.g-row:hover { background: var(--panel); }\n.g-label { padding: 0 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: 12.5px; }\n.g-label a { text-decoration: none; }\n.g-track { position: relative; height: 14px; margin-right: 12px; background: linear-gradient(90deg, var(--line) 1px, transparent 1px) 0 0 / 25% 100%; }\n.g-bar { position: absolute; top: 1px; height: 12px; border-radius: 3px; min-width: 3px; }\n.g-ok { background: var(--ok); } .g-fail { background: var(--fail); } .g-span { background: var(--ok); opacity: .55; }\n.g-run { background: var(--run); opacity: .35; }\n.g-wait { background: repeating-linear-gradient(45deg, var(--wait) 0 3px, transparent 3px 6px); border: 1px solid var(--wait); }\n.g-axis { display: grid; grid-template-columns: minmax(160px, 26%) 1fr; font-size: 11px; color: var(--muted); }\n.g-ticks { position: relative; height: 16px; margin-right: 12px; }\n.g-ticks span { position: absolute; transform: translateX(-50%); white-space: nowrap; }\n.g-ticks span:first-child { transform: none; }\n.g-ticks span:last-child { transform: translateX(-100%); }\ndetails.step { border: 1px solid var(--line); border-left: 4px solid var(--skip); border-radius: 6px; margin: 8px 0; background: var(--bg); }\ndetails.step.s-succeeded { border-left-color: var(--ok); }\ndetails.step.s-failed { border-left-color: var(--fail); }\ndetails.step > summary { cursor: pointer; padding: 8px 12px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; list-style: none; color: var(--fg); }\ndetails.step > summary::-webkit-details-marker { display: none; }\ndetails.step > summary::before { content: "▸"; color: var(--muted); }\ndetails.step[open] > summary::before { content: "▾"; }\ndetails.step .body { padding: 0 14px 12px; color: var(--fg); }\n.facts { display: flex; gap: 16px; flex-wrap: wrap; color: var(--muted); font-size: 12.5px; }\n.facts b { color: var(--fg); font-weight: 600; }\n.error { color: var(--fail); }\n.pass { color: var(--ok); } .warn { color: var(--wait); }\nfooter { margin: 30px 0 10px; color: var(--muted); font-size: 12px; }\n</style>\n</head>\n<body>\n<main>\n<header>\n  <div class="verdict">\n    <h1>'
    yield escape(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'workflow'), 'name'))
    yield '</h1>\n    <span class="badge s-'
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'status'))
    yield '">'
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'status'))
    yield '</span>\n'
    if environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'mock'):
        pass
        yield '<span class="badge muted">mock provider</span>'
    if (undefined(name='resumed') if l_0_resumed is missing else l_0_resumed):
        pass
        yield '<a class="badge muted" href="#segments">resumed · '
        yield escape(t_3(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'segments')))
        yield ' segments</a>'
    yield '  </div>\n  <p>'
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'reason'))
    yield '</p>\n  <div class="facts">\n    <span>run <b class="mono">'
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'run_id'))
    yield '</b></span>\n    <span>file <b class="mono">'
    yield escape(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'workflow'), 'file'))
    yield '</b></span>\n    <span>started <b>'
    yield escape(context.call(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'started'), 'strftime'), '%Y-%m-%d %H:%M:%S'))
    yield ' UTC</b></span>\n'
    if (not t_5(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'seed'))):
        pass
        yield '<span>seed <b>'
        yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'seed'))
        yield '</b></span>'
    yield '  </div>\n</header>\n\n<section class="cards" aria-label="totals">\n  <div class="card"><b>'
    yield escape(context.call((undefined(name='seconds') if l_0_seconds is missing else l_0_seconds), environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'duration_ms')))
    yield '</b><span>duration</span></div>\n  <div class="card"><b>'
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'succeeded'))
    yield ' / '
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'total'))
    yield '</b><span>steps succeeded (threshold '
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'success_threshold'))
    yield ')</span></div>\n  <div class="card"><b>'
    yield escape(environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'calls'))
    yield '</b><span>LLM calls'
    if environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'cache_hits'):
        pass
        yield ' · '
        yield escape(environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'cache_hits'))
        yield ' cached'
    yield '</span></div>\n  <div class="card"><b>'
    yield escape(environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'tokens'))
    yield '</b><span>tokens ('
    yield escape(environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'tokens_in'))
    yield ' in · '
    yield escape(environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'tokens_out'))
    yield ' out)</span></div>\n  <div class="card"><b>'
    yield escape(context.call((undefined(name='money') if l_0_money is missing else l_0_money), environment.getattr(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'total'), 'cost_usd')))
    yield '</b><span>cost</span></div>\n</section>\n'
    if (undefined(name='resumed') if l_0_resumed is missing else l_0_resumed):
        pass
        yield '\n<h2 id="segments">Segments</h2>\n<p>'
        yield escape((undefined(name='resumed') if l_0_resumed is missing else l_0_resumed))
        yield '.</p>\n<table>\n<thead><tr><th class="num">#</th><th>started (UTC)</th><th>ended</th><th>status</th><th>why it ended</th><th class="num">calls</th><th class="num">tokens</th><th class="num">cost</th><th class="num">reused</th></tr></thead>\n<tbody>\n'
        l_1_loop = missing
        for l_1_segment, l_1_loop in LoopContext(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'segments'), undefined):
            _loop_vars = {}
            pass
            yield '<tr><td class="num">'
            yield escape(environment.getattr(l_1_loop, 'index'))
            yield '</td><td>'
            yield escape(context.call(environment.getattr(environment.getattr(l_1_segment, 'started'), 'strftime'), '%Y-%m-%d %H:%M:%S', _loop_vars=_loop_vars))
            yield '</td><td>'
            yield escape(context.call(environment.getattr(environment.getattr(l_1_segment, 'finished'), 'strftime'), '%H:%M:%S', _loop_vars=_loop_vars))
            yield '</td><td><span class="badge s-'
            yield escape(environment.getattr(l_1_segment, 'status'))
            yield '">'
            yield escape(environment.getattr(l_1_segment, 'status'))
            yield '</span></td><td>'
            yield escape(environment.getattr(l_1_segment, 'reason'))
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_1_segment, 'calls'))
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_1_segment, 'tokens'))
            yield '</td><td class="num">'
            yield escape(context.call((undefined(name='money') if l_0_money is missing else l_0_money), environment.getattr(l_1_segment, 'cost_usd'), _loop_vars=_loop_vars))
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_1_segment, 'reused'))
            yield '</td></tr>\n'
        l_1_loop = l_1_segment = missing
        yield '</tbody>\n</table>\n'
    yield '\n<h2>Steps</h2>\n<div class="legend">\n  <span><i style="background: var(--ok)"></i>succeeded</span>\n  <span><i style="background: var(--fail)"></i>failed</span>\n  <span><i style="background: var(--skip)"></i>skipped</span>\n  <span>- - - runs only if its condition holds</span>\n'
    if (not (undefined(name='workflow_known') if l_0_workflow_known is missing else l_0_workflow_known)):
        pass
        yield '<span>(workflow file not available: dependencies not drawn)</span>'
    if (undefined(name='nodes_cut') if l_0_nodes_cut is missing else l_0_nodes_cut):
        pass
        yield '<span>the first '
        yield escape(t_3((undefined(name='nodes') if l_0_nodes is missing else l_0_nodes)))
        yield ' steps drawn, '
        yield escape((undefined(name='nodes_cut') if l_0_nodes_cut is missing else l_0_nodes_cut))
        yield ' more not drawn (<code>agnoctl graph</code> draws them all)</span>'
    yield '</div>\n<div class="dag">\n<svg xmlns="http://www.w3.org/2000/svg" width="'
    yield escape((undefined(name='width') if l_0_width is missing else l_0_width))
    yield '" height="'
    yield escape((undefined(name='height') if l_0_height is missing else l_0_height))
    yield '" viewBox="0 0 '
    yield escape((undefined(name='width') if l_0_width is missing else l_0_width))
    yield ' '
    yield escape((undefined(name='height') if l_0_height is missing else l_0_height))
    yield '" role="img" aria-label="step graph">\n  <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>\n'
    for l_1_edge in (undefined(name='edges') if l_0_edges is missing else l_0_edges):
        _loop_vars = {}
        pass
        yield '  <path class="edge'
        if environment.getattr(l_1_edge, 'conditional'):
            pass
            yield ' conditional'
        yield '" d="'
        yield escape(environment.getattr(l_1_edge, 'd'))
        yield '" marker-end="url(#arrow)"/>\n'
    l_1_edge = missing
    l_1_loop = missing
    for l_1_node, l_1_loop in LoopContext((undefined(name='nodes') if l_0_nodes is missing else l_0_nodes), undefined):
        _loop_vars = {}
        pass
        yield '  <a class="node n-'
        yield escape(environment.getattr(l_1_node, 'status'))
        yield '" href="#'
        yield escape(environment.getattr(l_1_node, 'anchor'))
        yield '" data-node="'
        yield escape(environment.getattr(l_1_node, 'path'))
        yield '">\n    <title>'
        yield escape(environment.getattr(l_1_node, 'path'))
        yield ': '
        yield escape(environment.getattr(l_1_node, 'detail'))
        yield '</title>\n    <rect class="box" x="'
        yield escape(environment.getattr(l_1_node, 'x'))
        yield '" y="'
        yield escape(environment.getattr(l_1_node, 'y'))
        yield '" width="180" height="'
        yield escape(environment.getattr(l_1_node, 'height'))
        yield '" rx="8"/>\n    <text class="id" x="'
        yield escape((environment.getattr(l_1_node, 'x') + 10))
        yield '" y="'
        yield escape((environment.getattr(l_1_node, 'y') + 19))
        yield '">'
        yield escape(t_4(environment, environment.getattr(l_1_node, 'path'), 24, True, '…', 0))
        yield '</text>\n    <text class="sub" x="'
        yield escape((environment.getattr(l_1_node, 'x') + 10))
        yield '" y="'
        yield escape((environment.getattr(l_1_node, 'y') + 36))
        yield '">'
        yield escape(t_4(environment, environment.getattr(l_1_node, 'detail'), 28, True, '…', 0))
        yield '</text>\n'
        l_2_loop = missing
        for l_2_child, l_2_loop in LoopContext(environment.getattr(l_1_node, 'children')[:6], undefined):
            _loop_vars = {}
            pass
            yield '    <circle class="c-'
            yield escape(environment.getattr(l_2_child, 'status'))
            yield '" cx="'
            yield escape((environment.getattr(l_1_node, 'x') + 14))
            yield '" cy="'
            yield escape(((environment.getattr(l_1_node, 'y') + 50) + (environment.getattr(l_2_loop, 'index0') * 15)))
            yield '" r="4"/>\n    <text x="'
            yield escape((environment.getattr(l_1_node, 'x') + 24))
            yield '" y="'
            yield escape(((environment.getattr(l_1_node, 'y') + 54) + (environment.getattr(l_2_loop, 'index0') * 15)))
            yield '">'
            yield escape(t_4(environment, environment.getattr(l_2_child, 'label'), 26, True, '…', 0))
            yield '</text>\n'
        l_2_loop = l_2_child = missing
        if (t_3(environment.getattr(l_1_node, 'children')) > 6):
            pass
            yield '    <text class="sub" x="'
            yield escape((environment.getattr(l_1_node, 'x') + 24))
            yield '" y="'
            yield escape(((environment.getattr(l_1_node, 'y') + 54) + 90))
            yield '">+'
            yield escape((t_3(environment.getattr(l_1_node, 'children')) - 6))
            yield ' more</text>\n'
        yield '  </a>\n'
    l_1_loop = l_1_node = missing
    yield '</svg>\n</div>\n\n<h2>Timeline</h2>\n<div class="legend">\n  <span><i class="g-ok"></i>attempt succeeded</span>\n  <span><i class="g-fail"></i>attempt failed</span>\n  <span><i class="g-wait"></i>retry wait</span>\n  <span><i class="g-span"></i>step (no model attempt)</span>\n  <span><i class="g-run"></i>group or fan-out</span>\n</div>\n<div class="toolbar" role="search">\n  <label><input type="checkbox" id="only-failed"> failed only</label>\n  <label><input type="checkbox" id="only-retried"> retried only</label>\n  <input type="search" id="search" placeholder="filter steps by path" aria-label="filter steps by path">\n  <button type="button" id="expand-all">expand all</button>\n  <button type="button" id="collapse-all">collapse all</button>\n  <span id="filter-count" class="muted" aria-live="polite"></span>\n</div>\n<div class="gantt">\n  <div class="g-axis"><span></span><div class="g-ticks">'
    for (l_1_left, l_1_label) in (undefined(name='ticks') if l_0_ticks is missing else l_0_ticks):
        _loop_vars = {}
        pass
        yield '<span style="left: '
        yield escape(l_1_left)
        yield '%">'
        yield escape(l_1_label)
        yield '</span>'
    l_1_left = l_1_label = missing
    yield '</div></div>\n'
    for l_1_row in (undefined(name='rows') if l_0_rows is missing else l_0_rows):
        _loop_vars = {}
        pass
        yield '  <div class="g-row" data-filter="'
        yield escape(environment.getattr(l_1_row, 'label'))
        yield '" data-failed="'
        yield escape(('1' if environment.getattr(l_1_row, 'failed') else '0'))
        yield '" data-retried="'
        yield escape(('1' if environment.getattr(l_1_row, 'retried') else '0'))
        yield '">\n    <div class="g-label" style="padding-left: '
        yield escape((8 + (environment.getattr(l_1_row, 'depth') * 14)))
        yield 'px" title="'
        yield escape(environment.getattr(l_1_row, 'label'))
        yield '"><a href="#'
        yield escape(environment.getattr(l_1_row, 'anchor'))
        yield '" class="s-'
        yield escape(environment.getattr(l_1_row, 'status'))
        yield '">●</a> '
        yield escape(environment.getattr(l_1_row, 'label'))
        yield '</div>\n    <div class="g-track">'
        for l_2_bar in environment.getattr(l_1_row, 'bars'):
            _loop_vars = {}
            pass
            yield '<span class="g-bar g-'
            yield escape(environment.getattr(l_2_bar, 'kind'))
            yield '" style="left: '
            yield escape(environment.getattr(l_2_bar, 'left'))
            yield '%; width: '
            yield escape(environment.getattr(l_2_bar, 'width'))
            yield '%" title="'
            yield escape(environment.getattr(l_2_bar, 'title'))
            yield '"></span>'
        l_2_bar = missing
        yield '</div>\n  </div>\n'
    l_1_row = missing
    if ((undefined(name='row_count') if l_0_row_count is missing else l_0_row_count) > (undefined(name='max_rows') if l_0_max_rows is missing else l_0_max_rows)):
        pass
        yield '<p class="muted" style="padding: 0 8px">'
        yield escape(((undefined(name='row_count') if l_0_row_count is missing else l_0_row_count) - (undefined(name='max_rows') if l_0_max_rows is missing else l_0_max_rows)))
        yield ' more rows not drawn; report.json has every attempt.</p>'
    yield '</div>\n\n<h2>Step details</h2>\n'
    if (undefined(name='steps_cut') if l_0_steps_cut is missing else l_0_steps_cut):
        pass
        yield '<p class="muted">'
        yield escape(t_3((undefined(name='steps') if l_0_steps is missing else l_0_steps)))
        yield ' steps detailed here (failed and retried ones first); '
        yield escape((undefined(name='steps_cut') if l_0_steps_cut is missing else l_0_steps_cut))
        yield ' more are in report.json.</p>'
    for l_1_view in (undefined(name='steps') if l_0_steps is missing else l_0_steps):
        l_1_step = missing
        _loop_vars = {}
        pass
        l_1_step = environment.getattr(l_1_view, 'step')
        _loop_vars['step'] = l_1_step
        yield '<details class="step s-'
        yield escape(environment.getattr(l_1_view, 'status'))
        yield '" id="'
        yield escape(environment.getattr(l_1_view, 'anchor'))
        yield '" data-filter="'
        yield escape(environment.getattr(l_1_view, 'path'))
        yield '" data-failed="'
        yield escape(('1' if environment.getattr(l_1_view, 'failed') else '0'))
        yield '" data-retried="'
        yield escape(('1' if environment.getattr(l_1_view, 'retried') else '0'))
        yield '"'
        if environment.getattr(l_1_view, 'failed'):
            pass
            yield ' open'
        yield ' style="margin-left: '
        yield escape((environment.getattr(l_1_view, 'depth') * 18))
        yield 'px">\n  <summary>\n    <b class="mono">'
        yield escape(environment.getattr(l_1_view, 'path'))
        yield '</b>\n    <span class="badge s-'
        yield escape(environment.getattr(l_1_view, 'status'))
        yield '">'
        yield escape(environment.getattr(l_1_view, 'label'))
        yield '</span>\n    <span class="muted">'
        yield escape(environment.getattr(l_1_view, 'kind'))
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'model'):
            pass
            yield ' · '
            yield escape(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'model'))
        yield ' · '
        yield escape(context.call((undefined(name='seconds') if l_0_seconds is missing else l_0_seconds), environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'duration_ms'), _loop_vars=_loop_vars))
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'calls'):
            pass
            yield ' · '
            yield escape((environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'tokens_in') + environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'tokens_out')))
            yield ' tokens · '
            yield escape(context.call((undefined(name='money') if l_0_money is missing else l_0_money), environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'cost_usd'), _loop_vars=_loop_vars))
        if (t_3(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'attempts')) > 1):
            pass
            yield ' · '
            yield escape(t_3(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'attempts')))
            yield ' attempts'
        yield '</span>\n  </summary>\n  <div class="body">\n    <div class="facts">\n      <span>calls <b>'
        yield escape(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'calls'))
        yield '</b></span>\n      <span>tokens in <b>'
        yield escape(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'tokens_in'))
        yield '</b></span>\n      <span>tokens out <b>'
        yield escape(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'tokens_out'))
        yield '</b></span>\n      <span>cost <b>'
        yield escape(context.call((undefined(name='money') if l_0_money is missing else l_0_money), environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'cost_usd'), _loop_vars=_loop_vars))
        yield '</b></span>\n'
        if (not t_5(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'exit_code'))):
            pass
            yield '<span>exit code <b>'
            yield escape(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'exit_code'))
            yield '</b></span>'
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'continue_on_error'):
            pass
            yield '<span><b>continue_on_error</b></span>'
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'loop'):
            pass
            yield '<span>loop <b>'
            yield escape(environment.getattr(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'loop'), 'iterations'))
            yield ' / '
            yield escape(environment.getattr(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'loop'), 'max_iterations'))
            yield '</b> iterations'
            if environment.getattr(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'loop'), 'until_met'):
                pass
                yield ', until met'
            elif environment.getattr(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'loop'), 'exhausted'):
                pass
                yield ', ran out'
            yield '</span>'
        yield '    </div>\n'
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'error'):
            pass
            yield '<h3>Error <span class="muted">('
            yield escape(environment.getattr(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'error'), 'kind'))
            yield ')</span></h3><pre class="error">'
            yield escape(environment.getattr(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'error'), 'message'))
            yield '</pre>'
        if environment.getattr(l_1_view, 'instructions'):
            pass
            yield '<h3>Agent instructions (template)</h3><pre>'
            yield escape(environment.getattr(l_1_view, 'instructions'))
            yield '</pre>'
        if environment.getattr(l_1_view, 'prompt'):
            pass
            yield '<h3>'
            yield escape(t_1(environment.getattr(l_1_view, 'prompt_label')))
            yield '</h3><pre>'
            yield escape(environment.getattr(l_1_view, 'prompt'))
            yield '</pre>'
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'attempts'):
            pass
            yield '    <h3>Attempts</h3>\n    <table>\n      <thead><tr><th>#</th><th>model</th><th class="num">duration</th><th>outcome</th><th class="num">wait after</th><th class="num">calls</th><th class="num">tokens</th><th class="num">cost</th></tr></thead>\n      <tbody>\n'
            for l_2_attempt in environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'attempts'):
                _loop_vars = {}
                pass
                yield '        <tr><td>'
                yield escape(environment.getattr(l_2_attempt, 'number'))
                yield '</td><td class="mono">'
                yield escape((environment.getattr(l_2_attempt, 'model') or ''))
                yield '</td><td class="num">'
                yield escape(context.call((undefined(name='seconds') if l_0_seconds is missing else l_0_seconds), environment.getattr(l_2_attempt, 'duration_ms'), _loop_vars=_loop_vars))
                yield '</td>\n          <td>'
                if environment.getattr(l_2_attempt, 'error'):
                    pass
                    yield '<span class="error">'
                    yield escape(environment.getattr(environment.getattr(l_2_attempt, 'error'), 'kind'))
                    yield '</span>: '
                    yield escape(t_4(environment, environment.getattr(environment.getattr(l_2_attempt, 'error'), 'message'), 300, True, '…', 0))
                else:
                    pass
                    yield '<span class="pass">ok</span>'
                yield '</td>\n          <td class="num">'
                if (not t_5(environment.getattr(l_2_attempt, 'delay'))):
                    pass
                    yield escape(t_2('%.2f', environment.getattr(l_2_attempt, 'delay')))
                    yield ' s'
                yield '</td>\n          <td class="num">'
                yield escape(environment.getattr(l_2_attempt, 'calls'))
                yield '</td><td class="num">'
                yield escape((environment.getattr(l_2_attempt, 'tokens_in') + environment.getattr(l_2_attempt, 'tokens_out')))
                yield '</td><td class="num">'
                yield escape(context.call((undefined(name='money') if l_0_money is missing else l_0_money), environment.getattr(l_2_attempt, 'cost_usd'), _loop_vars=_loop_vars))
                yield '</td></tr>\n'
            l_2_attempt = missing
            yield '      </tbody>\n    </table>\n'
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'gates'):
            pass
            yield '    <h3>Gates</h3>\n    <table>\n      <thead><tr><th>gate</th><th>result</th><th>value</th><th>finding</th><th class="num">attempt</th></tr></thead>\n      <tbody>\n'
            for l_2_gate in environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'gates'):
                _loop_vars = {}
                pass
                yield '        <tr><td class="mono">'
                yield escape(environment.getattr(l_2_gate, 'name'))
                yield '</td>\n          <td>'
                if environment.getattr(l_2_gate, 'passed'):
                    pass
                    yield '<span class="pass">passed</span>'
                elif (environment.getattr(l_2_gate, 'severity') == 'warn'):
                    pass
                    yield '<span class="warn">failed (warn)</span>'
                else:
                    pass
                    yield '<span class="error">failed</span>'
                yield '</td>\n          <td class="mono">'
                yield escape(t_4(environment, context.call((undefined(name='pretty') if l_0_pretty is missing else l_0_pretty), environment.getattr(l_2_gate, 'value'), _loop_vars=_loop_vars), 120, True, '…', 0))
                yield '</td>\n          <td>'
                yield escape((environment.getattr(l_2_gate, 'finding') or ''))
                if environment.getattr(l_2_gate, 'detail'):
                    pass
                    yield '<div class="muted">'
                    yield escape(environment.getattr(l_2_gate, 'detail'))
                    yield '</div>'
                yield '</td>\n          <td class="num">'
                yield escape((environment.getattr(l_2_gate, 'attempt') if (not t_5(environment.getattr(l_2_gate, 'attempt'))) else ''))
                yield '</td></tr>\n'
            l_2_gate = missing
            yield '      </tbody>\n    </table>\n'
        if environment.getattr(l_1_view, 'items'):
            pass
            yield '    <h3>Items</h3>\n    <table>\n      <thead><tr><th class="num">#</th><th>item</th><th>status</th><th class="num">attempts</th><th>output / error</th></tr></thead>\n      <tbody>\n'
            for l_2_item in environment.getattr(l_1_view, 'items'):
                _loop_vars = {}
                pass
                yield '        <tr><td class="num">'
                yield escape(environment.getattr(l_2_item, 'index'))
                yield '</td><td class="mono">'
                yield escape(environment.getattr(l_2_item, 'item'))
                yield '</td><td class="s-'
                yield escape(environment.getitem(context.call(environment.getattr(environment.getattr(l_2_item, 'status'), 'split'), ':', _loop_vars=_loop_vars), 0))
                yield '">'
                yield escape(environment.getattr(l_2_item, 'status'))
                yield '</td><td class="num">'
                yield escape(environment.getattr(l_2_item, 'attempts'))
                yield '</td>\n          <td>'
                if environment.getattr(l_2_item, 'error'):
                    pass
                    yield '<span class="error">'
                    yield escape(t_4(environment, environment.getattr(l_2_item, 'error'), 300, True, '…', 0))
                    yield '</span>'
                else:
                    pass
                    yield escape(environment.getattr(l_2_item, 'output'))
                yield '</td></tr>\n'
            l_2_item = missing
            yield '      </tbody>\n    </table>\n'
            if environment.getattr(l_1_view, 'items_cut'):
                pass
                yield '<p class="muted">'
                yield escape(environment.getattr(l_1_view, 'items_cut'))
                yield ' more items in report.json.</p>'
        if environment.getattr(l_1_view, 'output'):
            pass
            yield '<h3>Output</h3><pre>'
            yield escape(environment.getattr(l_1_view, 'output'))
            yield '</pre>'
        if environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'stderr'):
            pass
            yield '<h3>Standard error (end)</h3><pre>'
            yield escape(environment.getattr((undefined(name='step') if l_1_step is missing else l_1_step), 'stderr'))
            yield '</pre>'
        yield '  </div>\n</details>\n'
    l_1_view = l_1_step = missing
    yield '\n'
    if (environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'outputs') or environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'output_errors')):
        pass
        yield '<h2>Outputs</h2>\n'
        for (l_1_name, l_1_value) in context.call(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'outputs'), 'items')):
            _loop_vars = {}
            pass
            yield '<h3 class="mono">'
            yield escape(l_1_name)
            yield '</h3><pre>'
            yield escape(context.call((undefined(name='pretty') if l_0_pretty is missing else l_0_pretty), l_1_value, _loop_vars=_loop_vars))
            yield '</pre>\n'
        l_1_name = l_1_value = missing
        for (l_1_name, l_1_message) in context.call(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'output_errors'), 'items')):
            _loop_vars = {}
            pass
            yield '<h3 class="mono">'
            yield escape(l_1_name)
            yield '</h3><pre class="error">'
            yield escape(l_1_message)
            yield '</pre>\n'
        l_1_name = l_1_message = missing
    yield '\n<h2>Cost</h2>\n<table>\n  <thead><tr><th>by</th><th>name</th><th class="num">calls</th><th class="num">cached</th><th class="num">tokens in</th><th class="num">tokens out</th><th class="num">cost</th></tr></thead>\n  <tbody>\n'
    for (l_1_label, l_1_table) in [('model', environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'by_model')), ('agent', environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'by_agent')), ('step', (undefined(name='cost_by_step') if l_0_cost_by_step is missing else l_0_cost_by_step)), ('tag', environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'cost'), 'by_tag'))]:
        _loop_vars = {}
        pass
        for (l_2_name, l_2_totals) in context.call(environment.getattr(l_1_table, 'items'), _loop_vars=_loop_vars):
            _loop_vars = {}
            pass
            yield '    <tr><td>'
            yield escape(l_1_label)
            yield '</td><td class="mono">'
            yield escape(l_2_name)
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_2_totals, 'calls'))
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_2_totals, 'cache_hits'))
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_2_totals, 'tokens_in'))
            yield '</td><td class="num">'
            yield escape(environment.getattr(l_2_totals, 'tokens_out'))
            yield '</td><td class="num">'
            yield escape(context.call((undefined(name='money') if l_0_money is missing else l_0_money), environment.getattr(l_2_totals, 'cost_usd'), _loop_vars=_loop_vars))
            yield '</td></tr>\n'
        l_2_name = l_2_totals = missing
    l_1_label = l_1_table = missing
    if (undefined(name='cost_steps_cut') if l_0_cost_steps_cut is missing else l_0_cost_steps_cut):
        pass
        yield '<tr><td>step</td><td colspan="6" class="muted">the '
        yield escape(t_3((undefined(name='cost_by_step') if l_0_cost_by_step is missing else l_0_cost_by_step)))
        yield ' most expensive steps listed; '
        yield escape((undefined(name='cost_steps_cut') if l_0_cost_steps_cut is missing else l_0_cost_steps_cut))
        yield ' more in report.json</td></tr>'
    yield '  </tbody>\n</table>\n'
    if environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'limits'):
        pass
        yield '<h3>Limits</h3>\n<table>\n  <thead><tr><th>limit</th><th class="num">used</th><th class="num">of</th></tr></thead>\n  <tbody>\n'
        for (l_1_name, l_1_usage) in context.call(environment.getattr(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'limits'), 'items')):
            _loop_vars = {}
            pass
            yield '    <tr><td class="mono">'
            yield escape(l_1_name)
            yield '</td><td class="num">'
            yield escape(t_2('%g', environment.getattr(l_1_usage, 'used')))
            yield '</td><td class="num">'
            yield escape((t_2('%g', environment.getattr(l_1_usage, 'limit')) if (not t_5(environment.getattr(l_1_usage, 'limit'))) else 'no limit'))
            yield '</td></tr>\n'
        l_1_name = l_1_usage = missing
        yield '  </tbody>\n</table>\n'
    if environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'inputs'):
        pass
        yield '<h2>Inputs</h2>\n<pre>'
        yield escape(context.call((undefined(name='pretty') if l_0_pretty is missing else l_0_pretty), environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'inputs')))
        yield '</pre>\n'
    yield '<footer>agnoctl '
    yield escape((undefined(name='version') if l_0_version is missing else l_0_version))
    yield ' · report schema '
    yield escape(environment.getattr((undefined(name='report') if l_0_report is missing else l_0_report), 'schema_version'))
    yield ' · this page is self-contained and loads nothing from the network</footer>\n</main>\n<script>'
    yield escape((undefined(name='script') if l_0_script is missing else l_0_script))
    yield '</script>\n</body>\n</html>'

blocks = {}
debug_info = '6=64&8=66&9=68&104=74&105=76&106=80&107=83&109=89&111=91&112=93&113=95&114=97&119=103&120=105&121=111&122=119&123=125&125=127&128=130&132=133&133=137&145=160&146=163&149=171&151=179&152=183&154=191&155=195&156=201&157=205&158=211&159=217&160=224&161=228&162=234&164=241&165=244&189=253&190=263&191=267&192=273&193=283&196=298&200=304&201=311&202=315&203=318&205=334&206=336&207=340&211=359&212=361&213=363&214=365&215=367&216=372&217=375&219=390&220=397&221=402&222=409&227=412&228=416&229=422&230=432&231=437&236=445&241=448&242=452&243=454&244=464&245=466&246=473&251=477&256=480&257=484&258=494&262=505&264=510&265=515&270=523&272=526&273=530&275=535&276=539&284=545&285=548&286=552&289=568&292=576&297=579&298=583&303=591&305=594&307=597&309=601'