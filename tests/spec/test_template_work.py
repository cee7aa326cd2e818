"""The work a render may do: code that runs again (loop turns, a loop's test, macro, call
block and block bodies) spends its expressions from one budget per render. The budget is
made small here, so each case ends in milliseconds."""

from __future__ import annotations

from typing import Any

import jinja2
import jinja2.sandbox
import pytest

from agnoctl.spec import sandbox
from agnoctl.spec.template_bounds import TemplateError
from agnoctl.spec.templates import evaluate, render

BUDGET = 1000
SAYS = f"the template ran past {BUDGET:,} steps of work in one render"


@pytest.fixture(autouse=True)
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_TEMPLATE_WORK", BUDGET)


def test_an_empty_loop_spends_one_a_turn_and_each_render_has_its_own_budget() -> None:
    full = "{% for i in range(n) %}{% endfor %}done"
    assert render(full, {"n": BUDGET}) == "done"
    assert render(full, {"n": BUDGET}) == "done"  # the first render's spending is not carried
    with pytest.raises(TemplateError, match=SAYS):
        render(full, {"n": BUDGET + 1})


def test_a_turn_spends_the_expressions_of_its_body() -> None:
    """`{{ x.a }}` is a name (one) and an attribute read through the sandbox's checks
    (`CHECKED_WORK`), on top of the turn's own one."""
    per_turn = 1 + 1 + sandbox.CHECKED_WORK
    body = "{% for i in range(n) %}{{ x.a }}{% endfor %}"
    assert render(body, {"n": BUDGET // per_turn, "x": {"a": ""}}) == ""
    with pytest.raises(TemplateError, match=SAYS):
        render(body, {"n": BUDGET // per_turn + 1, "x": {"a": ""}})


@pytest.mark.parametrize(
    "source",
    [
        "{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}",
        "{% for a in text %}{% for b in text %}{% endfor %}{% endfor %}",
        # The test runs at every item, though no body does.
        "{% for a in xs %}{% for b in xs if false %}{% endfor %}{% endfor %}",
        "{% for a in xs recursive %}{% if loop.depth < 3 %}{{ loop(xs) }}{% endif %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(12) }}",
        "{% macro m() %}{% endmacro %}"
        "{% for a in xs %}{% for b in xs %}{{ m() }}{% endfor %}{% endfor %}",
        "{% macro twice() %}{{ caller() }}{{ caller() }}{% endmacro %}"
        "{% call twice() %}{% call twice() %}{% call twice() %}{% call twice() %}"
        "{% call twice() %}{% call twice() %}{% call twice() %}{% call twice() %}"
        "{% call twice() %}{% call twice() %}x{% endcall %}{% endcall %}{% endcall %}{% endcall %}"
        "{% endcall %}{% endcall %}{% endcall %}{% endcall %}{% endcall %}{% endcall %}",
        "{% block b %}{% endblock %}{% for a in xs %}{% for b in xs %}{{ self.b() }}"
        "{% endfor %}{% endfor %}",
    ],
    ids=[
        "nested-lists",
        "nested-strings",
        "filtered",
        "recursive",
        "macro-recursion",
        "macro-in-loops",
        "call-blocks",
        "block-calls",
    ],
)
def test_every_kind_of_code_that_runs_again_spends(source: str) -> None:
    with pytest.raises(TemplateError, match=SAYS):
        render(source, {"xs": list(range(100)), "text": "x" * 100})


JINJA2_TEMPLATES = [
    "{% for i in xs %}{{ loop.index }}/{{ loop.length }}{{ '!' if loop.last }} {% endfor %}",
    "{% for i in xs if i is odd %}{{ i }}{% else %}none{% endfor %}",
    "{% for i in [] %}{{ i }}{% else %}empty{% endfor %}",
    "{% for i in xs %}{{ loop.cycle('a', 'b') }}{{ loop.changed(i // 2) }}{% endfor %}",
    "{% for n in tree recursive %}{{ n.name }}({{ loop(n.kids) }}){% endfor %}",
    "{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}"
    "{{ m(1, 3, 4, c=5) }}",
    "{% macro m(a) %}[{{ caller(a) }}]{% endmacro %}{% call(v) m(7) %}{{ v * 2 }}{% endcall %}",
    "{% block b %}B{% endblock %}{{ self.b() }}",
    "{% set ns = namespace(total=0) %}{% for i in xs %}{% set ns.total = ns.total + i %}"
    "{% endfor %}{{ ns.total }}",
]


@pytest.mark.parametrize("source", JINJA2_TEMPLATES)
def test_templates_render_as_jinja2_renders_them(source: str) -> None:
    context: dict[str, Any] = {
        "xs": [1, 2, 3, 4, 5],
        "tree": [{"name": "a", "kids": [{"name": "b", "kids": []}]}, {"name": "c", "kids": []}],
    }
    stock = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    assert render(source, context) == stock.from_string(source).render(context)


def test_a_for_each_s_items_are_not_a_template_loop() -> None:
    """`for_each: "range(1000000)"` is an expression: it gives the items, it does not loop."""
    assert len(evaluate("range(1000000)", {})) == 1_000_000
