"""What `build_plan` works out: conditions and lists known before the run, placeholders,
prices, concurrency, and template problems reported with their file:line."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agnoctl.errors import SpecInvalid
from agnoctl.plan import Plan

PlanOf = Callable[..., Plan]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text("version: 1\nname: flow\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def _steps(plan: Plan) -> dict[str, object]:
    return {step.path: step for step in plan.steps}


BRANCHES = """
inputs:
  mode: {type: string, default: quick}
  items: {type: array, default: [a, b, c, d]}
agents:
  w: {model: mock/echo, max_tokens: 10}
steps:
  start: {agent: w, prompt: go}
  deep: {agent: w, prompt: deep, if: "inputs.mode == 'deep'"}
  quick: {agent: w, prompt: quick, if: "inputs.mode == 'quick'"}
  maybe: {agent: w, prompt: maybe, needs: [start], if: "steps.start.output == 'x'"}
  fan: {agent: w, prompt: "{{ item }}", for_each: "inputs['items'][1:]"}
  unknown: {agent: w, prompt: "{{ item }}", needs: [start], for_each: steps.start.output}
"""


def test_conditions_and_lists_from_inputs_are_resolved(tmp_path: Path, plan_of: PlanOf) -> None:
    plan = plan_of(_write(tmp_path, BRANCHES))
    steps = {step.path: step for step in plan.steps}
    assert steps["deep"].runs == "never" and steps["deep"].llm_calls.max == 0
    assert steps["quick"].runs == "always" and steps["quick"].llm_calls.min == 1
    assert steps["maybe"].runs == "maybe" and steps["maybe"].llm_calls.min == 0
    assert steps["fan"].for_each is not None and steps["fan"].for_each.items == 3
    assert (steps["fan"].tasks.min, steps["fan"].tasks.max) == (3, 3)
    unknown = steps["unknown"].for_each
    assert unknown is not None and unknown.items is None and unknown.assumed_max == 10
    assert (steps["unknown"].tasks.min, steps["unknown"].tasks.max) == (1, 10)
    assert any("unknown: the for_each list is known only at run time" in n for n in plan.notes)


def test_inputs_given_change_the_plan(tmp_path: Path, plan_of: PlanOf) -> None:
    plan = plan_of(_write(tmp_path, BRANCHES), {"mode": "deep", "items": ["x"]}, assume_items=4)
    steps = {step.path: step for step in plan.steps}
    assert steps["deep"].runs == "always" and steps["quick"].runs == "never"
    assert steps["fan"].for_each is not None and steps["fan"].for_each.items == 0
    assert steps["fan"].llm_calls.max == 0
    assert steps["unknown"].tasks.max == 4


def test_a_missing_required_input_is_a_placeholder(tmp_path: Path, plan_of: PlanOf) -> None:
    path = _write(
        tmp_path,
        """
        inputs:
          topic: {type: string}
          sources: {type: array, default: [a, b]}
        agents:
          w: {model: mock/echo}
        steps:
          one: {agent: w, prompt: "About {{ inputs.topic }}", for_each: inputs.sources}
          two: {agent: w, prompt: x, if: "inputs.topic == 'x'"}
        """,
    )
    plan = plan_of(path)
    assert "topic" not in plan.inputs
    assert plan.warnings == [
        "input 'topic' is required and was not given: planned as a placeholder (pass -i topic=...)"
    ]
    steps = {step.path: step for step in plan.steps}
    # the list reads only a given input; the condition reads the missing one
    assert steps["one"].for_each is not None and steps["one"].for_each.items == 2
    assert steps["two"].runs == "maybe"


def test_templates_render_with_placeholders_for_outputs(tmp_path: Path, plan_of: PlanOf) -> None:
    long_prompt = "x" * 400
    path = _write(
        tmp_path,
        f"""
        agents:
          w: {{model: mock/echo}}
        steps:
          a: {{agent: w, prompt: "{long_prompt}"}}
          b:
            agent: w
            needs: [a]
            prompt: |
              {{% for k, v in steps.a.output.items() %}}{{{{ k }}}}={{{{ v }}}}{{% endfor %}}
              {{{{ steps.a.output | length }}}} {{{{ steps.a.output.score * 100 }}}}
              {{% if steps.a.output.score > 0.5 %}}{long_prompt}{{% endif %}}
        """,
    )
    plan = plan_of(path)
    steps = {step.path: step for step in plan.steps}
    assert plan.warnings == []
    # the comparison with a placeholder is false: the 400-character branch is not counted
    assert steps["b"].input_tokens.min < steps["a"].input_tokens.min


def test_prices_free_built_in_and_unknown(tmp_path: Path, plan_of: PlanOf) -> None:
    path = _write(
        tmp_path,
        """
        providers:
          lab: {type: openai, base_url: "http://127.0.0.1:1/v1"}
          cheap:
            type: openai
            base_url: "http://127.0.0.1:2/v1"
            pricing: {gpt-4o: {input: 1, output: 1}}
        agents:
          local: {model: ollama/llama3}
          known: {model: openai/gpt-4o-mini-2024-07-18}
          custom: {model: lab/house}
          override: {model: cheap/gpt-4o}
        steps:
          a: {agent: local, prompt: x}
          b: {agent: known, prompt: x}
          c: {agent: custom, prompt: x}
          d: {agent: override, prompt: x}
        """,
    )
    plan = plan_of(path)
    sources = {use.model: use.price_source for use in plan.models}
    assert sources == {
        "ollama/llama3": "free",
        "openai/gpt-4o-mini-2024-07-18": "built-in",
        "lab/house": "unknown",
        "cheap/gpt-4o": "workflow",
    }
    steps = {step.path: step for step in plan.steps}
    assert steps["c"].cost_usd is None
    assert steps["a"].cost_usd is not None and steps["a"].cost_usd.max == 0
    assert not plan.totals.cost_complete and plan.totals.unpriced_models == ["lab/house"]
    assert any("no price for lab/house" in note for note in plan.notes)


def test_concurrency_bounds_and_waves(tmp_path: Path, plan_of: PlanOf) -> None:
    path = _write(
        tmp_path,
        """
        providers:
          lab: {type: openai, base_url: "http://127.0.0.1:1/v1", max_concurrency: 4,
                pricing: {m: {input: 0, output: 0}}}
        agents:
          w: {model: lab/m, max_tokens: 50, max_concurrency: 3}
        steps:
          fan: {agent: w, prompt: x, for_each: [1, 2, 3, 4, 5, 6, 7], retry: {max_attempts: 1}}
        limits: {max_concurrency: 2}
        """,
    )
    plan = plan_of(path)
    fan = plan.steps[0]
    assert fan.for_each is not None and fan.for_each.concurrency == 2
    assert plan.providers[0].max_concurrency == 2
    # 7 items, 2 at a time: 4 rounds of one 0.5 + 50/50 = 1.5 s call
    assert (fan.duration_s.min, fan.duration_s.max) == (6.0, 6.0)


def test_group_levels_and_nested_records(plan_of: PlanOf, fixtures_dir: Path) -> None:
    plan = plan_of(fixtures_dir / "branches.yaml")
    steps = {step.path: step for step in plan.steps}
    assert plan.levels[2] == ["work", "deep_dive"]
    region = steps["per_region"]
    assert region.levels == [["per_region.write"], ["per_region.polish"]]
    edit = steps["per_region.polish.edit"]
    # 2 regions x 1..3 loop iterations
    assert (edit.tasks.min, edit.tasks.max) == (2, 6)
    assert edit.parent == "per_region.polish"
    order = [step.path for step in plan.steps]
    assert order.index("per_region") < order.index("per_region.write") < order.index("publish")


@pytest.mark.parametrize(
    ("body", "code", "line", "text"),
    [
        (
            """
            inputs:
              config: {type: object, default: {}}
            agents:
              w: {model: mock/echo}
            steps:
              a:
                agent: w
                prompt: |
                  first line
                  {{ inputs.config.missing }}
            """,
            "E501",
            13,
            "steps.a.prompt: the template cannot be rendered: undefined value",
        ),
        (
            """
            inputs:
              n: {type: integer, default: 3}
            steps:
              a: {run: [echo, "{{ inputs.n + 'x' }}"]}
            """,
            "E501",
            7,
            "steps.a.run.1: the template cannot be rendered: TypeError",
        ),
        (
            """
            inputs:
              n: {type: integer, default: 3}
            agents:
              w: {model: mock/echo}
            steps:
              a:
                agent: w
                prompt: |
                  line one
                  {% if true %}
                  three {{ inputs.n + 'x' }}
                  {% endif %}
            """,
            "E501",
            14,
            "steps.a.prompt: the template cannot be rendered: TypeError",
        ),
        (
            """
            inputs:
              n: {type: integer, default: 3}
            agents:
              w: {model: mock/echo}
            steps:
              a: {agent: w, prompt: x, for_each: inputs.n}
            """,
            "E502",
            9,
            "for_each gives int, not a list",
        ),
        (
            """
            inputs:
              n: {type: integer, default: 3}
            agents:
              w: {model: mock/echo}
            steps:
              a: {agent: w, prompt: x, if: "inputs.n > 'x'"}
            """,
            "E503",
            9,
            "the expression cannot be evaluated",
        ),
    ],
)
def test_problems_found_while_planning_are_diagnostics(
    tmp_path: Path, plan_of: PlanOf, body: str, code: str, line: int, text: str
) -> None:
    with pytest.raises(SpecInvalid) as caught:
        plan_of(_write(tmp_path, body))
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.line) == (code, line)
    assert text in diagnostic.message
    assert diagnostic.file == str(tmp_path / "flow.yaml")


def test_a_failure_caused_by_a_placeholder_is_a_warning(tmp_path: Path, plan_of: PlanOf) -> None:
    path = _write(
        tmp_path,
        """
        agents:
          w: {model: mock/echo}
        steps:
          a: {agent: w, prompt: x}
          b: {agent: w, needs: [a], prompt: "{{ range(steps.a.output) | list }}"}
        """,
    )
    plan = plan_of(path)
    [warning] = plan.warnings
    assert warning.startswith("steps.b.prompt: could not be rendered with placeholders")
