"""``render`` reads ``{{ a.b }}`` templates itself: the same text, or the same error, as
Jinja2 gives; anything else is left to Jinja2."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnoctl.engine.context import StepEntry, StepsView
from agnoctl.spec import templates
from agnoctl.spec.templates import TemplateError, render

NAMES = st.sampled_from(["steps", "inputs", "a", "item", "run", "none", "not", "range", "_x"])
PIECES = st.one_of(
    st.sampled_from(["text ", "\n", "\r\n", "{", "}", "{{", "}}", "{%", "{#", "x: y", " - "]),
    st.builds(
        lambda head, tail, left, right: f"{{{{{left}{'.'.join([head, *tail])}{right}}}}}",
        NAMES,
        st.lists(st.sampled_from(["a", "b", "output", "status", "id", "keys", "_x"]), max_size=3),
        st.sampled_from(["", " ", "- ", "\n"]),
        st.sampled_from(["", " ", " -", "\n"]),
    ),
)
CONTEXT: dict[str, Any] = {
    "inputs": {"a": "one", "b": {"a": 2, "b": None}, "keys": [1, 2]},
    "a": {"a": {"b": "deep"}, "output": 3.5},
    "item": None,
    "run": {"id": "r-1"},
    "steps": StepsView(
        {
            "a": StepEntry("succeeded", {"b": "x"}),
            "b": StepEntry("failed", None, children=StepsView({"a": StepEntry("skipped", 1)})),
        }
    ),
}


def _outcome(render_fn: Any, source: str) -> tuple[str, str]:
    try:
        return "text", render_fn(source, CONTEXT)
    except TemplateError as exc:
        return "error", exc.message


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=6).map("".join))
def test_simple_templates_render_as_jinja_renders_them(source: str) -> None:
    if templates.is_template(source):  # plain text is returned as it is, by both
        assert _outcome(render, source) == _outcome(templates._render_jinja, source)


def test_the_fast_path_takes_dotted_blocks_and_leaves_the_rest_to_jinja() -> None:
    assert templates._simple_parts("Hi {{ inputs.a }}!") == ("Hi {}!", (("inputs", ("a",)),))
    assert templates._simple_parts("{a}{{ x }}}") == ("{{a}}{}}}", (("x", ()),))
    for other in (
        "{{ a | upper }}",
        "{{- a }}",
        "{% if a %}x{% endif %}",
        "{{{ a }}",
        "a\r\n{{ a }}",
    ):
        assert templates._simple_parts(other) is None
    assert render("{{ steps.b.a.output }} {{ inputs.b.a }} {{ item }}", CONTEXT) == "1 2 None"
    with pytest.raises(TemplateError, match="undefined"):
        render("{{ inputs.missing }}", CONTEXT)
    with pytest.raises(TemplateError, match=r"sandbox|undefined"):
        render("{{ inputs.__class__ }}", CONTEXT)
