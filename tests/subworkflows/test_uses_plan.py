"""`plan` and `graph` expand sub-workflows (`uses:`): the plan's levels, critical path, calls,
tokens and cost include every child step (x items under for_each, as a group's children);
the graph draws a `uses` step as a subgraph of the child's steps (#21)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydot
import pytest

from agnoctl.diagram import render_graph
from agnoctl.errors import SpecInvalid
from agnoctl.plan import Plan, build_plan
from agnoctl.spec.validate import load_workflow
from tests.conftest import RunCli

# pydot 4 still calls pyparsing's camelCase names, which pyparsing 3.3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated - use:DeprecationWarning")

CHILD = """\
version: 1
name: review
inputs:
  topic: {type: string}
  angles: {type: array, default: [a]}
providers:
  priced:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: k
    pricing: {m: {input: 1.0, output: 2.0}}
agents:
  writer: {model: priced/m, max_tokens: 10}
defaults:
  retry: {max_attempts: 1}
steps:
  draft: {agent: writer, prompt: "draft {{ inputs.topic }}"}
  critique:
    agent: writer
    needs: [draft]
    for_each: inputs.angles
    prompt: "critique {{ inputs.topic }} from {{ item }}"
  verdict:
    agent: writer
    needs: [critique]
    prompt: "verdict on {{ inputs.topic }}"
outputs:
  verdict: "{{ steps.verdict.output }}"
"""

PARENT = """\
version: 1
name: parent
inputs:
  topics: {type: array, default: [x1, x2, x3]}
steps:
  prepare: {run: [echo, hi]}
  review:
    uses: ./lib/review.yaml
    needs: [prepare]
    for_each: inputs.topics
    max_concurrency: 1
    with:
      topic: "{{ item }}"
      angles: "{{ ['style', 'facts'] }}"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def plan_file(path: Path, inputs: dict[str, Any] | None = None) -> Plan:
    return build_plan(load_workflow(path, offline=True), inputs or {}, workflow_path=path)


def files(folder: Path, parent: str = PARENT, child: str = CHILD) -> Path:
    write(folder, "lib/review.yaml", child)
    return write(folder, "flow.yaml", parent)


def test_the_plan_counts_every_child_step_times_the_items(tmp_path: Path) -> None:
    plan = plan_file(files(tmp_path))
    alone = plan_file(tmp_path / "lib/review.yaml", {"topic": "x1", "angles": ["style", "facts"]})
    # One invocation is the child planned on its own with what `with:` gives; three items.
    assert alone.totals.llm_calls.max == 4  # draft, 2 critiques, verdict
    for name in ("llm_calls", "input_tokens", "output_tokens"):
        assert getattr(plan.totals, name).max == 3 * getattr(alone.totals, name).max
    assert plan.totals.cost_usd is not None and alone.totals.cost_usd is not None
    assert plan.totals.cost_usd.max == pytest.approx(3 * alone.totals.cost_usd.max)
    assert plan.totals.cost_complete  # the child's model is priced by the child's provider
    steps = {step.path: step for step in plan.steps}
    review = steps["review"]
    assert review.kind == "uses" and review.tasks.max == 3
    assert review.levels == [["review.draft"], ["review.critique"], ["review.verdict"]]
    assert steps["review.critique"].parent == "review"
    assert steps["review.critique"].tasks.max == 6  # 3 invocations x 2 angles: a known list
    assert plan.critical_path == [
        "prepare",
        "review",
        "review.draft",
        "review.critique",
        "review.verdict",
    ]
    # One item at a time: the step takes three invocations' time.
    assert review.duration_s.max == pytest.approx(3 * alone.totals.duration_s.max)


def test_the_parents_limits_are_checked_against_the_childrens_calls(tmp_path: Path) -> None:
    limited = PARENT.replace("steps:\n", "limits: {max_llm_calls: 5}\nsteps:\n", 1)
    plan = plan_file(files(tmp_path, limited))
    [check] = plan.limits
    assert (check.limit, check.status) == ("max_llm_calls", "exceeds")
    assert any("max_llm_calls is 5" in warning for warning in plan.warnings)


def test_a_with_value_known_only_at_run_time_is_a_placeholder(tmp_path: Path) -> None:
    parent = PARENT.replace("\"{{ ['style', 'facts'] }}\"", '"{{ steps.prepare.output }}"')
    plan = plan_file(files(tmp_path, parent))
    critique = next(step for step in plan.steps if step.path == "review.critique")
    assert critique.for_each is not None and critique.for_each.items is None
    assert any(note.startswith(f"{tmp_path / 'lib' / 'review.yaml'}: ") for note in plan.notes)


def test_a_problem_inside_a_child_is_at_the_childs_file_and_line(tmp_path: Path) -> None:
    child = CHILD.replace('"verdict on {{ inputs.topic }}"', '"verdict {{ inputs.angles + 1 }}"')
    path = files(tmp_path, child=child)
    with pytest.raises(SpecInvalid) as raised:
        plan_file(path)
    [problem] = raised.value.diagnostics
    line = next(n for n, text in enumerate(child.splitlines(), 1) if "inputs.angles + 1" in text)
    assert (Path(problem.file).name, problem.code, problem.line) == ("review.yaml", "E501", line)


def test_plan_of_a_sub_workflow_in_a_real_process(tmp_path: Path, run_cli: RunCli) -> None:
    files(tmp_path)
    result = run_cli("plan", "flow.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr  # it refused (exit 2) before #21's plan
    plan = json.loads(result.stdout)
    assert plan["totals"]["llm_calls"] == {"min": 12, "max": 12}
    assert [step["path"] for step in plan["steps"]] == [
        "prepare",
        "review",
        "review.draft",
        "review.critique",
        "review.verdict",
    ]
    text = run_cli("plan", "flow.yaml")
    assert text.returncode == 0 and "review 2: review.verdict" in text.stdout


GRANDCHILD = """\
version: 1
name: leaf
steps:
  one: {run: [echo, one]}
  two: {run: [echo, two], needs: [one]}
"""


def test_graph_draws_a_uses_step_as_a_subgraph_of_the_childs_steps(
    tmp_path: Path, run_cli: RunCli
) -> None:
    child = CHILD.replace("outputs:", "  tail: {uses: ./leaf.yaml, needs: [verdict]}\noutputs:", 1)
    files(tmp_path, child=child)
    write(tmp_path, "lib/leaf.yaml", GRANDCHILD)
    mermaid = run_cli("graph", "flow.yaml")
    assert mermaid.returncode == 0, mermaid.stderr
    assert 'subgraph g_review["review<br/>uses: ./lib/review.yaml<br/>for_each:' in mermaid.stdout
    assert 'subgraph g_review__tail["tail<br/>uses: ./leaf.yaml"]' in mermaid.stdout
    assert "s_review__draft --> s_review__critique" in mermaid.stdout
    assert "s_review__tail__one --> s_review__tail__two" in mermaid.stdout
    assert "s_prepare --> g_review" in mermaid.stdout
    dot = run_cli("graph", "flow.yaml", "--format", "dot")
    assert dot.returncode == 0, dot.stderr
    [graph] = pydot.graph_from_dot_data(dot.stdout) or [None]
    assert graph is not None
    [review] = graph.get_subgraphs()
    assert review.get_name() == '"cluster_review"'
    assert [sub.get_name() for sub in review.get_subgraphs()] == ['"cluster_review.tail"']
    assert '"prepare" -> "review.draft" [lhead="cluster_review"];' in dot.stdout


def test_render_graph_reads_each_files_own_uses(tmp_path: Path) -> None:
    # The child's `uses: ./leaf.yaml` is relative to lib/, where the parent has no such file.
    child = CHILD.replace("outputs:", "  tail: {uses: ./leaf.yaml}\noutputs:", 1)
    write(tmp_path, "lib/leaf.yaml", GRANDCHILD)
    workflow = load_workflow(files(tmp_path, child=child), offline=True)
    assert '"review.tail.two" [label="two\\nrun: echo two"' in render_graph(workflow, "dot")
