"""`agnoctl graph`: valid Graphviz (parsed with pydot) and well-formed Mermaid, for every
fixture, example and ready-made workflow, and for ids and labels that need escaping."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pydot
import pytest

from agnoctl.diagram import render_graph
from agnoctl.spec.dag import iter_steps, join_path
from agnoctl.spec.models import Workflow
from agnoctl.spec.validate import load_workflow

REPO = Path(__file__).resolve().parents[2]
RunCli = Callable[..., subprocess.CompletedProcess[str]]

# pydot 4 still calls pyparsing's camelCase names, which pyparsing 3.3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated - use:DeprecationWarning")


def _workflows() -> list[Path]:
    found = sorted((REPO / "tests/plan/fixtures").glob("*.yaml"))
    for folder in ("examples", "workflows"):
        for path in sorted((REPO / folder).rglob("*.yaml")):
            if re.search(r"^version:", path.read_text(encoding="utf-8"), re.MULTILINE):
                found.append(path)
    return found


TRICKY = """\
version: 1
name: tricky
agents:
  w: {model: mock/echo}
steps:
  end:
    run: [echo, "say \\"hi\\"; #1 <b> | back\\\\slash {x} [y] `z`"]
  subgraph:
    needs: [end]
    if: "inputs.x > 1 and \\"a|b --> c\\" != 'c'"
    loop: {max_iterations: 3, until: "loop.iteration >= 2"}
    steps:
      graph: {agent: w, prompt: x}
      node: {agent: w, prompt: x, needs: [graph], for_each: "[1, 2]"}
  classDef: {agent: w, prompt: x, needs: [subgraph], if: "'\\\\n' in 'x'"}
inputs:
  x: {type: integer, default: 2}
"""


def _drawn(workflow: Workflow, prefix: str = "") -> list[tuple[str, bool]]:
    """(path, is a subgraph) of every step drawn: a group's children and a `uses` step's
    sub-workflow steps inside their step."""
    found = []
    for node in iter_steps(workflow):
        path = join_path(prefix, node.path)
        found.append((path, bool(node.spec.steps or node.spec.uses)))
        if node.spec.uses is not None:
            found += _drawn(workflow.sub_workflow(node.spec.uses), path)
    return found


def _leaves_and_groups(workflow: Workflow) -> tuple[set[str], set[str]]:
    nodes = _drawn(workflow)
    return (
        {path for path, subgraph in nodes if not subgraph},
        {path for path, subgraph in nodes if subgraph},
    )


def _dot_checks(workflow: Workflow) -> None:
    source = render_graph(workflow, "dot")
    [graph] = pydot.graph_from_dot_data(source) or [None]
    assert graph is not None, source
    leaves, groups = _leaves_and_groups(workflow)

    def walk(item: pydot.Graph) -> tuple[set[str], set[str]]:
        nodes = {n.get_name().strip('"') for n in item.get_nodes()} - {"node", "edge"}
        clusters = set()
        for sub in item.get_subgraphs():
            clusters.add(sub.get_name().strip('"').removeprefix("cluster_"))
            inner_nodes, inner_clusters = walk(sub)
            nodes |= inner_nodes
            clusters |= inner_clusters
        return nodes, clusters

    nodes, clusters = walk(graph)
    assert {n.replace('\\"', '"') for n in nodes} == leaves
    assert clusters == groups


_NODE = re.compile(r'^(\s*)(\w+)(\[\["|\["|\(")(.*)("\]\]|"\]|"\))$')
_SUBGRAPH = re.compile(r'^(\s*)subgraph (\w+)\["(.*)"\]$')
_EDGE = re.compile(r'^\s*(\w+) -->(?:\|"([^"]*)"\|)? (\w+)$')


def _mermaid_checks(workflow: Workflow) -> None:
    lines = render_graph(workflow, "mermaid").splitlines()
    assert lines[0] == "flowchart TD"
    declared: list[str] = []
    depth = 0
    edges = []
    for line in lines[1:]:
        if node := _NODE.match(line):
            declared.append(node.group(2))
            label = node.group(4)
        elif subgraph := _SUBGRAPH.match(line):
            declared.append(subgraph.group(2))
            label = subgraph.group(3)
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0, "`end` without subgraph"
            continue
        elif line.strip() == "direction TB":
            continue
        elif edge := _EDGE.match(line):
            edges.append((edge.group(1), edge.group(3)))
            label = edge.group(2) or ""
        else:
            raise AssertionError(f"unexpected Mermaid line {line!r}")
        assert '"' not in label and "<" not in label.replace("<br/>", "")
    assert depth == 0, "unbalanced subgraph/end"
    assert len(declared) == len(set(declared)) == len(_drawn(workflow))
    for source, target in edges:
        assert source in declared and target in declared


@pytest.mark.parametrize("path", _workflows(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_workflow_draws_valid_graphs(path: Path) -> None:
    workflow = load_workflow(path)
    _dot_checks(workflow)
    _mermaid_checks(workflow)


def test_ids_and_labels_that_need_escaping(tmp_path: Path) -> None:
    path = tmp_path / "tricky.yaml"
    path.write_text(TRICKY, encoding="utf-8")
    workflow = load_workflow(path)
    _dot_checks(workflow)
    _mermaid_checks(workflow)
    dot = render_graph(workflow, "dot")
    assert 'label="if: inputs.x > 1 and \\"a|b --> c\\" != \'c\'", style=dashed' in dot
    assert 'lhead="cluster_subgraph"' in dot and 'ltail="cluster_subgraph"' in dot
    mermaid = render_graph(workflow, "mermaid")
    assert "s_end -->|\"if: inputs.x #gt; 1 and #quot;a|b --#gt; c#quot; != 'c'\"| g_subgraph" in (
        mermaid
    )
    assert 's_subgraph__node[["node<br/>agent: w<br/>for_each: [1, 2]"]]' in mermaid
    assert "loop #lt;= 3, until loop.iteration #gt;= 2" in mermaid


def test_graph_in_a_real_process(run_cli: RunCli) -> None:
    fixture = REPO / "tests/plan/fixtures/branches.yaml"
    mermaid = run_cli("graph", fixture)
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart TD\n")
    dot = run_cli("graph", fixture, "--format", "dot")
    assert dot.returncode == 0 and pydot.graph_from_dot_data(dot.stdout)
    bad = run_cli("graph", fixture, "--format", "svg")
    assert bad.returncode == 2


def test_an_invalid_workflow_is_not_drawn(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("version: 1\nname: bad\nsteps: {}\n"))
    result = run_cli("graph", path)
    assert result.returncode == 2 and result.stdout == ""
