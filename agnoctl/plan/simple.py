"""Render the commonest templates, text with `{{ a.b.c }}` blocks, without compiling them.

Compiling a Jinja2 template (parse, generate Python, `compile`) costs about a millisecond;
a 10,000-step file has 10,000 different prompts, and planning it must stay about as fast as
validating it. A template made only of text and `{{ name.attr.attr }}` blocks (with optional
`-` whitespace control) renders here exactly as Jinja2 renders it: each block is the shared
sandboxed environment's `getattr` chain on the context value, converted with `str`, so the
sandbox and strict-undefined rules are the same. Anything else returns None and goes through
`agnoctl.spec.templates.render`; tests compare both on generated templates.

Planning needs only a rendered prompt's length (its token estimate): `rendered_length` adds
up the text between the blocks and the blocks' texts, remembered across templates in
`KnownBlocks`, without building the string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from agnoctl.plan.placeholders import Placeholder
from agnoctl.spec.templates import (
    DICT_ATTRIBUTES,
    MAX_RENDER_CHARS,
    TemplateError,
    environment,
    is_template,
    sandbox_error,
)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = _NAME + r"(?:\." + _NAME + r")*"
_BLOCK = re.compile(r"\{\{(-?)\s*(" + _DOTTED + r")\s*(-?)\}\}")
_DOTTED_NAME = re.compile(_DOTTED)
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


@dataclass(slots=True)
class KnownBlocks:
    """The texts of `{{ a.b.c }}` blocks already rendered, for a caller that renders many
    templates (a plan's prompts read the same inputs and step outputs again and again).

    Only blocks whose root `a` is one of `roots` are kept: every context the caller renders
    with must hold the same values under those names (the planner's item contexts add `item`,
    `index` and `loop` to one shared context, and change none of its names).
    """

    roots: frozenset[str]
    texts: dict[str, str] = field(default_factory=dict)


def render_simple(
    source: str, context: Mapping[str, Any], known: KnownBlocks | None = None
) -> str | None:
    """The rendered text, or None when the template is not simple (render it with Jinja2)."""
    if not is_template(source):
        return source
    if "\r" in source:  # Jinja2 writes the text's line ends as `\n`
        return None
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
        text = known.texts.get(dotted) if known is not None else None
        if text is None:
            try:
                text = _block_text(dotted, context)
            except TemplateError as exc:
                start = list(_BLOCK.finditer(source))[at // 4].start()
                line = source.count("\n", 0, start) + 1
                raise TemplateError(exc.message, lineno=line) from None
            if text is None:
                return None
            if known is not None and dotted.partition(".")[0] in known.roots:
                known.texts[dotted] = text
        if pieces[at]:  # `{{-`
            parts[-1] = parts[-1].rstrip()
        after = pieces[at + 3]
        parts += [text, after.lstrip() if pieces[at + 2] else after]
    text = "".join(parts)
    if len(text) > MAX_RENDER_CHARS:
        raise TemplateError(f"rendered text is longer than {MAX_RENDER_CHARS} characters")
    return text


def rendered_length(source: str, context: Mapping[str, Any], known: KnownBlocks) -> int | None:
    """`len(render_simple(source, context, known))`, or the error it raises.

    Planning needs only a prompt's length (its token estimate): a template of text and
    `{{ a.b.c }}` blocks is its text between the blocks plus each block's text, added up
    without building the rendered string.
    """
    if "{" not in source:  # not a template
        return len(source)
    length = _plain_length(source, context, known)
    if length is None:
        text = render_simple(source, context, known)  # it raises a block's error with its line
        return None if text is None else len(text)
    if length > MAX_RENDER_CHARS:
        raise TemplateError(f"rendered text is longer than {MAX_RENDER_CHARS} characters")
    return length


def _plain_length(source: str, context: Mapping[str, Any], known: KnownBlocks) -> int | None:
    """The rendered length of text and `{{ a.b.c }}` blocks without whitespace control; None
    for any other template, or when a block fails (render_simple then says where).

    Split at `{{` and `}}`: each block is `{{`, whitespace, a dotted name, whitespace, `}}`,
    which is what `_BLOCK` finds (`str.strip` removes exactly the Unicode whitespace `\\s`
    matches).
    """
    chunks = source.split("{{")
    # Each `{{` accounts for two `{`: any other (`{{{`, `{%`, `{#`) takes the longer way, as
    # does Jinja2's rewriting of `\r`.
    if source.count("{") != 2 * len(chunks) - 2 or "\r" in source:
        return None
    texts = known.texts
    length = len(chunks[0])
    for chunk in islice(chunks, 1, None):
        inside, closed, after = chunk.partition("}}")
        name = inside.strip()
        text = texts.get(name)  # a known text's name is a dotted name
        if text is None:
            if not closed or _DOTTED_NAME.fullmatch(name) is None:
                return None  # `{{-`, a filter, an expression: Jinja2's
            text = _learn(name, context, known)
            if text is None:
                return None
        elif not closed:
            return None
        length += len(text) + len(after)
    return length


def _learn(dotted: str, context: Mapping[str, Any], known: KnownBlocks) -> str | None:
    """The text of `{{ dotted }}`, remembered when its root is one of `known.roots`; None
    when it fails or is not a simple read."""
    try:
        text = _block_text(dotted, context)
    except TemplateError:
        return None
    if text is not None and dotted.partition(".")[0] in known.roots:
        known.texts[dotted] = text
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
    except Exception as exc:  # Jinja2 is imported only by now, where it raised this
        error = sandbox_error(exc)
        if error is None:
            raise
        raise error from None


__all__ = ["KnownBlocks", "render_simple", "rendered_length"]
