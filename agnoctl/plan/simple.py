"""Render the commonest templates, text with `{{ a.b.c }}` blocks, without compiling them.

Compiling a Jinja2 template (parse, generate Python, `compile`) costs about a millisecond;
a 10,000-step file has 10,000 different prompts, and planning it must stay about as fast as
validating it. A template made only of text and `{{ name.attr.attr }}` blocks (with optional
`-` whitespace control) renders here exactly as Jinja2 renders it: each block is the shared
sandboxed environment's `getattr` chain on the context value, converted with `str`, so the
sandbox and strict-undefined rules are the same. Anything else returns None and goes through
`agnoctl.spec.templates.render`; tests compare both on generated templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jinja2

from agnoctl.plan.placeholders import Placeholder
from agnoctl.spec.templates import (
    DICT_ATTRIBUTES,
    MAX_RENDER_CHARS,
    TemplateError,
    environment,
    is_template,
)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BLOCK = re.compile(r"\{\{(-?)\s*(" + _NAME + r"(?:\." + _NAME + r")*)\s*(-?)\}\}")
_PLACEHOLDER_METHODS = frozenset({"items", "keys", "values"})
_MISSING = object()
# Words Jinja2 reads as constants or operators, not as variable names.
_KEYWORDS = frozenset(
    {
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "not",
        "and",
        "or",
        "in",
        "is",
        "if",
        "else",
        "elif",
        "for",
        "recursive",
    }
)


def render_simple(
    source: str, context: Mapping[str, Any], known: dict[str, str] | None = None
) -> str | None:
    """The rendered text, or None when the template is not simple (render it with Jinja2).

    `known` remembers the text of each `{{ a.b.c }}` rendered with this same `context`: a
    caller that renders many templates with one context that does not change passes one
    dict for it (a plan's prompts read the same inputs and step outputs again and again).
    """
    if not is_template(source):
        return source
    # split gives text, then (strip-left, name, strip-right, text) per block.
    pieces = _BLOCK.split(source)
    # Every `{{` must open one of the blocks found (`{{{` would open one a brace early).
    if source.count("{{") != len(pieces) // 4 or "{%" in source or "{#" in source:
        return None
    if "{{{" in source:
        return None
    parts = [pieces[0]]
    for at in range(1, len(pieces), 4):
        dotted = pieces[at + 1]
        text = known.get(dotted) if known is not None else None
        if text is None:
            try:
                text = _block_text(dotted, context)
            except TemplateError as exc:
                start = list(_BLOCK.finditer(source))[at // 4].start()
                line = source.count("\n", 0, start) + 1
                raise TemplateError(exc.message, lineno=line) from None
            if text is None:
                return None
            if known is not None:
                known[dotted] = text
        if pieces[at]:  # `{{-`
            parts[-1] = parts[-1].rstrip()
        after = pieces[at + 3]
        parts += [text, after.lstrip() if pieces[at + 2] else after]
    text = "".join(parts)
    if len(text) > MAX_RENDER_CHARS:
        raise TemplateError(f"rendered text is longer than {MAX_RENDER_CHARS} characters")
    return text


def _block_text(dotted: str, context: Mapping[str, Any]) -> str | None:
    """The text of `{{ dotted }}`; None when it starts with a keyword (not a simple read)."""
    root, _, rest = dotted.partition(".")
    if root in _KEYWORDS:
        return None
    value = context.get(root, _MISSING)
    if type(value) is Placeholder and _PLACEHOLDER_METHODS.isdisjoint(rest.split(".")):
        # Each key gives Placeholder(f"{path}.{key}"), rendered `<path>`: write the text.
        path = value._path
        return f"<{path}.{rest}>" if rest else f"<{path}>"
    return _value_text(root, rest.split(".") if rest else [], context)


def _value_text(root: str, keys: list[str], context: Mapping[str, Any]) -> str:
    if root in context:
        value = context[root]
    else:
        env = environment()
        if root not in env.globals:
            raise TemplateError(f"undefined value: '{root}' is undefined")
        value = env.globals[root]
    if type(value) is Placeholder and _PLACEHOLDER_METHODS.isdisjoint(keys):
        # `steps.a.output`: each key would give Placeholder(f"{path}.{key}"), rendered as
        # `<path>`; write that text at once.
        text = str(value)
        return f"{text[:-1]}.{'.'.join(keys)}>" if keys else text
    try:
        for key in keys:
            # A placeholder's attributes are its items (bar the dict-like methods), and so are
            # a plain dict's keys that name no dict method: skip the sandbox's attribute
            # probe, which would end in the same item lookup.
            if type(value) is Placeholder and key not in _PLACEHOLDER_METHODS:
                value = value[key]
            elif type(value) is dict and key in value and key not in DICT_ATTRIBUTES:
                value = value[key]  # what the sandbox's getattr ends with for a plain key
            else:
                value = environment().getattr(value, key)
        return str(value)  # an Undefined raises here, as Jinja2's output does
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined value: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"refused by the template sandbox: {exc}") from None


__all__ = ["render_simple"]
