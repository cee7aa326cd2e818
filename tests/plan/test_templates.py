"""Rendering while planning: placeholders stand in for run-time values, and the fast path for
simple templates renders exactly as the shared Jinja2 sandbox does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.plan.placeholders import Placeholder, contains_placeholder
from agnoctl.plan.simple import render_simple
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
