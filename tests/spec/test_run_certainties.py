"""What `validate` finds that the run is sure to reject (issue 18): unknown filters and tests,
reads of output fields the output_schema does not have, and for_each literals that are not
lists. Each is reported wherever templates and expressions are read; what the run accepts
is not."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest

from agnoctl.spec.diagnostics import Diagnostic
from tests.spec.conftest import Check

HEAD = "version: 1\nname: t\n"
CLOSED = """
agents:
  analyst:
    model: mock/echo
    output_schema:
      type: object
      additionalProperties: false
      properties:
        verdict: {type: string}
        detail:
          type: object
          additionalProperties: false
          properties: {reason: {type: string}}
"""


def found(check: Check, body: str, *, closed: bool = False) -> list[tuple[str, int, int]]:
    """(code, line, col) of each diagnostic; `closed` puts the agent `analyst` first."""
    return [
        (d.code, d.line, d.col) for d in check(HEAD + (CLOSED if closed else "") + dedent(body))
    ]


def only(check: Check, body: str, *, closed: bool = False) -> Diagnostic:
    diagnostics = check(HEAD + (CLOSED if closed else "") + dedent(body))
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


# ---------------------------------------------------------------------------- filters, tests


@pytest.mark.parametrize(
    ("template", "name", "guess"),
    [
        ("{{ item | upcase }}", "upcase", "upper"),
        ("{{ item | trim | lenght }}", "lenght", "length"),
        ("{% filter upcase %}x{% endfilter %}", "upcase", "upper"),
        ("{% if item is oddd %}x{% endif %}", "oddd", "odd"),
        ("{% for x in [item] if x is not nonee %}{{ x }}{% endfor %}", "nonee", "none"),
        ("{{ item | tojsn }}", "tojsn", "tojson"),
    ],
)
def test_an_unknown_filter_or_test_is_reported_with_the_closest_name(
    check: Check, template: str, name: str, guess: str
) -> None:
    diagnostic = only(check, f"steps:\n  a:\n    for_each: [1]\n    run: [echo, '{template}']\n")
    kind = "test" if " is " in template else "filter"
    assert (diagnostic.code, diagnostic.severity) == ("E417", "error")
    assert diagnostic.message == f"unknown {kind} `{name}` in steps.a.run[1]"
    assert diagnostic.hint == f"did you mean `{guess}`?"
    assert (diagnostic.line, diagnostic.col) == (6, 18 + template.index(name))


def test_filters_and_tests_named_as_arguments_are_looked_up(check: Check) -> None:
    diagnostics = check(
        HEAD
        + "steps:\n  a:\n    run: [echo]\n"
        + "    for_each: \"[1, 2] | map('upcase') | select('oddd') | selectattr('x', 'evn')\"\n"
    )
    assert [(d.code, d.col, d.message, d.hint) for d in diagnostics] == [
        ("E417", 30, "unknown filter `upcase` in steps.a.for_each", "did you mean `upper`?"),
        ("E417", 49, "unknown test `oddd` in steps.a.for_each", "did you mean `odd`?"),
        ("E417", 75, "unknown test `evn` in steps.a.for_each", "did you mean `even`?"),
    ]


def test_unknown_filters_are_found_in_every_templated_field(check: Check) -> None:
    assert found(
        check,
        """
        inputs:
          n: {type: integer, default: 1}
        agents:
          w: {model: mock/echo, instructions: "{{ inputs.n | a1 }}"}
        steps:
          a:
            agent: w
            if: inputs.n | a2
            for_each: "[inputs.n] | a3"
            prompt: |
              first line
              {{ item | a4 }}
            gates: [{type: expr, expr: "output | a5"}]
          b:
            run: [echo, "{{ inputs.n | a6 }}"]
            env: {X: "{{ inputs.n | a7 }}"}
          g:
            loop: {max_iterations: 2, until: "steps.g.c.output | a8"}
            steps:
              c: {run: [echo]}
        outputs:
          o: "{{ steps.a.output | a9 }}"
        """,
    ) == [
        ("E417", 7, 54),
        ("E417", 11, 20),
        ("E417", 12, 29),
        ("E417", 15, 17),
        ("E417", 16, 42),
        ("E417", 18, 32),
        ("E417", 19, 29),
        ("E417", 21, 58),
        ("E417", 25, 27),
    ]


def test_a_tools_run_is_checked_for_unknown_filters(check: Check) -> None:
    diagnostic = only(
        check,
        """
        agents:
          w: {model: mock/echo, tools: [grep]}
        tools:
          grep:
            parameters: {type: object, properties: {q: {type: string}}}
            run: [grep, "{{ args.q | quote }}"]
        steps:
          a: {agent: w, prompt: hi}
        """,
    )
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("E417", 9, 30)
    assert diagnostic.hint is not None and diagnostic.hint.startswith("filters: ")


def test_every_filter_and_test_of_the_environment_passes(check: Check) -> None:
    from agnoctl.spec.templates import environment

    filters = " ".join(f"{{{{ x | {name} }}}}" for name in environment().filters)
    tests = " ".join(f"{{{{ x is {name} }}}}" for name in environment().tests if name.isalpha())
    body = f"steps:\n  a:\n    run: [echo, '{{% set x = 1 %}}{filters} {tests}']\n"
    assert check(HEAD + body) == []


# ---------------------------------------------------------------------------- output fields


@pytest.mark.parametrize(
    ("field", "line", "col"),
    [
        ("if: steps.analyse.output.verdikt == 'ok'", 20, 9),
        ("for_each: steps.analyse.output.verdikt", 20, 15),
        ("run: [echo, '{{ steps.analyse.output.verdikt }}']", 20, 21),
        ("env: {X: '{{ steps.analyse.output.verdikt }}'}", 20, 18),
        ("run: [echo, \"{{ steps.analyse.output['verdikt'] }}\"]", 20, 18),
    ],
)
def test_a_field_a_closed_schema_does_not_allow_is_an_error(
    check: Check, field: str, line: int, col: int
) -> None:
    body = CLOSED + (
        "steps:\n  analyse: {agent: analyst, prompt: go}\n"
        f"  use:\n    needs: [analyse]\n    {field}\n"
    )
    if not field.startswith("run"):
        body += "    run: [echo]\n"
    diagnostic = only(check, body)
    assert (diagnostic.code, diagnostic.severity) == ("E418", "error")
    assert (diagnostic.line, diagnostic.col) == (line, col)
    assert "`steps.analyse.output.verdikt`: the output_schema does not allow `verdikt`" in (
        diagnostic.message
    )
    assert diagnostic.hint == "did you mean `verdict`?"


def test_fields_are_checked_in_prompts_instructions_gates_loops_and_outputs(
    check: Check,
) -> None:
    assert found(
        check,
        """
        steps:
          analyse:
            agent: analyst
            prompt: go
            gates: [{type: expr, expr: "output.verdit == 'ok'"}]
          brief:
            needs: [analyse]
            agent: analyst
            prompt: "{{ steps.analyse.output.detail.reasn }}"
          review:
            loop: {max_iterations: 2, until: "steps.review.check.output.verdic == 'ok'"}
            steps:
              check: {agent: analyst, prompt: "{{ loop.previous.check.verdictt }}"}
        outputs:
          o: "{{ steps.analyse.output.verdictt }}"
        """,
        closed=True,
    ) == [
        ("E418", 21, 33),
        ("E418", 25, 17),
        ("E418", 27, 39),
        ("E418", 29, 43),
        ("E418", 31, 10),
    ]


def test_an_open_schema_makes_an_unlisted_field_a_warning(check: Check) -> None:
    diagnostic = only(
        check,
        """
        agents:
          a:
            model: mock/echo
            output_schema: {type: object, properties: {summary: {type: string}}}
        steps:
          s: {agent: a, prompt: go}
          t: {needs: [s], run: [echo, "{{ steps.s.output.sumary }}"]}
        """,
    )
    assert (diagnostic.code, diagnostic.severity) == ("W504", "warning")
    assert "the output_schema does not list `sumary`" in diagnostic.message
    assert diagnostic.hint == "did you mean `summary`?"


@pytest.mark.parametrize(
    "schema",
    [
        "{type: object, additionalProperties: true, properties: {a: {}}}",
        "{type: object, additionalProperties: {type: string}, properties: {a: {}}}",
        "{type: object, patternProperties: {'^x': {}}, properties: {a: {}}}",
        "{type: object, allOf: [{properties: {b: {}}}], properties: {a: {}}}",
        "{type: object, $ref: '#/$defs/x', $defs: {x: {}}, properties: {a: {}}}",
        "{type: array, items: {type: object, additionalProperties: false}}",
        "{type: object, additionalProperties: false}",
    ],
)
def test_a_schema_that_admits_other_names_or_says_nothing_is_trusted(
    check: Check, schema: str
) -> None:
    body = f"""
    agents:
      a: {{model: mock/echo, output_schema: {schema}}}
    steps:
      s: {{agent: a, prompt: go}}
      t: {{needs: [s], run: [echo, "{{{{ steps.s.output.b }}}}"]}}
    """
    assert found(check, body) == []


def test_reads_that_do_not_fail_at_run_time_pass(check: Check) -> None:
    # Dict methods, guarded reads, declared nested fields, fields of a field the schema does
    # not describe, and the results and outputs of a for_each step (lists).
    assert found(
        check,
        """
        steps:
          analyse: {agent: analyst, prompt: go}
          many: {agent: analyst, prompt: go, for_each: [1, 2]}
          use:
            needs: [analyse, many]
            agent: analyst
            prompt: |
              {{ steps.analyse.output.items() | list }} {{ steps.analyse.output.get('x') }}
              {{ steps.analyse.output.verdict.upper() }} {{ steps.analyse.output.detail.reason }}
              {% if steps.analyse.output.extra is defined %}{% endif %}
              {{ steps.analyse.output.x | d }} {{ steps.analyse.output.extra | default(1) }}
              {{ steps.many.output | length }} {{ steps.many.results[0].status }}
              {{ steps.many.output[0].verdict }} {{ steps.many.results[1].output.detail }}
              {{ steps.analyse.status }} {{ steps.analyse.output[0] }}
        """,
        closed=True,
    ) == [("W504", 26, 13), ("W504", 27, 10), ("W504", 27, 43)]


def test_for_each_items_and_results_follow_the_schema(check: Check) -> None:
    assert found(
        check,
        """
        steps:
          many: {agent: analyst, prompt: go, for_each: [1, 2]}
          use:
            needs: [many]
            run:
              - echo
              - "{{ steps.many.output[0].verdit }}"
              - "{{ steps.many.results[1].output.verdit }}"
        """,
        closed=True,
    ) == [("E418", 23, 13), ("E418", 24, 13)]


def test_the_steps_own_schema_overrides_the_agents(check: Check) -> None:
    diagnostic = only(
        check,
        """
        steps:
          analyse:
            agent: analyst
            prompt: go
            output_schema: {type: object, additionalProperties: false, properties: {ok: {}}}
          use: {needs: [analyse], if: steps.analyse.output.verdict, run: [echo]}
        """,
        closed=True,
    )
    assert diagnostic.code == "E418"
    assert "does not allow `verdict`" in diagnostic.message


def test_a_command_steps_schema_is_checked_and_a_step_without_one_is_not(check: Check) -> None:
    assert found(
        check,
        """
        steps:
          parsed:
            run: [echo, '{"ok": true}']
            output_schema: {type: object, additionalProperties: false, properties: {ok: {}}}
          text: {run: [echo, hi]}
          use:
            needs: [parsed, text]
            run: [echo, "{{ steps.parsed.output.okay }}", "{{ steps.text.output.anything }}"]
        """,
    ) == [("E418", 11, 21)]


def test_a_nested_field_names_where_it_is_missing(check: Check) -> None:
    diagnostic = only(
        check,
        CLOSED + "steps:\n  a: {agent: analyst, prompt: go}\n"
        "  b: {needs: [a], if: steps.a.output.detail.reasons, run: [echo]}\n",
    )
    assert diagnostic.message == (
        "`steps.a.output.detail.reasons`: the output_schema does not allow `reasons` in `detail`"
    )
    assert diagnostic.hint == "did you mean `reason`?"


# ---------------------------------------------------------------------------- for_each literals


@pytest.mark.parametrize(
    ("expression", "gives"),
    [
        ('"42"', "a number (42)"),
        ('"-4.5"', "a number (-4.5)"),
        ("\"'abc'\"", "a string ('abc')"),
        ('"true"', "a boolean (true)"),
        ('"none"', "null (an empty value)"),
        ("\"{'a': [1, 2]}\"", "a map (use `.items()` or `.values()`)"),
    ],
)
def test_a_for_each_literal_that_is_not_a_list_is_an_error(
    check: Check, expression: str, gives: str
) -> None:
    diagnostic = only(check, f"steps:\n  a:\n    run: [echo]\n    for_each: {expression}\n")
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("E419", 6, 15)
    source = expression[1:-1]
    assert diagnostic.message == f"for_each must give a list, but `{source}` gives {gives}"


@pytest.mark.parametrize(
    "expression",
    ['"[1, 2]"', '"(1, [2])"', '"range(3)"', "\"'a,b'.split(',')\"", "\"{'a': 1}.items()\""],
)
def test_a_for_each_expression_that_gives_a_list_passes(check: Check, expression: str) -> None:
    assert check(HEAD + f"steps:\n  a:\n    run: [echo]\n    for_each: {expression}\n") == []


def test_a_for_each_that_is_not_a_literal_is_left_to_the_run(check: Check) -> None:
    # What an input gives depends on the run's inputs; arithmetic is not evaluated for E419
    # (`'x' * 10 ** 9` would fill memory before the run could: it is only measured, E421).
    body = """
    inputs:
      n: {type: integer, default: 3}
    steps:
      a: {run: [echo], for_each: inputs.n}
      b: {run: [echo], for_each: "1 / 0"}
      c: {run: [echo], for_each: "'x' * 10 ** 9"}
      d: {run: [echo], for_each: "42 | upcase"}
      e: {run: [echo], for_each: "'x' * 3"}
    """
    assert [d.code for d in check(HEAD + dedent(body))] == ["E421", "E417"]


# ---------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 10**10 }}", "`*` would build about 10,000,000,000 characters"),
        ("{{ [0] * 10**9 }}", "`*` would build about 12,000,000,000 characters"),
        ("{{ 10**(10**10) }}", "`**` would build an integer of more than 100,000 bits"),
        ("{{ ('ab' * 10**6) ~ ('cd' * 10**6) }}", "`~` would build about 4,000,000 characters"),
        ("{{ '%*s' % (10**10, 'x') }}", "`%` formatting would build about 10,000,000,0"),
        ("{{ ('x' | center(3)) * 10**9 }}", None),
        ("{{ (('x' + 'y') * 2) * 10**9 }}", "`*` would build about 4,000,000,000 characters"),
    ],
)
def test_a_constant_that_builds_past_the_cap_is_an_error(
    check: Check, template: str, message: str | None
) -> None:
    """`{{ 'x' * 10**10 }}` passed validation and failed its step: a constant sub-expression
    is measured as the sandbox measures it (on its operands, never building the result)."""
    diagnostics = check(HEAD + f"steps:\n  a:\n    run: [echo, {json.dumps(template)}]\n")
    if message is None:  # a filter's result is not a constant: the run measures it
        assert diagnostics == []
        return
    assert len(diagnostics) == 1, diagnostics
    diagnostic = diagnostics[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.severity) == ("E421", 5, "error")
    assert diagnostic.message.startswith("steps.a.run[1]: ")
    assert message in diagnostic.message
    assert diagnostic.hint is not None and "build a smaller value" in diagnostic.hint


def test_the_same_constant_is_reported_in_expressions_and_sets(check: Check) -> None:
    body = """
    steps:
      a: {run: [echo], if: "('x' * 10**10) == 'x'"}
      b: {run: [echo, "{% set s = [1] * 10**10 %}{{ s | length }}"]}
      c: {run: [echo, "{{ 'x' * inputs.n }}", "{{ 'x' * 2000000 }}", "{{ 2 ** 49999 }}"]}
    inputs:
      n: {type: integer, default: 10}
    """
    assert [code for code, *_ in found(check, body)] == ["E421", "E421"]


def test_a_long_chain_of_constants_is_measured_without_recursion(check: Check) -> None:
    # Jinja2 parses 800 chained operators into a tree 800 deep; the walk that measures the
    # constants reads it as far as the other checks do (a recursive walk gave E404 here).
    def codes(template: str) -> list[str]:
        return [d.code for d in check(HEAD + f'steps:\n  a: {{run: [echo, "{template}"]}}\n')]

    assert codes("{{ " + " + ".join(["'ab'"] * 800) + " }}") == []
    assert codes("{{ 'x'" + " * 2" * 800 + " }}") == ["E421"]  # doubles past the cap at 21
