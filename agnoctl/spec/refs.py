"""What a template or expression reads: root names and the attribute chains hung on them.

`{{ steps.review.draft.output }}` reads root `steps` with keys ("review", "draft", "output").
Validation checks each access against the language's names (SPEC v1, "Values"). Simple
templates (`{{ name.attr }}` blocks in plain text) are read with one regular expression;
anything else goes through the sandboxed Jinja2 parser, so both agree on what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import nodes

from agnoctl.spec.templates import environment, parse

Key = str | int | None
"""A constant attribute or index; None where the key is computed at render time."""


@dataclass(frozen=True, slots=True)
class Access:
    """One read of a root name, with the constant keys that follow it."""

    root: str
    keys: tuple[Key, ...]
    line: int
    """Line inside the template (1-based)."""

    @property
    def text(self) -> str:
        """The access as written up to the first computed key: `steps.a.output`."""
        parts = [self.root]
        for key in self.keys:
            if not isinstance(key, str):
                break
            parts.append(key)
        return ".".join(parts)


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_BLOCK = re.compile(r"\{\{-?\s*(" + _NAME + r"(?:\." + _NAME + r")*)\s*-?\}\}")
_SIMPLE_EXPRESSION = re.compile(r"\s*(" + _NAME + r"(?:\." + _NAME + r")*)\s*")
_OPENERS = ("{{", "{%", "{#")
# Names that the parser does not read as a variable at the start of an expression.
_KEYWORDS = frozenset(
    "true false none True False None not and or in is if else elif endif for endfor recursive"
    .split()
)


def accesses(source: str, *, expression: bool) -> tuple[Access, ...]:
    """Every root-name read in a template or expression; raises TemplateError on bad syntax."""
    if not expression and not any(opener in source for opener in _OPENERS):
        return ()
    simple = _simple(source, expression=expression)
    return simple if simple is not None else _parsed(source, expression)


def _simple(source: str, *, expression: bool) -> tuple[Access, ...] | None:
    """The accesses of a template made only of `{{ a.b.c }}` blocks, else None."""
    if expression:
        match = _SIMPLE_EXPRESSION.fullmatch(source)
        return (_dotted(match.group(1), 1),) if match and _plain(match.group(1)) else None
    found: list[Access] = []
    position = 0
    for match in _SIMPLE_BLOCK.finditer(source):
        gap = source[position : match.start()]
        if any(opener in gap for opener in _OPENERS) or gap.endswith("{"):
            return None
        if not _plain(match.group(1)):
            return None
        found.append(_dotted(match.group(1), source.count("\n", 0, match.start()) + 1))
        position = match.end()
    if any(opener in source[position:] for opener in _OPENERS):
        return None
    return tuple(found)


def _plain(dotted: str) -> bool:
    return dotted.split(".", 1)[0] not in _KEYWORDS


def _dotted(dotted: str, line: int) -> Access:
    root, *keys = dotted.split(".")
    return Access(root, tuple(keys), line)


@lru_cache(maxsize=4096)
def _parsed(source: str, expression: bool) -> tuple[Access, ...]:
    tree = parse(source, expression=expression)
    stored = {
        node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")
    }
    ignored = stored | set(environment().globals) | {"caller", "varargs", "kwargs"}
    found: list[Access] = []
    _walk(tree, False, found)
    return tuple(a for a in found if a.root not in ignored)


def _walk(node: nodes.Node, in_loop: bool, found: list[Access]) -> None:
    """Collect accesses; `in_loop` marks a `{% for %}` body, where `loop` is Jinja's own."""
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        _chain(node, in_loop, found)
    elif isinstance(node, nodes.For):
        for child in (node.target, node.iter, node.test):
            if child is not None:
                _walk(child, in_loop, found)
        for child in [*node.body, *node.else_]:
            _walk(child, True, found)
    else:
        for child in node.iter_child_nodes():
            _walk(child, in_loop, found)


def _chain(node: nodes.Node, in_loop: bool, found: list[Access]) -> None:
    keys: list[Key] = []
    current = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        if isinstance(current, nodes.Getattr):
            keys.append(current.attr)
        else:
            arg = current.arg
            constant = isinstance(arg, nodes.Const) and isinstance(arg.value, str | int)
            keys.append(arg.value if constant else None)
            if not constant:
                _walk(arg, in_loop, found)
        current = current.node
    if isinstance(current, nodes.Name):
        if current.ctx == "load" and not (in_loop and current.name == "loop"):
            found.append(Access(current.name, tuple(reversed(keys)), node.lineno))
    else:
        _walk(current, in_loop, found)


__all__ = ["Access", "accesses"]
