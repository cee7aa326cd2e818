"""The one sandboxed Jinja2 environment that validation, planning and running share.

Templates (`prompt`, `instructions`, `outputs`, command arguments) and expressions (`if`,
`for_each`, gate `expr`, loop `until`) are compiled once and cached. Undefined names are errors,
sandbox escapes (``''.__class__``) are refused, and a render is cut off past ``MAX_RENDER_CHARS``
so a hostile template cannot fill memory.

Most prompts are text with ``{{ a.b.c }}`` blocks. ``render`` reads those itself, exactly as
Jinja2's compiled code does (each attribute through the sandbox's ``getattr``, then ``str``),
and never compiles them; anything else, and any value that is not there, goes through Jinja2,
which renders it or raises the error it always raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from agnoctl.errors import AgnoctlError

MAX_RENDER_CHARS = 2_000_000
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_BLOCK = re.compile(r"\{\{\s*(" + _NAME + r"(?:\." + _NAME + r")*)\s*\}\}")
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


class _Env(SandboxedEnvironment):
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Dunder/private names are how SSTI payloads climb to os or builtins.
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)


def _tojson(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
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
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", lineno=exc.lineno) from None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Callable[..., Any]:
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
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined value: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"refused by the template sandbox: {exc}") from None
    except TemplateError:
        raise
    except Exception as exc:  # a filter or operator failed on the given values
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


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
                if isinstance(value, jinja2.Undefined):
                    return None
                value = str(value)
        except Exception:  # Jinja2 reports it, wrapped as it always is
            return None
        values.append(value)
    text = layout.format(*values)  # every value is a str: format adds nothing but the text
    return text if len(text) <= MAX_RENDER_CHARS else None


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression (no braces) to a Python value."""
    expression = compile_expression(source)
    try:
        value = expression(**context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined value: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"refused by the template sandbox: {exc}") from None
    except Exception as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None
    if isinstance(value, jinja2.Undefined):
        # StrictUndefined raises on use, not on return: force the error here.
        try:
            str(value)
        except jinja2.exceptions.SecurityError as exc:  # the sandbox's unsafe-attribute marker
            raise TemplateError(f"refused by the template sandbox: {exc}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"undefined value: {exc.message}") from None
    return value


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
    env = environment()
    text = "{{ (" + source + ") }}" if expression else source
    try:
        return env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        kind = "expression" if expression else "template"
        raise TemplateError(f"{kind} syntax error: {exc.message}", lineno=exc.lineno) from None


def root_names(source: str, *, expression: bool) -> set[str]:
    """Top-level names a template reads (``inputs``, ``steps``, ``item``, ...)."""
    tree = parse(source, expression=expression)
    from jinja2 import meta

    return set(meta.find_undeclared_variables(tree))
