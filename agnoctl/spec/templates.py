"""The one sandboxed Jinja2 environment that validation, planning and running share.

Templates (`prompt`, `instructions`, `outputs`, command arguments) and expressions (`if`,
`for_each`, gate `expr`, loop `until`) are compiled once and cached. Undefined names are errors,
sandbox escapes (``''.__class__``) are refused, and a render is cut off past ``MAX_RENDER_CHARS``
so a hostile template cannot fill memory.

Most prompts are text with ``{{ a.b.c }}`` blocks. ``render`` reads those itself, exactly as
Jinja2's compiled code does (each attribute through the sandbox's ``getattr``, then ``str``),
and never compiles them; anything else, and any value that is not there, goes through Jinja2,
which renders it or raises the error it always raised. ``evaluate`` does the same for an
expression that is only a dotted name (``inputs.regions``).

Jinja2 itself is imported on first use, not with this module: a plan whose templates are all
simple never needs it, and importing it costs more than such a plan's rendering.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from agnoctl.errors import AgnoctlError

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

MAX_RENDER_CHARS = 2_000_000
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_BLOCK = re.compile(r"\{\{\s*(" + _NAME + r"(?:\." + _NAME + r")*)\s*\}\}")
_DOTTED_EXPRESSION = re.compile(r"\s*(" + _NAME + r"(?:\." + _NAME + r")*)\s*")
# Words Jinja2 reads as constants or operators, not as a variable, at the start of a block.
_KEYWORDS = frozenset(
    {"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if"}
)
_MISSING = object()
# `{{ d.items }}` reads the method, not the key: Jinja2 tries the attribute first.
DICT_ATTRIBUTES = frozenset(dir(dict))


class TemplateError(AgnoctlError):
    """A template or expression failed to compile or render."""

    def __init__(self, message: str, *, lineno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno  # 1-based line inside the template, when known


def _tojson(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    class _Env(SandboxedEnvironment):
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            # Dunder/private names are how SSTI payloads climb to os or builtins.
            return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)

    env = _Env(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["tojson"] = _tojson
    env.filters["json"] = _tojson
    return env


@lru_cache(maxsize=4096)
def compile_template(source: str) -> jinja2.Template:
    import jinja2

    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", lineno=exc.lineno) from None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Callable[..., Any]:
    import jinja2

    try:
        return environment().compile_expression(source, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"expression syntax error: {exc.message}", lineno=exc.lineno) from None


def is_template(source: str) -> bool:
    """Whether rendering could change the text (fast path: plain strings render as-is)."""
    return "{{" in source or "{%" in source or "{#" in source


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a template; raises TemplateError naming what went wrong."""
    if "{{" not in source and "{%" not in source and "{#" not in source:  # is_template, inlined
        return source
    form = _simple_parts(source)
    if form is not None:
        text = _render_simple(form, context)
        if text is not None:
            return text
    return _render_jinja(source, context)


def _render_jinja(source: str, context: Mapping[str, Any]) -> str:

    template = compile_template(source)
    # One plain dict instead of Template.generate's merge of the globals ChainMap into the
    # context: the same names at half the cost of a render (compiled templates have no
    # globals of their own, only the environment's).
    variables = {**environment().globals, **context}
    try:
        return _bounded_join(template.root_render_func(template.new_context(variables, True)))
    except TemplateError:
        raise
    except Exception as exc:  # an undefined name, the sandbox, or a filter or operator failed
        raise _template_error(exc) from None


_Block = tuple[str, tuple[str, ...]]  # `{{ a.b.c }}` as ("a", ("b", "c"))


@lru_cache(maxsize=4096)
def _simple_parts(source: str) -> tuple[str, tuple[_Block, ...]] | None:
    """The text with ``{}`` where each ``{{ a.b.c }}`` block was (for ``str.format``), and
    the blocks; or None for any other template: tags, comments, filters, whitespace control,
    a ``{{`` that opens anything else, and ``\\r`` (Jinja2 rewrites line ends in the text)."""
    if "{%" in source or "{#" in source or "{{{" in source or "\r" in source:
        return None
    layout: list[str] = []
    blocks: list[_Block] = []
    end = 0
    for match in _SIMPLE_BLOCK.finditer(source):
        root, *names = match.group(1).split(".")
        if root in _KEYWORDS:
            return None
        layout.append(source[end : match.start()].replace("{", "{{").replace("}", "}}"))
        layout.append("{}")
        blocks.append((root, tuple(names)))
        end = match.end()
    if source.count("{{") != len(blocks):
        return None  # a `{{` that does not open a simple block
    layout.append(source[end:].replace("{", "{{").replace("}", "}}"))
    return "".join(layout), tuple(blocks)


def _render_simple(form: tuple[str, tuple[_Block, ...]], context: Mapping[str, Any]) -> str | None:
    """The text Jinja2 would render, or None where Jinja2 must say what is wrong."""
    layout, blocks = form
    values: list[str] = []
    for root, names in blocks:
        value = context.get(root, _MISSING)
        if value is _MISSING:
            value = environment().globals.get(root, _MISSING)
            if value is _MISSING:
                return None
        try:
            for name in names:
                if type(value) is dict and name not in DICT_ATTRIBUTES and name in value:
                    # What env.getattr finds too, without the AttributeError it raises first.
                    value = value[name]
                else:
                    value = environment().getattr(value, name)
            if type(value) is not str:  # a str is its own text: no call to make
                if _is_undefined(value):
                    return None
                value = str(value)
        except Exception:  # Jinja2 reports it, wrapped as it always is
            return None
        values.append(value)
    text = layout.format(*values)  # every value is a str: format adds nothing but the text
    return text if len(text) <= MAX_RENDER_CHARS else None


def _is_undefined(value: Any) -> bool:
    # An Undefined exists only once Jinja2 is imported: do not import it to ask.
    jinja2 = sys.modules.get("jinja2")
    return jinja2 is not None and isinstance(value, jinja2.Undefined)


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression (no braces) to a Python value."""
    path = _dotted_path(source)
    if path is not None:
        value = _lookup(path, context)
        if value is not _MISSING and not _is_undefined(value):
            return value
    return _evaluate_jinja(source, context)


def not_a_list(value: Any) -> str | None:
    """Why a for_each value gives no items (`int '42'`), or None when it does: the run takes
    any iterable but a string or a map, and validation refuses a literal the same way."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return f"{type(value).__name__} {str(value)[:80]!r}"
    if isinstance(value, Mapping):
        return "a map (use `.items()` or `.values()`)"
    return None


@lru_cache(maxsize=4096)
def _dotted_path(source: str) -> tuple[str, ...] | None:
    """``("inputs", "regions")`` for ``inputs.regions``; None for any other expression."""
    match = _DOTTED_EXPRESSION.fullmatch(source)
    if match is None:
        return None
    path = tuple(match.group(1).split("."))
    return None if path[0] in _KEYWORDS else path


def _lookup(path: tuple[str, ...], context: Mapping[str, Any]) -> Any:
    """The value Jinja2's compiled ``a.b.c`` gives, where plain dict keys lead to it; else
    ``_MISSING``, and Jinja2 finds it (attributes, lists, globals) or says what is wrong."""
    value = context.get(path[0], _MISSING)
    for name in path[1:]:
        if type(value) is not dict or name in DICT_ATTRIBUTES or name not in value:
            return _MISSING
        # The sandbox's getattr tries the attribute first; a dict has none by this name.
        value = value[name]
    return value


def _evaluate_jinja(source: str, context: Mapping[str, Any]) -> Any:
    import jinja2

    expression = compile_expression(source)
    try:
        value = expression(**context)
    except Exception as exc:
        raise _template_error(exc) from None
    if isinstance(value, jinja2.Undefined):
        # StrictUndefined raises on use, not on return: force the error here (an unsafe
        # attribute's marker raises the sandbox's SecurityError).
        try:
            str(value)
        except Exception as exc:
            error = sandbox_error(exc)
            if error is None:
                raise
            raise error from None
    return value


def sandbox_error(exc: Exception) -> TemplateError | None:
    """The TemplateError for an undefined value or a sandbox refusal Jinja2 raised; None for
    any other exception (for callers that read values without importing Jinja2 themselves)."""
    import jinja2

    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"undefined value: {exc.message}")
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return TemplateError(f"refused by the template sandbox: {exc}")
    return None


def _template_error(exc: Exception) -> TemplateError:
    """What a render or an evaluation that raised `exc` reports."""
    return sandbox_error(exc) or TemplateError(f"{type(exc).__name__}: {exc}")


def _bounded_join(chunks: Iterator[str]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDER_CHARS:
            raise TemplateError(f"rendered text is longer than {MAX_RENDER_CHARS} characters")
        parts.append(chunk)
    return "".join(parts)


def parse(source: str, *, expression: bool) -> nodes.Template:
    """Parse a template or an expression into a Jinja2 AST (for static checks)."""
    import jinja2

    env = environment()
    text = "{{ (" + source + ") }}" if expression else source
    kind = "expression" if expression else "template"
    try:
        return env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{kind} syntax error: {exc.message}", lineno=exc.lineno) from None
    except ValueError as exc:  # the lexer's int() refuses a number of over 4,300 digits
        raise TemplateError(f"{kind} syntax error: {exc}") from None


def root_names(source: str, *, expression: bool) -> set[str]:
    """Top-level names a template reads (``inputs``, ``steps``, ``item``, ...)."""
    tree = parse(source, expression=expression)
    from jinja2 import meta

    return set(meta.find_undeclared_variables(tree))
