"""The step tree and its graphs."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl.spec import dag
from agnoctl.spec.models import Workflow


def workflow(steps: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({"version": 1, "name": "t", "steps": steps})


def run(*needs: str) -> dict[str, Any]:
    return {"run": ["echo"], "needs": list(needs)}


TREE = workflow(
    {
        "fetch": run(),
        "review": {
            "needs": ["fetch"],
            "steps": {
                "draft": run(),
                "check": run("draft"),
                "inner": {"needs": ["check"], "steps": {"deep": run()}},
            },
        },
        "publish": run("review"),
        "audit": run(),
    }
)


def test_iter_steps_gives_parents_before_children_with_paths() -> None:
    nodes = [(n.path, n.id, n.parent, n.depth) for n in dag.iter_steps(TREE)]
    assert nodes == [
        ("fetch", "fetch", None, 0),
        ("review", "review", None, 0),
        ("review.draft", "draft", "review", 1),
        ("review.check", "check", "review", 1),
        ("review.inner", "inner", "review", 1),
        ("review.inner.deep", "deep", "review.inner", 2),
        ("publish", "publish", None, 0),
        ("audit", "audit", None, 0),
    ]


def test_find_step_and_step_map() -> None:
    assert dag.find_step(TREE, "review.inner.deep") is not None
    assert dag.find_step(TREE, "review.nope") is None
    assert dag.find_step(TREE, "fetch.child") is None
    assert list(dag.step_map(TREE, "review")) == ["draft", "check", "inner"]
    assert list(dag.step_map(TREE, "")) == ["fetch", "review", "publish", "audit"]
    assert dag.step_map(TREE, "fetch") == {}


def test_sibling_graph_has_full_paths_and_edges_from_need_to_step() -> None:
    group = dag.find_step(TREE, "review")
    assert group is not None and group.steps is not None
    graph = dag.sibling_graph(group.steps, "review")
    assert set(graph.nodes) == {"review.draft", "review.check", "review.inner"}
    assert set(graph.edges) == {("review.draft", "review.check"), ("review.check", "review.inner")}


def test_unknown_needs_are_left_out_of_the_graph() -> None:
    graph = dag.sibling_graph(workflow({"a": run("ghost")}).steps)
    assert list(graph.edges) == []


def test_find_cycle_gives_a_closed_path() -> None:
    steps = workflow({"one": run("two"), "two": run("one"), "three": run("one")}).steps
    cycle = dag.find_cycle(dag.sibling_graph(steps))
    assert cycle is not None
    assert dag.format_cycle(cycle) in ("one -> two -> one", "two -> one -> two")
    assert dag.find_cycle(dag.sibling_graph(TREE.steps)) is None


def test_find_cycles_reports_every_knot_once() -> None:
    steps = workflow(
        {"a": run("b"), "b": run("a"), "c": run("c"), "d": run("e"), "e": run("f"), "f": run("d")}
    ).steps
    cycles = dag.find_cycles(dag.sibling_graph(steps))
    assert len(cycles) == 3
    assert ["c", "c"] in cycles
    assert all(cycle[0] == cycle[-1] for cycle in cycles)


def test_transitive_needs_include_enclosing_groups_and_descendants() -> None:
    assert dag.transitive_needs(TREE, "fetch") == set()
    assert dag.transitive_needs(TREE, "publish") == {
        "review",
        "review.draft",
        "review.check",
        "review.inner",
        "review.inner.deep",
        "fetch",
    }
    assert dag.transitive_needs(TREE, "review.inner.deep") == {
        "fetch",
        "review.draft",
        "review.check",
    }
    assert dag.transitive_needs(TREE, "review.check") == {"fetch", "review.draft"}


def test_needs_closure_on_a_chain_and_on_a_cycle() -> None:
    chain = workflow({f"s{i}": run(*([f"s{i - 1}"] if i else [])) for i in range(200)}).steps
    closure = dag.NeedsClosure(chain)
    assert not closure.has_cycle
    assert closure.reaches("s0", "s199")
    assert not closure.reaches("s199", "s0")
    assert closure.needs("s3") == {"s0", "s1", "s2"}
    cyclic = dag.NeedsClosure(workflow({"a": run("b"), "b": run("a"), "c": run("a")}).steps)
    assert cyclic.has_cycle
    assert cyclic.needs("c") == {"a", "b"}
    assert cyclic.needs("a") == {"b"}


_IDS = ["a", "b", "c", "d", "e"]


@given(
    st.lists(
        st.lists(st.sampled_from([*_IDS, "ghost"]), max_size=3),
        min_size=len(_IDS),
        max_size=len(_IDS),
    )
)
def test_needs_closure_shortcuts_agree_with_networkx(needs: list[list[str]]) -> None:
    """File order and direct needs are shortcuts: the answers are networkx's either way."""
    steps = workflow({s: run(*n) for s, n in zip(_IDS, needs, strict=True)}).steps
    closure = dag.NeedsClosure(steps)
    graph = dag.sibling_graph(steps)
    assert closure.has_cycle == (dag.find_cycle(graph) is not None)
    for step_id in _IDS:
        ancestors = nx.ancestors(graph, step_id)
        assert closure.needs(step_id) == ancestors
        for need_id in [*_IDS, "ghost"]:
            assert closure.reaches(need_id, step_id) == (need_id in ancestors)


# A steps map as written: ids in the map's order, each with its needs (repeated, unknown, or
# written after the step; some maps have cycles).
_STEP_MAPS = st.lists(st.lists(st.integers(0, 12), max_size=4), min_size=1, max_size=12).map(
    lambda maps: {f"s{i}": run(*(f"s{n}" for n in needs)) for i, needs in enumerate(maps)}
)


@given(_STEP_MAPS, st.booleans())
def test_sibling_needs_and_levels_are_the_needs_graph_s(
    steps: dict[str, Any], reverse: bool
) -> None:
    if reverse:
        steps = dict(reversed(steps.items()))
    spec_steps = workflow(steps).steps
    ids = list(spec_steps)
    graph = dag.SiblingNeeds(spec_steps)
    expected = dag.sibling_graph(spec_steps)
    for step in ids:
        # Needs among the siblings, once each, in the map's order; dependents likewise.
        assert graph.needs[step] == [s for s in ids if expected.has_edge(s, step)]
        assert graph.dependents[step] == [s for s in ids if expected.has_edge(step, s)]
    if not nx.is_directed_acyclic_graph(expected):
        with pytest.raises(ValueError, match="cycle"):
            graph.levels()
        return
    levels = graph.levels()
    assert levels == [
        sorted(generation, key=ids.index) for generation in nx.topological_generations(expected)
    ]
