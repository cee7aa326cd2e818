"""A workflow's steps as a diagram: Mermaid (`flowchart TD`) or Graphviz DOT.

Groups are subgraphs (DOT clusters), labelled with their loop when they have one; a `uses` step
is a subgraph of its sub-workflow's steps, labelled with the file it names. Node shapes
tell the kind: agent steps are boxes, command steps rounded, and `for_each` steps are stacked
(Mermaid's subroutine shape, DOT's box3d) with the list in their label. The edges into a
conditional step carry its `if` (a step with `if` and no needs shows it in its label). Every id
and label is quoted and escaped, so any step id or expression gives valid syntax.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from agnoctl import redact
from agnoctl.spec.dag import join_path
from agnoctl.spec.models import StepSpec, Workflow

GraphFormat = Literal["mermaid", "dot"]

_MAX_LABEL = 60
"""Longest expression shown in a label or on an edge; longer ones are cut with `...`."""


@dataclass(frozen=True, slots=True)
class _Node:
    path: str
    spec: StepSpec
    children: list[_Node]


def render_graph(workflow: Workflow, fmt: GraphFormat) -> str:
    """The workflow's step graph as Mermaid or DOT source, ending with a newline.

    A label may quote a secret (a command's argument ``${API_TOKEN}``): it is masked, as in
    everything else agnoctl prints, since a graph is pasted into docs and pull requests.
    """
    tree = _tree(workflow, workflow.steps, "")
    source = _Dot(workflow.name, tree).render() if fmt == "dot" else _Mermaid(tree).render()
    return redact.active().redact(source)


def _tree(workflow: Workflow, steps: Mapping[str, StepSpec], prefix: str) -> list[_Node]:
    """The nodes of a steps map of `workflow`'s file: a group's children, or the steps of
    the file a `uses:` names (whose own `uses:` are relative to it), under their step."""
    nodes = []
    for step_id, spec in steps.items():
        path = join_path(prefix, step_id)
        if spec.uses is not None:
            child = workflow.sub_workflow(spec.uses)
            nodes.append(_Node(path, spec, _tree(child, child.steps, path)))
        else:
            nodes.append(_Node(path, spec, _tree(workflow, spec.steps or {}, path)))
    return nodes


def _walk(nodes: list[_Node]) -> Iterator[_Node]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _edges(nodes: list[_Node]) -> Iterator[tuple[str, str, str | None]]:
    """(need, step, label) for every need among siblings; the label is the step's `if`."""
    paths = {node.path for node in _walk(nodes)}
    for node in _walk(nodes):
        prefix = node.path.rpartition(".")[0]
        label = f"if: {_short(node.spec.if_)}" if node.spec.if_ else None
        for need in dict.fromkeys(node.spec.needs):
            if join_path(prefix, need) in paths:  # validation reports needs that name no step
                yield join_path(prefix, need), node.path, label


def _label_lines(node: _Node) -> list[str]:
    spec = node.spec
    lines = [node.path.rpartition(".")[2]]
    if spec.kind == "agent":
        lines.append(f"agent: {spec.agent}")
    elif spec.kind == "command":
        lines.append(f"run: {_short(' '.join(spec.run or []))}")
    elif spec.uses is not None:
        lines.append(f"uses: {_short(spec.uses)}")
    if spec.for_each is not None:
        items = spec.for_each
        shown = _short(items) if isinstance(items, str) else f"{len(items)} items"
        lines.append(f"for_each: {shown}")
    if spec.loop is not None:
        until = f", until {_short(spec.loop.until)}" if spec.loop.until else ""
        lines.append(f"loop <= {spec.loop.max_iterations}{until}")
    if spec.if_ and not spec.needs:
        lines.append(f"if: {_short(spec.if_)}")
    return lines


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 3] + "..."


# ---------------------------------------------------------------------------- mermaid


class _Mermaid:
    def __init__(self, tree: list[_Node]) -> None:
        self.tree = tree
        self.ids: dict[str, str] = {}
        for node in _walk(tree):
            self.ids[node.path] = self._unique_id(node)

    def _unique_id(self, node: _Node) -> str:
        # Ids are letters, digits and _ (a step id could be a Mermaid keyword such as `end`).
        base = ("g_" if node.children else "s_") + node.path.replace(".", "__")
        candidate, n = base, 1
        while candidate in self.ids.values():
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    def render(self) -> str:
        lines = ["flowchart TD"]
        for node in self.tree:
            lines += self._node(node, 1)
        for need, step, label in _edges(self.tree):
            arrow = f' -->|"{_mermaid_text(label)}"| ' if label else " --> "
            lines.append(f"  {self.ids[need]}{arrow}{self.ids[step]}")
        return "\n".join(lines) + "\n"

    def _node(self, node: _Node, depth: int) -> list[str]:
        pad = "  " * depth
        text = "<br/>".join(_mermaid_text(line) for line in _label_lines(node))
        node_id = self.ids[node.path]
        if node.children:
            lines = [f'{pad}subgraph {node_id}["{text}"]', f"{pad}  direction TB"]
            for child in node.children:
                lines += self._node(child, depth + 1)
            return [*lines, f"{pad}end"]
        if node.spec.for_each is not None:
            return [f'{pad}{node_id}[["{text}"]]']
        if node.spec.kind == "command":
            return [f'{pad}{node_id}("{text}")']
        return [f'{pad}{node_id}["{text}"]']


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: characters with a meaning become entity codes."""
    special = {'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "`": "#96;", ";": "#59;"}
    return "".join(special.get(char, char) for char in text)


# ---------------------------------------------------------------------------- dot


class _Dot:
    def __init__(self, name: str, tree: list[_Node]) -> None:
        self.name = name
        self.tree = tree
        self.nodes = {node.path: node for node in _walk(tree)}

    def render(self) -> str:
        lines = [
            f"digraph {_dot_string(self.name)} {{",
            "  compound=true;",
            "  rankdir=TB;",
            '  node [shape=box, fontname="Helvetica"];',
            '  edge [fontname="Helvetica", fontsize=10];',
        ]
        for node in self.tree:
            lines += self._node(node, 1)
        for need, step, label in _edges(self.tree):
            lines.append(f"  {self._edge(need, step, label)}")
        return "\n".join([*lines, "}"]) + "\n"

    def _node(self, node: _Node, depth: int) -> list[str]:
        pad = "  " * depth
        label = _dot_string("\n".join(_label_lines(node)))
        if node.children:
            lines = [
                f"{pad}subgraph {_dot_string('cluster_' + node.path)} {{",
                f"{pad}  label={label};",
                f"{pad}  style={'dashed' if node.spec.loop else 'rounded'};",
            ]
            for child in node.children:
                lines += self._node(child, depth + 1)
            return [*lines, f"{pad}}}"]
        shape = "box3d" if node.spec.for_each is not None else "box"
        style = ', style="rounded"' if node.spec.kind == "command" else ""
        return [f"{pad}{_dot_string(node.path)} [label={label}, shape={shape}{style}];"]

    def _edge(self, need: str, step: str, label: str | None) -> str:
        # DOT edges join nodes; an edge to or from a group joins a node inside its cluster and
        # is clipped at the cluster's border (compound=true with lhead/ltail).
        attributes = []
        if self.nodes[need].children:
            attributes.append(f"ltail={_dot_string('cluster_' + need)}")
        if self.nodes[step].children:
            attributes.append(f"lhead={_dot_string('cluster_' + step)}")
        if label:
            attributes += [f"label={_dot_string(label)}", "style=dashed"]
        tail, head = _dot_string(self._anchor(need)), _dot_string(self._anchor(step))
        return f"{tail} -> {head}" + (f" [{', '.join(attributes)}]" if attributes else "") + ";"

    def _anchor(self, path: str) -> str:
        node = self.nodes[path]
        while node.children:
            node = node.children[0]
        return node.path


def _dot_string(text: str) -> str:
    """A double-quoted DOT string; a newline becomes DOT's centred line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


__all__ = ["GraphFormat", "render_graph"]
