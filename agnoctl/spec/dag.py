"""The step tree and its dependency graphs.

Rules (SPEC v1, "Steps"): `needs` names sibling steps only, ids in the same `steps` map. A
step's full path joins the ids of its enclosing groups with dots (`review.draft`). A finished
group exposes its children, so needing a group gives access to everything inside it.

Graphs are networkx DiGraphs whose nodes are full paths and whose edges go need → step.
networkx is imported when a graph is built: validation walks acyclic needs without it (its
import is a fifth of `agnoctl validate`'s start-up) and asks it for the cycles when there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from agnoctl.spec.models import StepSpec, Workflow

if TYPE_CHECKING:
    import networkx as nx

RESERVED_IDS = frozenset({"output", "status", "results", "error"})
"""Ids a step may not take: templates read them as attributes (`steps.<id>.output`)."""


@dataclass(frozen=True, slots=True)
class StepNode:
    """One step of the tree, with where it sits."""

    path: str
    """Full path: enclosing group ids and the step's own id joined with dots."""
    id: str
    """The step's own id (its key in the `steps` map)."""
    spec: StepSpec
    parent: str | None
    """Full path of the enclosing group; None at the top level."""
    depth: int
    """0 for top-level steps, 1 for their children, ..."""


def join_path(prefix: str, step_id: str) -> str:
    """The full path of `step_id` inside the group at `prefix` ("" is the top level)."""
    return f"{prefix}.{step_id}" if prefix else step_id


def parent_path(path: str) -> str:
    """The enclosing group's full path ("" for a top-level step)."""
    return path.rpartition(".")[0]


def iter_steps(workflow: Workflow) -> Iterator[StepNode]:
    """Every step of the workflow, parents before their children, in file order."""
    return iter_step_map(workflow.steps)


def iter_step_map(
    steps: Mapping[str, StepSpec], parent: str | None = None, depth: int = 0
) -> Iterator[StepNode]:
    """Every step of one `steps` map and of the groups inside it, parents first."""
    prefix = parent or ""
    for step_id, spec in steps.items():
        path = join_path(prefix, step_id)
        yield StepNode(path=path, id=step_id, spec=spec, parent=parent, depth=depth)
        if spec.steps:
            yield from iter_step_map(spec.steps, path, depth + 1)


def find_step(workflow: Workflow, path: str) -> StepSpec | None:
    """The step at a full path, or None when there is none."""
    steps: Mapping[str, StepSpec] | None = workflow.steps
    spec: StepSpec | None = None
    for step_id in path.split("."):
        spec = steps.get(step_id) if steps else None
        if spec is None:
            return None
        steps = spec.steps
    return spec


def step_map(workflow: Workflow, prefix: str) -> Mapping[str, StepSpec]:
    """The `steps` map of the group at `prefix` ("" is the top level); empty if none."""
    if not prefix:
        return workflow.steps
    group = find_step(workflow, prefix)
    return group.steps or {} if group else {}


def descendants(spec: StepSpec, path: str) -> Iterator[str]:
    """Full paths of every step nested inside the step at `path` (not the step itself)."""
    for node in iter_step_map(spec.steps or {}, path, 0):
        yield node.path


class SiblingNeeds:
    """The needs among the steps of one `steps` map, by step id: what each step waits for,
    what waits for it, and the levels they make. Needs that name no sibling are left out
    (validation reports them); every list is in the map's order, as the file lists the steps.
    """

    def __init__(self, steps: Mapping[str, StepSpec]) -> None:
        self._position = {step_id: i for i, step_id in enumerate(steps)}
        self.needs: dict[str, list[str]] = {
            step_id: self._in_map_order({need for need in spec.needs if need in steps})
            for step_id, spec in steps.items()
        }
        """Each step's sibling needs, once each."""
        self.dependents: dict[str, list[str]] = {step_id: [] for step_id in steps}
        """The siblings that need each step."""
        for step_id, needs in self.needs.items():
            for need in needs:
                self.dependents[need].append(step_id)

    def _in_map_order(self, step_ids: Iterable[str]) -> list[str]:
        return sorted(step_ids, key=self._position.__getitem__)

    def levels(self) -> list[list[str]]:
        """The steps level by level: a step's level is one more than its needs' highest, so
        the steps of one level may run at once (Kahn's algorithm's generations). Raises
        ValueError when the needs form a cycle (validation reports those first)."""
        waiting = {step_id: len(needs) for step_id, needs in self.needs.items()}
        generation = [step_id for step_id, count in waiting.items() if count == 0]
        levels = []
        while generation:
            levels.append(generation)
            ready = []
            for step_id in generation:
                for dependent in self.dependents[step_id]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        ready.append(dependent)
            generation = self._in_map_order(ready)
        if sum(map(len, levels)) < len(waiting):
            raise ValueError("the needs form a cycle: validate the workflow first")
        return levels


def sibling_graph(steps: Mapping[str, StepSpec], prefix: str = "") -> nx.DiGraph[str]:
    """The needs graph of one `steps` map: nodes are full paths, edges go need → step.

    Needs that name no sibling are left out; validation reports them.
    """
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(join_path(prefix, step_id) for step_id in steps)
    for step_id, spec in steps.items():
        target = join_path(prefix, step_id)
        for need in spec.needs:
            if need in steps:
                graph.add_edge(join_path(prefix, need), target)
    return graph


def find_cycle(graph: nx.DiGraph[str]) -> list[str] | None:
    """One cycle as a closed path (`["one", "two", "one"]`), or None when the graph is a DAG."""
    import networkx as nx

    try:
        edges = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [str(edge[0]) for edge in edges] + [str(edges[0][0])]


def find_cycles(graph: nx.DiGraph[str]) -> list[list[str]]:
    """One closed path per strongly connected knot of the graph, so every cycle is reported."""
    import networkx as nx

    cycles = []
    for component in nx.strongly_connected_components(graph):
        first = next(iter(component))
        if len(component) > 1 or graph.has_edge(first, first):
            cycle = find_cycle(graph.subgraph(component))
            if cycle is not None:
                cycles.append(cycle)
    return sorted(cycles)


def format_cycle(cycle: list[str]) -> str:
    """`one -> two -> one`."""
    return " -> ".join(cycle)


class NeedsClosure:
    """Transitive sibling needs of every step in one `steps` map.

    Ancestor sets are Python ints used as bitsets, built once in dependency order: a
    10,000-step chain costs a few big-int ORs per need and a bit, not a set entry, per pair.
    """

    def __init__(self, steps: Mapping[str, StepSpec]) -> None:
        self._steps = steps
        self._ids = list(steps)
        self._index = {step_id: i for i, step_id in enumerate(self._ids)}

    @cached_property
    def _needs(self) -> dict[str, list[str]]:
        """Each step's sibling needs, once each."""
        return SiblingNeeds(self._steps).needs

    @cached_property
    def _in_file_order(self) -> bool:
        """Whether every need names an earlier sibling, as files are usually written: then the
        file's order is a dependency order, and there is no cycle."""
        index = self._index
        for position, spec in enumerate(self._steps.values()):
            for need in spec.needs:
                if index.get(need, -1) >= position:
                    return False
        return True

    @cached_property
    def _bits(self) -> dict[str, int] | None:
        """Ancestor bitsets by step id; None when the needs form a cycle."""
        bits: dict[str, int] = {}
        for step_id in self._order():
            mask = 0
            for need in self._needs[step_id]:
                if need not in bits:  # only a cycle orders a need after its step
                    return None
                mask |= bits[need] | (1 << self._index[need])
            bits[step_id] = mask
        return bits

    @property
    def has_cycle(self) -> bool:
        return not self._in_file_order and self._bits is None

    @cached_property
    def _reach(self) -> dict[str, int]:
        if self._bits is not None:
            return self._bits
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self._ids)
        graph.add_edges_from((n, s) for s, needs in self._needs.items() for n in needs)
        return {s: self._mask(nx.ancestors(graph, s)) for s in self._ids}

    def _order(self) -> list[str]:
        """Needs before the steps that need them (iterative post-order depth-first search)."""
        if self._in_file_order:
            return self._ids
        order: list[str] = []
        done: set[str] = set()
        active: set[str] = set()
        for start in self._ids:
            if start in done:
                continue
            active.add(start)
            stack = [(start, iter(self._needs[start]))]
            while stack:
                step_id, pending = stack[-1]
                need = next(pending, None)
                if need is None:
                    stack.pop()
                    active.discard(step_id)
                    done.add(step_id)
                    order.append(step_id)
                elif need not in done and need not in active:  # active: a cycle, see _bits
                    active.add(need)
                    stack.append((need, iter(self._needs[need])))
        return order

    def _mask(self, ids: set[str]) -> int:
        mask = 0
        for step_id in ids:
            mask |= 1 << self._index[step_id]
        return mask

    def needs(self, step_id: str) -> set[str]:
        """Ids of the siblings `step_id` transitively needs (never itself)."""
        mask = self._reach.get(step_id, 0)
        return {s for i, s in enumerate(self._ids) if mask >> i & 1}

    def reaches(self, need_id: str, step_id: str) -> bool:
        """Whether `step_id` transitively needs `need_id`."""
        spec = self._steps.get(step_id)
        # A direct need (what templates mostly read) is reached without the ancestor sets.
        if spec is not None and need_id in spec.needs and need_id != step_id:
            return need_id in self._index
        index = self._index.get(need_id)
        return index is not None and bool(self._reach.get(step_id, 0) >> index & 1)


def transitive_needs(workflow: Workflow, path: str) -> set[str]:
    """Full paths a step may read: its transitive sibling needs, those of every enclosing
    group, and every step nested inside any of them (a finished group exposes its children)."""
    found: set[str] = set()
    parts = path.split(".")
    steps: Mapping[str, StepSpec] = workflow.steps
    for depth, step_id in enumerate(parts):
        prefix = ".".join(parts[:depth])
        if step_id not in steps:
            break
        for need in NeedsClosure(steps).needs(step_id):
            need_path = join_path(prefix, need)
            found.add(need_path)
            found.update(descendants(steps[need], need_path))
        steps = steps[step_id].steps or {}
    return found


__all__ = [
    "RESERVED_IDS",
    "NeedsClosure",
    "SiblingNeeds",
    "StepNode",
    "descendants",
    "find_cycle",
    "find_cycles",
    "find_step",
    "format_cycle",
    "iter_step_map",
    "iter_steps",
    "join_path",
    "parent_path",
    "sibling_graph",
    "step_map",
    "transitive_needs",
]
