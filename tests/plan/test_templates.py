"""Rendering while planning: placeholders stand in for run-time values, and the fast path for
simple templates renders exactly as the shared Jinja2 sandbox does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.plan.placeholders import Placeholder, contains_placeholder
from agnoctl.plan.simple import render_simple
from agnoctl.spec import templates
from agnoctl.spec.templates import TemplateError, render

CONTEXT: dict[str, Any] = {
    "inputs": {"topic": "AI", "n": 3, "none": None, "nested": {"deep": [1, 2]}},
    "steps": Placeholder("steps"),
    "item": "eu",
    "index": 0,
}


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{ steps.collect.output }}", "<steps.collect.output>"),
        ("{% for f in steps.a.output %}- {{ f }}\n{% endfor %}", "- <steps.a.output[0]>\n"),
        (
            "{% for k, v in steps.a.output.items() %}{{ k }}={{ v }}{% endfor %}",
            "<steps.a.output.key>=<steps.a.output.value>",
        ),
        ("{{ steps.a.output | length }}", "1"),
        ("{{ steps.a.output | tojson }}", '"<steps.a.output>"'),
        ("{{ steps.a.output.score * 100 | round(1) }}", "<steps.a.output.score>"),
        ("{% if steps.a.output.confidence >= 0.8 %}yes{% else %}no{% endif %}", "no"),
        ("{{ steps.a.output.upper() }}", "<steps.a.output.upper()>"),
        ("{{ steps.a.output | map(attribute='x') | join }}", "<steps.a.output[0].x>"),
        ("{{ steps.a.results | selectattr('status', 'equalto', 'failed') | list | length }}", "0"),
        ("{{ 'a' ~ steps.a.output }}", "a<steps.a.output>"),
    ],
)
def test_placeholders_render_like_a_one_item_output(template: str, rendered: str) -> None:
    assert render(template, CONTEXT) == rendered


def test_placeholders_stay_inside_the_sandbox() -> None:
    with pytest.raises(TemplateError, match="sandbox"):
        render("{{ steps.a.output.__class__ }}", CONTEXT)


def test_contains_placeholder_looks_into_lists_and_maps() -> None:
    assert contains_placeholder([1, {"a": Placeholder("x")}])
    assert not contains_placeholder([1, {"a": "x"}, ("b",)])


_PIECES = st.sampled_from(
    [
        "text ",
        "\n",
        "\r\n",
        "  ",
        "{",
        "}",
        "-",
        "{{ inputs.topic }}",
        "{{- item -}}",
        "{{item}}",
        "{{ steps.a.output }}",
        "{{ inputs.nested.deep }}",
        "{{ inputs.none }}",
        "{{ inputs.missing }}",
        "{{ nope }}",
        "{{ true }}",
        "{{ inputs.topic | upper }}",
        "{% if true %}x{% endif %}",
        "{# note #}",
        "{{ range }}",
        "{{ steps.items }}",
        "{{ inputs.n-}}",
        "{{ index }}",
    ]
)


def _outcome(function: Any, template: str) -> tuple[str, str]:
    try:
        return "text", function(template, CONTEXT)
    except TemplateError as exc:
        return "error", exc.message


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join))
def test_the_fast_path_renders_as_jinja2_does(template: str) -> None:
    fast = _outcome(render_simple, template)
    if fast == ("text", None):
        return  # not a simple template: Jinja2 renders it
    slow = _outcome(render, template)
    if "{{ range }}" in template:  # a function's repr holds its address: compare the shape
        assert fast[0] == slow[0]
        return
    assert fast == slow


# An expression that is only a dotted name is looked up without Jinja2; the rest, and every
# lookup that does not end on a plain dict key, is Jinja2's.
_KEYS = st.sampled_from(["a", "b", "regions", "items", "keys", "get", "true", "none", "_x"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)
_EXPRESSIONS = st.builds(
    lambda names, left, right: f"{left}{'.'.join(names)}{right}",
    st.lists(_KEYS | st.sampled_from(["inputs", "not", "__class__"]), min_size=1, max_size=4),
    st.sampled_from(["", " ", "\n"]),
    st.sampled_from(["", " ", "  "]),
)


def _evaluated(function: Any, source: str, context: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", function(source, context)
    except TemplateError as exc:
        return "error", (exc.message, exc.lineno)


@settings(max_examples=400, deadline=None)
@given(_EXPRESSIONS, st.dictionaries(_KEYS | st.just("inputs"), _JSON, max_size=4))
def test_a_dotted_name_evaluates_as_jinja2_evaluates_it(
    source: str, context: dict[str, Any]
) -> None:
    fast = _evaluated(templates.evaluate, source, context)
    slow = _evaluated(templates._evaluate_jinja, source, context)
    assert fast[0] == slow[0]
    if fast[0] == "value":
        # The very object Jinja2 looked up; a dict's method is bound anew on each read.
        assert fast[1] is slow[1] or (callable(fast[1]) and fast[1] == slow[1])
    else:
        assert fast[1] == slow[1]


def test_only_a_dotted_name_outside_keywords_skips_jinja2() -> None:
    assert templates._dotted_path(" inputs.regions ") == ("inputs", "regions")
    for other in ("true", "none.a", "not x", "inputs.regions | length", "a .b", "a[0]", "a.0"):
        assert templates._dotted_path(other) is None
    regions = ["eu", "us"]
    assert templates.evaluate("inputs.regions", {"inputs": {"regions": regions}}) is regions
    assert templates.evaluate("inputs.items", {"inputs": {"items": 1}}) != 1  # the method
    with pytest.raises(TemplateError, match="undefined value"):
        templates.evaluate("inputs.missing", {"inputs": {}})
    with pytest.raises(TemplateError, match="sandbox"):
        templates.evaluate("inputs.__class__", {"inputs": {}})


def test_planning_simple_templates_does_not_import_jinja2(tmp_path: Path) -> None:
    path = tmp_path / "simple.yaml"
    path.write_text(
        "version: 1\n"
        "name: simple\n"
        "inputs:\n  regions: {type: array, default: [eu, us]}\n  topic: {default: AI}\n"
        "agents:\n  w: {model: mock/echo}\n"
        "steps:\n"
        "  a: {agent: w, for_each: inputs.regions, prompt: 'About {{ inputs.topic }} in "
        "{{ item }}'}\n"
        "  b: {agent: w, needs: [a], prompt: 'Sum up {{ steps.a.output }}'}\n",
        encoding="utf-8",
    )
    probe = (
        "import sys\n"
        "from agnoctl.cli import main\n"
        f"sys.argv = ['agnoctl', 'plan', {str(path)!r}]\n"
        "try:\n    main()\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('jinja2' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.splitlines()[-1] == "False"
    assert "eu" in proc.stdout  # it planned the for_each items
