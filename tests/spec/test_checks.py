"""Model errors and semantic checks: what is reported, where, and what is not."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from agnoctl.errors import SpecInvalid
from agnoctl.spec.validate import load_workflow, validate_data, validate_text
from tests.spec.conftest import Check, codes

HEAD = "version: 1\nname: t\n"


def valid(check: Check, body: str) -> None:
    diagnostics = check(HEAD + dedent(body))
    assert diagnostics == [], diagnostics


def test_the_spec_example_shape_validates(check: Check) -> None:
    valid(
        check,
        """
        inputs:
          topic: {type: string, default: AI}
          sources: {type: array, default: [web, news]}
        env: {REGION: eu}
        agents:
          collector: {model: mock/echo, tools: [grep_notes]}
          analyst:
            model: mock/echo
            output_schema:
              type: object
              required: [summary, confidence]
              properties:
                summary: {type: string}
                confidence: {type: number}
        tools:
          grep_notes:
            parameters: {type: object, properties: {query: {type: string}}}
            run: [grep, -ri, "{{ args.query }}", notes/]
        steps:
          collect:
            agent: collector
            for_each: inputs.sources
            prompt: Collect {{ inputs.topic }} from {{ item }} ({{ index }}) in {{ env.REGION }}.
            success_threshold: 0.67
          analyse:
            agent: analyst
            needs: [collect]
            prompt: |
              {% for f in steps.collect.output %}- {{ f }} ({{ loop.index }})
              {% endfor %}{% set n = steps.collect.results | length %}{{ n }} {{ range(2) }}
              {% for k, v in inputs.items() %}{{ k }}{% endfor %} {{ run.id }} {{ workflow.dir }}
            gates:
              - {type: threshold, field: confidence, min: 0.8}
              - {type: expr, expr: "output.summary | length > 3"}
            on_gate_failure: retry
          brief:
            agent: collector
            needs: [analyse]
            if: steps.analyse.output.confidence >= 0.8
            prompt: Write from {{ steps.analyse.output.summary }} and {{ steps.collect.status }}.
        outputs:
          brief: "{{ steps.brief.output }}"
        """,
    )


def test_groups_loops_and_their_names(check: Check) -> None:
    valid(
        check,
        """
        agents:
          writer: {model: mock/echo}
        steps:
          prep: {run: [echo, a]}
          review:
            needs: [prep]
            for_each: [one, two]
            loop:
              max_iterations: 3
              until: steps.review.critique.output == 'ok' and loop.iteration > 1
            steps:
              draft:
                agent: writer
                prompt: |
                  {{ item }} {{ steps.prep.output }} {{ loop.previous.critique }}
              critique:
                needs: [draft]
                run: [echo, "{{ steps.review.draft.output }}", "{{ loop.iteration }}"]
          publish:
            needs: [review]
            run: [echo, "{{ steps.review.output[0].draft }}", "{{ steps.review.output }}"]
        outputs:
          any: "{{ steps.review.output[1].critique }} {{ steps.prep.output }}"
        """,
    )


def test_a_model_error_and_a_graph_error_are_reported_together(check: Check) -> None:
    diagnostics = check(
        HEAD
        + dedent(
            """
            agents:
              w: {model: mock/echo, temprature: 0.1}
            steps:
              a: {agent: w, prompt: hi, need: [b]}
              b: {run: [echo], needs: [ghost]}
              c: {agent: nobody, prompt: "{{ steps.a.output }}"}
            """
        )
    )
    assert codes(diagnostics) == ["E200", "E200", "E300", "E400", "E406"]
    assert "did you mean `temperature`?" in str(diagnostics[0].hint)


def test_a_broken_step_does_not_cause_false_reference_errors(check: Check) -> None:
    diagnostics = check(
        HEAD
        + dedent(
            """
            agents:
              w: {model: mock/echo}
              spare: {model: mock/echo}
            steps:
              a: {run: [echo], needs: [b], timeout: forever}
              b: {run: [echo]}
              c: {run: ["{{ steps.b.output }}"], needs: [a]}
            """
        )
    )
    # `a` is invalid, yet its needs still count; the unused agents are not judged.
    assert codes(diagnostics) == ["E207"]


def test_unknown_field_suggestions_follow_the_model_at_that_place(check: Check) -> None:
    diagnostics = check(
        HEAD + "steps:\n  a:\n    run: [echo]\n    gates: [{type: length, mn: 3}]\n"
    )
    assert codes(diagnostics) == ["E200"]
    assert diagnostics[0].hint == "did you mean `min`?"
    assert (diagnostics[0].line, diagnostics[0].col) == (6, 28)


def test_union_branch_failures_merge_into_one_diagnostic(check: Check) -> None:
    tags = check(HEAD + "steps:\n  a: {run: [echo], tags: 5}\n")
    assert [(d.code, d.message) for d in tags] == [
        ("E203", "`steps.a.tags` must be a mapping or a list, not a number (5)")
    ]
    gates = "    gates: [{type: contains, value: [x, 1]}]\n"
    value = check(HEAD + "steps:\n  a:\n    run: [echo]\n" + gates)
    assert [(d.code, d.line, d.col) for d in value] == [("E203", 6, 41)]


def test_bad_step_ids_are_reported_at_every_level_with_other_errors(check: Check) -> None:
    diagnostics = check(
        HEAD + "steps:\n  bad-id: {run: [echo]}\n  g:\n    steps:\n      x.y: {run: [echo]}\n"
        "  ok: {run: [echo], timeout: soon}\n"
    )
    assert [(d.code, d.line) for d in diagnostics] == [("E304", 4), ("E304", 7), ("E207", 8)]


def test_reads_outside_the_needs(check: Check) -> None:
    diagnostics = check(
        HEAD
        + dedent(
            """
            steps:
              g:
                steps:
                  a: {run: ["{{ steps.g.output }}"]}
                  b: {run: ["{{ steps.g.a.output }}"], needs: [a]}
                  c: {run: ["{{ steps.g.b.output }}"], needs: [b]}
                  d: {run: ["{{ steps.g.a.output }}"], needs: [c]}
              h: {run: ["{{ steps.g.c.output }}"]}
            """
        )
    )
    assert [(d.code, d.line) for d in diagnostics] == [("E406", 7), ("E406", 11)]
    assert diagnostics[0].hint == "a step cannot read itself, its own group or its own children"
    assert diagnostics[1].hint == "add `g` to the needs of `h`"


def test_item_in_the_steps_own_if_is_refused(check: Check) -> None:
    diagnostics = check(HEAD + "steps:\n  a: {run: [echo], for_each: [1], if: item > 0}\n")
    assert codes(diagnostics) == ["E409"]


def test_template_checks_in_every_templated_field(check: Check) -> None:
    diagnostics = check(
        HEAD
        + dedent(
            """
            agents:
              w: {model: mock/echo, instructions: "{{ nope }}"}
            steps:
              a:
                run: [echo]
                env: {X: "{{ inputs.missing }}"}
                for_each: "steps.zzz.output"
              b: {agent: w, prompt: hi, gates: [{type: expr, expr: "args.x"}]}
            """
        )
    )
    assert codes(diagnostics) == ["E408", "E411", "E407", "E408"]


def test_warnings_do_not_block_loading() -> None:
    result = validate_text(HEAD + "agents:\n  spare: {model: mock/echo}\nsteps:\n  a: {run: [x]}\n")
    assert result.ok and result.workflow is not None
    assert codes(result.warnings) == ["W500"]


def test_load_workflow_raises_with_every_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(HEAD + "steps:\n  a: {run: [x], needs: [b, c]}\n")
    with pytest.raises(SpecInvalid) as caught:
        load_workflow(path)
    assert codes(caught.value.diagnostics) == ["E300", "E300"]


def test_validate_data_without_a_file_points_at_line_one() -> None:
    result = validate_data({"version": 1, "name": "t", "steps": {"a": {"run": []}}})
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("E206", 1, 1)]
    odd = validate_data({"version": 1, "name": "t", "steps": {1: {"run": ["x"]}}})
    assert not odd.ok


def test_unused_agents_and_tools_are_found_in_declaration_order() -> None:
    # Reading the uses stops once every name is seen: the names left are reported in order.
    result = validate_text(
        HEAD
        + dedent(
            """
            tools:
              t1: {run: [x]}
              t2: {run: [x]}
              t3: {run: [x]}
            agents:
              c: {model: mock/echo, tools: [t2]}
              a: {model: mock/echo}
              j: {model: mock/echo}
              b: {model: mock/echo}
            steps:
              s1: {agent: a, prompt: hi}
              s2:
                agent: a
                prompt: hi
                gates: [{type: judge, agent: j, rubric: ok}]
            """
        )
    )
    assert [(d.code, d.message.split("`")[1]) for d in result.warnings] == [
        ("W501", "t1"),
        ("W501", "t3"),
        ("W500", "c"),
        ("W500", "b"),
    ]
