"""What a template or expression reads: root names and the attribute chains hung on them,
and the filters and tests it names that the environment lacks.

`{{ steps.review.draft.output }}` reads root `steps` with keys ("review", "draft", "output").
Validation checks each access against the language's names (SPEC v1, "Values"). Simple
templates (`{{ name.attr }}` blocks in plain text) are read with one regular expression;
anything else goes through the sandboxed Jinja2 parser, so both agree on what is valid.
Jinja2 is imported only then: a file of simple templates validates without it (a simple
template names no filter or test).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from itertools import chain
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from jinja2 import nodes

    from agnoctl.spec.sandbox import Oversized

Key = str | int | None
"""A constant attribute or index; None where the key is computed at render time."""


class TemplateSyntaxProblem(Exception):
    """A template or expression does not parse."""

    def __init__(self, message: str, lineno: int | None, near: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno  # 1-based line inside the template, when known
        self.near = near  # the text on that line the problem is at, when known


class Access(NamedTuple):
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


class UnknownName(NamedTuple):
    """A filter or test the template environment does not have: the run is sure to fail
    where it is used (Jinja2 refuses the template, or the filter that looks it up raises)."""

    kind: Literal["filter", "test"]
    name: str
    line: int
    """Line inside the template (1-based)."""


class Change(NamedTuple):
    """A call of a method that changes a list, dict or set in place (`inputs.update(...)`):
    the sandbox refuses it, so the run is sure to fail where it is used."""

    method: str
    line: int
    """Line inside the template (1-based)."""


class Reads(NamedTuple):
    """What one template or expression reads."""

    accesses: tuple[Access, ...]
    unknown: tuple[UnknownName, ...] = ()
    guarded: tuple[Access, ...] = ()
    """Accesses under `is defined`, `is undefined`, `| default` or `| d`: a missing value
    there is handled by the template, not an error."""
    literal: bool = False
    """The expression is one literal (a constant, or a list, tuple or map display of
    literals): its value is known without a context, at the cost of its text."""
    changes: tuple[Change, ...] = ()
    oversized: tuple[Oversized, ...] = ()
    """Constant sub-expressions that build past the render cap (`'x' * 10**10`)."""


_NOTHING = Reads(())
# Reads(accesses, (), (), False, (), ()) without the named tuple's Python-level __new__: the
# reads of a simple template, one per distinct template of a file.
_new_reads: Callable[
    [
        tuple[
            tuple[Access, ...],
            tuple[UnknownName, ...],
            tuple[Access, ...],
            bool,
            tuple[()],
            tuple[()],
        ]
    ],
    Reads,
] = partial(tuple.__new__, Reads)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = _NAME + r"(?:\." + _NAME + r")*"
_SIMPLE_BLOCK = re.compile(r"\{\{-?\s*(" + _DOTTED + r")\s*-?\}\}")
# `a.b`, `not a.b`, `a.b == 'x'`, `a.b >= 0.8`: the common shapes of `if` and `until`.
_SIMPLE_EXPRESSION = re.compile(
    r"\s*(?:not\s+)?(" + _DOTTED + r")\s*"
    r"(?:(?:==|!=|>=|<=|>|<)\s*(?:'[^'\\\n]*'|\"[^\"\\\n]*\"|-?\d+(?:\.\d+)?|true|false|none)\s*)?"
)
# Names that the parser does not read as a variable at the start of an expression.
_KEYWORDS = frozenset(
    {"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if"}
)


@lru_cache(maxsize=4096)
def reads(source: str, expression: bool) -> Reads:
    """What a template or expression reads; raises TemplateSyntaxProblem."""
    if not expression and "{" not in source:
        return _NOTHING
    simple = _simple_expression(source) if expression else _simple_template(source)
    if simple is None:
        return _parsed(source, expression)
    return _new_reads((simple, (), (), False, (), ()))


def accesses(source: str, expression: bool) -> tuple[Access, ...]:
    """Every root-name read in a template or expression; raises TemplateSyntaxProblem."""
    return reads(source, expression).accesses


def _simple_expression(source: str) -> tuple[Access, ...] | None:
    match = _SIMPLE_EXPRESSION.fullmatch(source)
    if match is None or not _plain(match.group(1)):
        return None
    return (_dotted(match.group(1), 1),)


def _simple_template(source: str) -> tuple[Access, ...] | None:
    """The accesses of a template made only of text and `{{ a.b.c }}` blocks, else None.

    Every `{{` must open such a block (so the counts agree) and none may follow a `{`.
    """
    if "{%" in source or "{#" in source or "{{{" in source:
        return None
    if "\n" not in source:  # one line: every access is on line 1, no positions needed
        names = _SIMPLE_BLOCK.findall(source)
        if source.count("{{") != len(names):
            return None
        accessed: list[Access] = []
        for dotted in names:
            access = _on_first_line(dotted)
            if access is None:
                return None
            accessed.append(access)
        return tuple(accessed)
    matches = list(_SIMPLE_BLOCK.finditer(source))
    if source.count("{{") != len(matches):
        return None
    found: list[Access] = []
    multiline = "\n" in source
    line, counted = 1, 0
    for match in matches:
        dotted = match.group(1)
        if not _plain(dotted):
            return None
        if multiline:
            line += source.count("\n", counted, match.start(1))
            counted = match.start(1)
        found.append(_dotted(dotted, line))
    return tuple(found)


@lru_cache(maxsize=16384)
def _on_first_line(dotted: str) -> Access | None:
    """The access `dotted` on line 1, or None when it starts with a keyword. Cached: files
    read the same names over and over (`inputs.topic`, each step's needs), and an access is
    an immutable tuple, so templates share them."""
    return _dotted(dotted, 1) if _plain(dotted) else None


def _plain(dotted: str) -> bool:
    return dotted.partition(".")[0] not in _KEYWORDS


def _dotted(dotted: str, line: int) -> Access:
    root, *keys = dotted.split(".")
    return _new_access((root, tuple(keys), line))


# Access(root, keys, line) without the named tuple's Python-level __new__ (what it calls).
_new_access: Callable[[tuple[str, tuple[Key, ...], int]], Access] = partial(tuple.__new__, Access)


def _parsed(source: str, expression: bool) -> Reads:
    from agnoctl.spec.templates import TemplateError, nested_too_deeply, parse

    try:
        return _read(parse(source, expression=expression), expression)
    except TemplateError as exc:
        raise TemplateSyntaxProblem(exc.message, exc.lineno, exc.near) from None
    except RecursionError:  # Jinja2 parsed it, but its tree is too deep to walk
        error = nested_too_deeply("expression" if expression else "template")
        raise TemplateSyntaxProblem(error.message, None) from None


def _read(tree: nodes.Template, expression: bool) -> Reads:
    from jinja2 import nodes

    from agnoctl.spec.sandbox import oversized_constants
    from agnoctl.spec.templates import environment

    stored = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    stored.update(macro.name for macro in tree.find_all(nodes.Macro))
    ignored = stored | set(environment().globals) | {"caller", "varargs", "kwargs"}
    found: list[Access] = []
    _walk(tree, False, found)
    unknown: list[UnknownName] = []
    guarded: list[Access] = []
    filters_and_tests: Iterator[nodes.Filter | nodes.Test] = chain(
        tree.find_all(nodes.Filter), tree.find_all(nodes.Test)
    )
    for node in filters_and_tests:
        unknown += _unknown_names(node)
        if node.name in _GUARDS and node.node is not None:
            _chain(node.node, False, guarded)
    accessed = tuple(a for a in found if a.root not in ignored)
    literal = expression and _is_literal(tree)
    return Reads(
        accessed, tuple(unknown), tuple(guarded), literal, _changes(tree), oversized_constants(tree)
    )


_MUTABLE_KINDS: tuple[object, ...] = ({}, [], set())


def _changes(tree: nodes.Template) -> tuple[Change, ...]:
    """Calls of `.update(...)`, `.append(...)`, ...: a method that changes a dict, list or set
    (as the sandbox tells them), whatever it is called on."""
    from jinja2 import nodes
    from jinja2.sandbox import modifies_known_mutable

    return tuple(
        Change(call.node.attr, call.lineno)
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Getattr)
        and any(modifies_known_mutable(kind, call.node.attr) for kind in _MUTABLE_KINDS)
    )


MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})
"""Names Jinja2 reads as a map's methods, before any key of that name (`x.items`)."""


def uncalled_methods(source: str, expression: bool) -> tuple[Change, ...]:
    """Reads such as `steps.a.output.items` that give a map's method instead of its key
    `items` and do not call it: rendered, the method's text (`<built-in method items of dict
    object at 0x...>`) goes into a prompt or a command, and a condition reads it as true."""
    from jinja2 import nodes

    from agnoctl.spec.templates import parse

    tree = parse(source, expression=expression)
    called = [call.node for call in tree.find_all(nodes.Call)]
    return tuple(
        Change(read.attr, read.lineno)
        for read in tree.find_all(nodes.Getattr)
        if read.attr in MAPPING_METHODS and not any(read is node for node in called)
    )


def _is_literal(tree: nodes.Template) -> bool:
    """Whether a parsed expression (`{{ (expression) }}`) is one literal."""
    from jinja2 import nodes

    output = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(output, nodes.Output) or len(output.nodes) != 1:
        return False
    return _literal(output.nodes[0])


def _literal(node: nodes.Node) -> bool:
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.Neg | nodes.Pos):
        return _literal(node.node)
    if isinstance(node, nodes.List | nodes.Tuple):
        return all(_literal(item) for item in node.items)
    if isinstance(node, nodes.Dict):
        return all(_literal(pair.key) and _literal(pair.value) for pair in node.items)
    return False


# Filters and tests that make a missing value the template's own business.
_GUARDS = frozenset({"default", "d", "defined", "undefined"})
# Filters that look a filter or test up by name at render time: the position of the name
# among their arguments, and what it names.
_BY_NAME: dict[str, tuple[int, Literal["filter", "test"]]] = {
    "map": (0, "filter"),
    "select": (0, "test"),
    "reject": (0, "test"),
    "selectattr": (1, "test"),
    "rejectattr": (1, "test"),
}


def _unknown_names(node: nodes.Filter | nodes.Test) -> list[UnknownName]:
    from jinja2 import nodes

    from agnoctl.spec.templates import environment

    env = environment()
    kind: Literal["filter", "test"] = "filter" if isinstance(node, nodes.Filter) else "test"
    named = [(kind, node.name)]
    by_name = _BY_NAME.get(node.name) if kind == "filter" else None
    if by_name is not None and len(node.args) > by_name[0]:
        arg = node.args[by_name[0]]
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            named.append((by_name[1], arg.value))
    return [
        UnknownName(looked_up, name, node.lineno)
        for looked_up, name in named
        if name not in (env.filters if looked_up == "filter" else env.tests)
    ]


def _walk(node: nodes.Node, in_loop: bool, found: list[Access]) -> None:
    """Collect accesses; `in_loop` marks a `{% for %}` body, where `loop` is Jinja's own."""
    from jinja2 import nodes

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
    from jinja2 import nodes

    keys: list[Key] = []
    current = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        if isinstance(current, nodes.Getattr):
            keys.append(current.attr)
        else:
            arg = current.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str | int):
                keys.append(arg.value)
            else:
                keys.append(None)
                _walk(arg, in_loop, found)
        current = current.node
    if isinstance(current, nodes.Name):
        if current.ctx == "load" and not (in_loop and current.name == "loop"):
            found.append(Access(current.name, tuple(reversed(keys)), node.lineno))
    else:
        _walk(current, in_loop, found)


__all__ = [
    "MAPPING_METHODS",
    "Access",
    "Change",
    "Reads",
    "TemplateSyntaxProblem",
    "UnknownName",
    "accesses",
    "reads",
    "uncalled_methods",
]
