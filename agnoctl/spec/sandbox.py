"""The template sandbox: what a template may read, call and build.

Templates are written by the workflow's author but read values from inputs and models, and
whatever they do runs inside agnoctl. On top of Jinja2's ImmutableSandboxedEnvironment (no
private attributes, no methods that change a list, dict or set: `inputs.update(...)` would
change what later steps read while the report shows the original input):

* the engine's own objects (`steps`, its entries) are data to templates: their methods are
  the engine's, and `steps.set(...)` would change what later steps read;
* nothing a template builds may be longer than `MAX_RENDER_CHARS`, the cap of a rendered
  text: the operators `*`, `+`, `**`, `%` and `~`, the filters and str methods that take a
  width, a count or a fill, `lipsum`, and every `{{ }}` value are measured on their operands
  and refused *before* the result is built (`{{ 'x' * 10000000000 }}` fails at once instead
  of filling memory). `range()` gives at most `MAX_RANGE_ITEMS` numbers: a range is lazy
  (it costs no memory until something is built from it, and that is measured as above), and
  `for_each: "range(1000000)"` is how a million-item fan-out is written;
* a render does at most `MAX_TEMPLATE_WORK` work. Code that runs again spends the work of
  its expressions each time it starts (weighed when the template is compiled; a call, an
  attribute or item read and a filter weigh `CHECKED_WORK`): a `{% for %}` loop's body at
  every turn (a recursive `loop(...)`'s too) and its `if` at every item, a macro's, a
  `{% call %}` block's or a `{% block %}`'s body at every call, and a filter that goes
  through its value item by item (`max`, `map`, `sort`...) spends one for each item. What
  goes through a text or a list in one operation (`x in xs`, `is in`, a method of a text or a
  list, a filter such as `replace`) spends one for every `SCANNED_ITEMS` of its items or
  characters. Other code that runs once is bounded by the template's own length. Loops
  nested over large ranges or lists build nothing the size checks see, yet would run for
  hours on the run's event loop, where no timeout or Ctrl-C reaches them. Each render has a
  `RenderBudget` of its own.

Jinja2 is imported with this module: `agnoctl.spec.templates` imports it on first use.
"""

from __future__ import annotations

import functools
import itertools
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence, Sized
from contextvars import ContextVar
from itertools import chain
from typing import Any, NamedTuple

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, modifies_known_mutable
from jinja2.utils import generate_lorem_ipsum

from agnoctl.spec.template_bounds import MAX_RENDER_CHARS, TemplateError

MAX_INTEGER_BITS = 100_000
"""Largest integer `**` may build (30,000 digits; Python prints no more than 4,300)."""
MAX_RANGE_ITEMS = 10_000_000
"""Most numbers `range()` may give (Jinja2's own sandbox stops at 100,000): a loop over them
all takes seconds, not hours, and a for_each may fan out over a million items."""
MAX_TEMPLATE_WORK = 10_000_000
"""Most work one render may do: the expressions its loops and macros run again (see the
module's docstring). As many as `range()` gives numbers (`MAX_RANGE_ITEMS`): an empty loop
over all of them, and seconds of running. A template that needs more is doing a program's
work: fan out with for_each, or compute in a command step."""
CHECKED_WORK = 10
"""The work of a call, an attribute or item read or a filter, where a simple expression is
one: each goes through the sandbox's checks (or a filter's), about ten times as long."""
SCANNED_ITEMS = 16
"""Items (or characters) an operation written in C, such as `x in xs`, goes through in about
the time of one step of work: a loop that runs one over a large list on each turn is as slow
as nested loops, and spends as much."""
_MOST_ITEMS = MAX_RENDER_CHARS // 2
"""Most items a listed iteration may hold: each measures at least 2 (itself and a separator)."""
_END = object()
_FORMAT_NUMBER = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def measure(value: Any) -> int:
    """About how many characters `value` renders as: a string's length, a container's items
    and separators; anything else counts 8. Counting stops just past the cap, so measuring a
    huge value costs no more than a small one."""
    total = 0
    pending: list[Iterator[Any]] = [iter((value,))]
    while pending and total <= MAX_RENDER_CHARS:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
        elif isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            pending.append(chain.from_iterable(item.items()))
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            pending.append(iter(item))
        elif isinstance(item, range):  # lazy, but a list of its numbers once built
            total += 2 + 10 * len(item)
        else:
            total += 8
    return total


def check_size(size: int, what: str) -> None:
    """Refuse to build `what` when it would be longer than the cap."""
    if size > MAX_RENDER_CHARS:
        raise TemplateError(
            f"{what} would build about {size:,} characters, more than the "
            f"{MAX_RENDER_CHARS:,} a template may build"
        )


def _listed(value: Any) -> Any:
    """An iterator as a list (to measure it, then use it); anything else as it is. Listing
    stops past the items that measure within the cap (each counts at least its separator):
    `range(10000000) | map('string') | list` is refused before ten million strings exist."""
    if isinstance(value, Sized):
        return value
    items = list(itertools.islice(value, _MOST_ITEMS + 1))
    if len(items) > _MOST_ITEMS:
        raise TemplateError(
            f"an iteration would list more than {_MOST_ITEMS:,} items, more than the "
            f"{MAX_RENDER_CHARS:,} characters a template may build"
        )
    return items


def _width(value: Any) -> int:
    return value if isinstance(value, int) else len(str(value))


# ------------------------------------------------------------------------- sizes of results


def _product_size(left: Any, right: Any) -> int:
    sequence, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(count, bool) or not isinstance(count, int):
        return 0
    if not isinstance(sequence, str | list | tuple):
        return 0
    return measure(sequence) * max(count, 0)


def _sum_size(left: Any, right: Any) -> int:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        return measure(left) + measure(right)
    return 0


def _power_bits(left: Any, right: Any) -> int:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        return right * abs(left).bit_length()
    return 0


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left <operator> right` (`*`, `+`, `**` or `%`) when its result would pass
    the cap."""
    if operator == "*":
        check_size(_product_size(left, right), "`*`")
    elif operator == "+":
        check_size(_sum_size(left, right), "`+`")
    elif operator == "%":
        check_size(percent_size(left, right), "`%` formatting")
    elif operator == "**" and _power_bits(left, right) > MAX_INTEGER_BITS:
        raise TemplateError(f"`**` would build an integer of more than {MAX_INTEGER_BITS:,} bits")


def percent_size(template: Any, values: Any) -> int:
    """`template % values`: its text, the values, and every width and precision it asks."""
    if not isinstance(template, str):
        return 0
    size = len(template) + measure(values)
    asked = values if isinstance(values, tuple) else (values,)
    for spec in _PERCENT_SPEC.finditer(template):
        for number in spec.groups():
            if number == "*":
                size += sum(v for v in asked if isinstance(v, int) and not isinstance(v, bool))
            elif number:
                size += int(number)
    return size


def format_size(template: str, args: Any, kwargs: Any) -> int:
    """`template.format(*args, **kwargs)`: its text, the values, and every number in a
    field's format spec (a nested `{}` width counts every integer given)."""
    size = len(template) + measure(args) + measure(kwargs)
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return size  # str.format says what is wrong with it
    given = [*args, *kwargs.values()]
    for _, _, spec, _ in fields:
        size += sum(int(number) for number in _FORMAT_NUMBER.findall(spec or ""))
        if spec and "{" in spec:
            size += sum(v for v in given if isinstance(v, int) and not isinstance(v, bool))
    return size


def _replaced_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    old, new = str(old), str(new)
    times = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(len(new) - len(old), 0)


def _joined_size(separator: str, items: Any) -> int:
    return measure(items) + len(separator) * max(len(items) - 1, 0)


def _wrapped_size(text: str, width: Any = 79, *_: Any, wrapstring: Any = None) -> int:
    lines = len(text.split()) + len(text) // max(_width(width), 1) + 1
    return len(text) + lines * len(str(wrapstring or "\n"))


def _indented_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = str(value)
    return len(text) + (text.count("\n") + 1) * _width(width)


# A str method's result size from the string and the call's arguments.
_STR_METHODS: dict[str, Callable[..., int]] = {
    "center": lambda text, width, *_: max(len(text), _width(width)),
    "ljust": lambda text, width, *_: max(len(text), _width(width)),
    "rjust": lambda text, width, *_: max(len(text), _width(width)),
    "zfill": lambda text, width: max(len(text), _width(width)),
    "expandtabs": lambda text, tabsize=8: len(text) + text.count("\t") * _width(tabsize),
    "replace": _replaced_size,
    "translate": lambda text, table: (
        len(text) * max(map(measure, table.values()), default=1)
        if isinstance(table, Mapping)
        else len(text)
    ),
}
_MEASURED_STR_METHODS = frozenset({"join", *_STR_METHODS})

# A filter's result size from its value and arguments (the value already listed when the
# filter iterates it).
_FILTERS: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80: max(len(str(value)), _width(width)),
    "indent": _indented_size,
    "wordwrap": lambda value, width=79, long=True, wrapstring=None, *_: _wrapped_size(
        str(value), width, wrapstring=wrapstring
    ),
    "format": lambda value, *args, **kwargs: percent_size(str(value), kwargs or args),
    "replace": lambda value, old, new, count=None: _replaced_size(str(value), old, new, count),
    "join": lambda value, d="", attribute=None: _joined_size(str(d), value),
    "batch": lambda value, linecount, fill_with=None: measure(value) + _width(linecount),
    "slice": lambda value, slices, fill_with=None: measure(value) + _width(slices),
    "sum": lambda value, attribute=None, start=0: measure(value) + measure(start),
    "list": lambda value: measure(value),
    "string": lambda value: measure(value),
    "pprint": lambda value: measure(value),
    "tojson": lambda value, *_: measure(value),
    "json": lambda value, *_: measure(value),
}
_LISTING_FILTERS = frozenset({"join", "batch", "slice", "sum", "list"})
_ITERATING_FILTERS = frozenset(
    {
        *_LISTING_FILTERS,
        *("map", "select", "reject", "selectattr", "rejectattr", "unique", "sort", "dictsort"),
        *("min", "max", "groupby", "items"),
    }
)
"""Filters that go through their value item by item, in Python: each spends an item's work
for each item (`xs | max` in a loop over xs is as much work as two nested loops)."""
_CONSTANT_FILTERS = frozenset(
    {"length", "count", "first", "last", "default", "d", "attr", "random", "safe"}
)
"""Filters whose work does not grow with their value."""
_CONSTANT_METHODS = frozenset({"startswith", "endswith", "get", "keys", "values", "items"})
"""Methods whose work does not grow with the text or container they are called on."""


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (the filter `name`), refusing a result past the cap before building it and
    spending the items it goes through from the render's work budget."""
    size = _FILTERS.get(name)
    iterates = name in _ITERATING_FILTERS
    if size is None and not iterates:
        return function
    passes_first = hasattr(function, "jinja_pass_arg")  # the context or environment comes first

    @functools.wraps(function)  # keeps jinja_pass_arg: Jinja2 still passes what it asks for
    def bounded(*args: Any, **kwargs: Any) -> Any:
        head, (value, *rest) = (args[:1], args[1:]) if passes_first else ((), args)
        if iterates and isinstance(value, Sized):  # a lazy value's items were spent upstream
            BoundedSandbox.spend(len(value))
        if name in _LISTING_FILTERS:
            value = _listed(value)
        if size is not None:
            check_size(size(value, *rest, **kwargs), f"the {name} filter")
        return function(*head, value, *rest, **kwargs)

    return bounded


def _range(*args: int) -> range:
    numbers = range(*args)
    if numbers[MAX_RANGE_ITEMS:]:  # len() of range(10**30) is an OverflowError
        count = -((numbers.start - numbers.stop) // numbers.step)  # len(), in Python ints
        raise TemplateError(
            f"range() would give {count:,} numbers, more than the "
            f"{MAX_RANGE_ITEMS:,} a template may ask for"
        )
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    check_size(_width(n) * _width(max) * 12, "lipsum()")
    return generate_lorem_ipsum(n, html, min, max)


# ------------------------------------------------------------------------- code that runs again


class RenderBudget:
    """What is left of one render's work. A template that runs code again starts by giving
    its render a fresh one, and that code spends from it."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_TEMPLATE_WORK


_BUDGET: ContextVar[RenderBudget] = ContextVar("agnoctl_template_work")


_REPEATED = (nodes.For, nodes.Macro, nodes.CallBlock, nodes.Block)
_CHECKED = (nodes.Call, nodes.Getattr, nodes.Getitem, nodes.Filter)


def _counted(tree: nodes.Template) -> nodes.Template:
    """`tree` spending, where its code runs again, the work of that code (see the module's
    docstring): such a body starts by spending its work, a loop's test by spending its own
    before each item is tested, and the template starts with a fresh budget. A template
    that runs nothing again and has no filter that goes through its value (those spend its
    items) needs none: its work is bounded by its length."""
    repeated: list[nodes.For | nodes.Macro | nodes.CallBlock | nodes.Block] = list(
        tree.find_all(_REPEATED)
    )
    for node in repeated:
        code = node.body if isinstance(node, nodes.For | nodes.Block) else node.defaults + node.body
        node.body.insert(0, nodes.ExprStmt(_spending(code, node.lineno), lineno=node.lineno))
        if isinstance(node, nodes.For) and node.test is not None:
            spend = _spending([node.test], node.test.lineno)
            node.test = nodes.Or(spend, node.test, lineno=node.test.lineno)
    iterating = any(node.name in _ITERATING_FILTERS for node in tree.find_all(nodes.Filter))
    if repeated or iterating:  # such filters spend too (bounded_filter)
        _charge_scans(tree)
        tree.body.insert(0, nodes.ExprStmt(_environment_call("begin", [], 1), lineno=1))
    return tree


def _scans(name: str) -> bool:
    """Whether the filter `name` goes through its whole value in one step."""
    return name not in _ITERATING_FILTERS and name not in _CONSTANT_FILTERS


def _charge_scans(tree: nodes.Template) -> None:
    """Make each operation that goes through a whole value in one step (`x in xs`, `x is
    in(xs)`, a method of a text or list, a filter that does not iterate in Python) spend
    that value's size first (`BoundedSandbox.scanned`). It is one expression where it runs,
    yet as slow as a loop over the value. Only a template that runs code again needs this:
    elsewhere each runs once."""
    for node in list(tree.find_all((nodes.Compare, nodes.Test, nodes.Call, nodes.Filter))):
        if isinstance(node, nodes.Compare):
            for operand in node.ops:
                if operand.op in ("in", "notin"):
                    operand.expr = _scanned(operand.expr)
        elif isinstance(node, nodes.Test):
            if node.name == "in" and node.args:
                node.args[0] = _scanned(node.args[0])
        elif isinstance(node, nodes.Call):
            called = node.node
            if isinstance(called, nodes.Getattr) and called.attr not in _CONSTANT_METHODS:
                called.node = _scanned(called.node)
        elif isinstance(node, nodes.Filter) and node.node is not None and _scans(node.name):
            node.node = _scanned(node.node)  # (no node: a `{% filter %}` block's text, measured)


def _scanned(value: nodes.Expr) -> nodes.Call:
    return _environment_call("scanned", [value], value.lineno)


def _spending(code: Sequence[nodes.Node], lineno: int) -> nodes.Call:
    """A call spending the work of running `code` once: one, and each of its expressions."""
    work = 1 + sum(_work(node) for part in code for node in (part, *part.find_all(nodes.Expr)))
    return _environment_call("spend", [nodes.Const(work, lineno=lineno)], lineno)


def _environment_call(method: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    """A call of the sandbox's own `method` (the code generator calls it directly)."""
    called = nodes.EnvironmentAttribute(method, lineno=lineno)
    return nodes.Call(called, args, [], None, None, lineno=lineno)


def _work(node: nodes.Node) -> int:
    if isinstance(node, _CHECKED):
        return CHECKED_WORK
    return 1 if isinstance(node, nodes.Expr) else 0


# ------------------------------------------------------------------------- the environment


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja2's code generator, with `a ~ b` joined through the environment (so it is
    measured first) instead of a plain join, and the environment's own methods called
    directly."""

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if not isinstance(node.node, nodes.EnvironmentAttribute):
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        # Only `_counted` writes such calls (templates cannot name the environment): they
        # are the counting of work, not calls the template makes, so not the sandbox's.
        self.write(f"environment.{node.node.name}(")
        for index, arg in enumerate(node.args):
            self.write(", " if index else "")
            self.visit(arg, frame)
        self.write(")")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox every template renders in (see the module's docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalized, **options)
        self.filters = {name: bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = _lipsum
        self.globals["range"] = _range

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Dunder/private names are how SSTI payloads climb to os or builtins.
        if attr.startswith("_") or _engine_method(obj, value):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        method = f"{type(obj).__name__}.{attribute}()"
        if modifies_known_mutable(obj, attribute):
            why = f"templates may not modify values: {method} would change what later steps see"
        elif _engine_method(obj, getattr(obj, attribute, None)):
            why = f"templates may not call {method}: the run's own objects are data to templates"
        else:
            return super().unsafe_undefined(obj, attribute)
        return self.undefined(why, name=attribute, obj=obj, exc=SecurityError)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def from_string(
        self,
        source: str | nodes.Template,
        globals: MutableMapping[str, Any] | None = None,
        template_class: type[Template] | None = None,
    ) -> Template:
        """Every template and expression compiles here, its repeated code counted (see the
        module's docstring)."""
        tree = _counted(self.parse(source) if isinstance(source, str) else source)
        tree.set_environment(self)  # the nodes it added, as the parser does for its own
        return super().from_string(tree, globals, template_class)

    @staticmethod
    def begin() -> None:
        """Give the render that starts a fresh budget (compiled templates that run code
        again start with it)."""
        _BUDGET.set(RenderBudget())

    @staticmethod
    def spend(work: int) -> None:
        """Spend `work` of the render's budget (compiled templates call it where code runs
        again)."""
        budget = _BUDGET.get()
        budget.left -= work
        if budget.left < 0:
            raise TemplateError(
                f"the template ran past {MAX_TEMPLATE_WORK:,} steps of work in one render "
                "(every loop turn and macro call counts the expressions it runs): templates "
                "should not loop that much (fan out with for_each, or compute in a command step)"
            )

    @staticmethod
    def scanned(value: Any) -> Any:
        """`value`, once the render spent what going through it costs: one for every
        `SCANNED_ITEMS` of a text's characters or a list's items (a mapping or set is looked
        up, not gone through)."""
        if isinstance(value, str | list | tuple):
            BoundedSandbox.spend(1 + len(value) // SCANNED_ITEMS)
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(__obj, "__name__", "")
        text = getattr(__obj, "__self__", None)
        if isinstance(text, str) and method in _MEASURED_STR_METHODS:
            if method == "join":
                args = (_listed(args[0]), *args[1:]) if args else args
                check_size(_joined_size(text, *args), "str.join()")
            else:
                check_size(_STR_METHODS[method](text, *args, **kwargs), f"str.{method}()")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template: str = value.__self__
        sandboxed = formatter

        def bounded(*args: Any, **kwargs: Any) -> str:
            given = (args[0] if args else {}) if value.__name__ == "format_map" else kwargs
            check_size(format_size(template, args, given), f"str.{value.__name__}()")
            return sandboxed(*args, **kwargs)

        return bounded

    @staticmethod
    def joined(parts: Iterable[Any]) -> str:
        """`a ~ b ~ ...`, measured before it is joined."""
        parts = tuple(parts)
        check_size(sum(map(measure, parts)), "`~`")
        return "".join(map(str, parts))

    @staticmethod
    def concat(parts: Iterable[str]) -> str:
        """A block's output (`{% set %}` blocks, macros, calls), joined while it is in bounds."""
        return bounded_join(parts)

    @staticmethod
    def _finalized(value: Any) -> Any:
        """Every `{{ }}` value: measured before Jinja2 turns it into text."""
        if not isinstance(value, str):
            check_size(measure(value), "a `{{ }}` value")
        return value


def _engine_method(obj: Any, value: Any) -> bool:
    """A method of the engine's own objects (`steps.set`): they are the engine's, not data."""
    return callable(value) and type(obj).__module__.startswith("agnoctl.engine.")


def bounded_join(chunks: Iterable[str]) -> str:
    """Rendered chunks joined, refused as soon as they pass the cap."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDER_CHARS:
            raise TemplateError(f"rendered text is longer than {MAX_RENDER_CHARS} characters")
        parts.append(chunk)
    return "".join(parts)


# ------------------------------------------------------------------------- constants, unbuilt


class Oversized(NamedTuple):
    """A constant sub-expression the sandbox is sure to refuse (`'x' * 10**10`), found by
    measuring it as the run does, without building it."""

    message: str
    operator: str
    """The operator that would build it (`*`, `**`, `+`, `%`, `~`): where to point."""
    line: int
    """Line inside the template (1-based)."""


_NOT_CONSTANT = object()


def oversized_constants(tree: nodes.Node) -> tuple[Oversized, ...]:
    """Every constant sub-expression of a parsed template that the run is sure to refuse.

    The tree is folded bottom-up with a stack of its own, not by recursion: Jinja2 parses a
    chain of hundreds of operators into a tree as deep, which validation must still read."""
    found: list[Oversized] = []
    values: list[Any] = []  # the values of the finished children of the pending nodes
    pending: list[tuple[nodes.Node, int | None]] = [(tree, None)]  # a node, its child count
    while pending:
        node, arity = pending.pop()
        if arity is None:  # first visit: its children come first
            children = list(node.iter_child_nodes())
            pending.append((node, len(children)))
            pending.extend((child, None) for child in reversed(children))
        else:
            operands = values[len(values) - arity :]
            del values[len(values) - arity :]
            values.append(_value(node, operands, found))
    return tuple(found)


def _value(node: nodes.Node, operands: list[Any], found: list[Oversized]) -> Any:
    """The value of `node` when it is a constant that the sandbox lets a template build
    (else `_NOT_CONSTANT`), from its children's values; a refusal goes to `found`. Values
    are built only after the sandbox's own checks passed, so none is longer than the cap."""
    if isinstance(node, nodes.Const):
        return node.value
    if not _foldable(node) or any(operand is _NOT_CONSTANT for operand in operands):
        return _NOT_CONSTANT
    try:
        value = _built(node, operands)
    except TemplateError as refused:
        found.append(Oversized(refused.message, _operator(node), node.lineno))
        return _NOT_CONSTANT
    except (ArithmeticError, TypeError, ValueError):  # the run says what is wrong with it
        return _NOT_CONSTANT
    # A huge integer stays the run's to refuse: folding a chain of them would be slow.
    too_big = isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS
    return _NOT_CONSTANT if too_big else value


def _foldable(node: nodes.Node) -> bool:
    """Arithmetic, `~`, and lists and tuples written out; not `and`/`or` (which Jinja2
    writes as binary operators too), names, calls or filters."""
    if isinstance(node, nodes.BinExpr):
        return node.operator in BoundedSandbox.default_binop_table
    return isinstance(node, nodes.Concat | nodes.List | nodes.Tuple | nodes.Neg | nodes.Pos)


def _built(node: nodes.Node, operands: list[Any]) -> Any:
    """What `node` builds from its constant operands, checked as the sandbox checks it."""
    if isinstance(node, nodes.BinExpr):
        check_binop(node.operator, *operands)
        return BoundedSandbox.default_binop_table[node.operator](*operands)
    if isinstance(node, nodes.Concat):
        return BoundedSandbox.joined(operands)
    if isinstance(node, nodes.UnaryExpr):
        return BoundedSandbox.default_unop_table[node.operator](*operands)
    return tuple(operands) if isinstance(node, nodes.Tuple) else operands


def _operator(node: nodes.Node) -> str:
    return node.operator if isinstance(node, nodes.BinExpr) else "~"


__all__ = [
    "MAX_INTEGER_BITS",
    "MAX_TEMPLATE_WORK",
    "SCANNED_ITEMS",
    "BoundedSandbox",
    "Oversized",
    "bounded_join",
    "check_binop",
    "check_size",
    "measure",
    "oversized_constants",
]
