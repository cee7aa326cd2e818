"""A steps map's levels, as the plan prints them: networkx's topological generations, each
level in the map's order, and each step's sibling needs once each in the map's order."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl.spec.dag import NeedsClosure

# A step map as the planner reads it: ids in the map's order, each with its needs as written
# (repeated, unknown, or written after the step).
_STEP_MAPS = st.lists(st.lists(st.integers(0, 12), max_size=4), max_size=12).map(
    lambda maps: {f"s{i}": [f"s{n}" for n in needs] for i, needs in enumerate(maps)}
)


class _Needs:
    """What the levels read of a step: its needs."""

    def __init__(self, needs: list[str]) -> None:
        self.needs = needs


@given(_STEP_MAPS, st.booleans())
def test_levels_are_the_topological_generations(needs: dict[str, list[str]], reverse: bool) -> None:
    ids = list(needs)[::-1] if reverse else list(needs)
    closure = NeedsClosure({step_id: _Needs(needs[step_id]) for step_id in ids})  # type: ignore[misc]
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(ids)
    graph.add_edges_from((need, s) for s in ids for need in needs[s] if need in needs)
    if not nx.is_directed_acyclic_graph(graph):
        with pytest.raises(ValueError, match="cycle"):
            closure.levels()
        return
    expected = [sorted(level, key=ids.index) for level in nx.topological_generations(graph)]
    assert closure.levels() == expected
    for step_id in ids:
        assert closure.direct_needs(step_id) == [s for s in ids if s in needs[step_id]]
