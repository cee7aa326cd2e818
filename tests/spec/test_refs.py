"""What templates read; the regex fast path must agree with the Jinja2 parser."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnoctl.spec import refs
from agnoctl.spec.refs import Access, TemplateSyntaxProblem, UnknownName, accesses, reads


def test_accesses_of_a_rich_template() -> None:
    found = accesses(
        "{% for f in steps.a.output %}{{ loop.index }} {{ f }}{% endfor %}\n"
        "{{ steps['b'].results[0].output | length }} {{ inputs[env.KEY] }} {{ range(3) }}",
        expression=False,
    )
    assert set(found) == {
        Access("steps", ("a", "output"), 1),
        Access("steps", ("b", "results", 0, "output"), 2),
        Access("inputs", (None,), 2),
        Access("env", ("KEY",), 2),
    }


def test_loop_outside_a_for_block_is_a_read_of_loop() -> None:
    assert accesses("{{ loop.iteration }}", expression=False) == (
        Access("loop", ("iteration",), 1),
    )


def test_syntax_errors_carry_the_template_line() -> None:
    with pytest.raises(TemplateSyntaxProblem) as caught:
        accesses("one\ntwo\n{{ a +  }}", expression=False)
    assert caught.value.lineno == 3
    with pytest.raises(TemplateSyntaxProblem):
        accesses("a ==", expression=True)


def test_a_number_too_long_to_read_is_a_syntax_problem() -> None:
    with pytest.raises(TemplateSyntaxProblem, match="4300 digits"):
        accesses("1" * 5000, expression=True)


def test_reads_name_unknown_filters_guarded_reads_and_literals() -> None:
    found = reads("{{ a.b | default(c | upcase) }}\n{{ [1] | map('nope') | list }}", False)
    assert found.unknown == (UnknownName("filter", "upcase", 1), UnknownName("filter", "nope", 2))
    assert found.guarded == (Access("a", ("b",), 1),)
    assert not found.literal
    assert reads("{'a': [1, -2.5, (none, 'x')]}", True).literal
    assert not reads("[1, a]", True).literal


def test_access_text_stops_at_a_computed_key() -> None:
    assert Access("steps", ("a", None, "b"), 1).text == "steps.a"


NAMES = st.sampled_from(["steps", "inputs", "a", "b_2", "item", "true", "none", "not", "in"])
PIECES = st.one_of(
    st.sampled_from(["text ", "\n", "{", "}", "{{", "}}", "{%", "{#", " - ", "'", "x: y"]),
    st.builds(
        lambda head, tail, left, right: f"{{{{{left}{'.'.join([head, *tail])}{right}}}}}",
        NAMES,
        st.lists(NAMES, max_size=3),
        st.sampled_from(["", " ", "- ", "  "]),
        st.sampled_from(["", " ", " -", "\n"]),
    ),
)


def _parsed_or_error(source: str, expression: bool) -> tuple[Access, ...] | str:
    try:
        return refs._parsed(source, expression).accesses
    except TemplateSyntaxProblem:
        return "syntax error"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=8).map("".join))
def test_the_template_fast_path_agrees_with_jinja(source: str) -> None:
    simple = refs._simple_template(source)
    if simple is not None:
        assert _parsed_or_error(source, False) == simple


EXPRESSIONS = st.builds(
    lambda negate, head, tail, compare: f"{negate}{'.'.join([head, *tail])}{compare}",
    st.sampled_from(["", "not ", "not  "]),
    NAMES,
    st.lists(NAMES, max_size=3),
    st.sampled_from(["", " == 'ok'", ' != "x"', " >= 0.8", " < -2", " == true", " ==", " = 1"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_the_expression_fast_path_agrees_with_jinja(source: str) -> None:
    simple = refs._simple_expression(source)
    if simple is not None:
        assert _parsed_or_error(source, True) == simple
