"""The one sandboxed Jinja2 environment that validation, planning and running share.

Templates (`prompt`, `instructions`, `outputs`, command arguments) and expressions (`if`,
`for_each`, gate `expr`, loop `until`) are compiled once and cached. Undefined names are errors,
sandbox escapes (``''.__class__``) are refused, and a render is cut off past ``MAX_RENDER_CHARS``
so a hostile template cannot fill memory, and past the sandbox's ``MAX_TEMPLATE_WORK`` so its
loops cannot hold the run for hours.

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
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from agnoctl.errors import kind_of
from agnoctl.spec.template_bounds import MAX_RENDER_CHARS as MAX_RENDER_CHARS
from agnoctl.spec.template_bounds import TemplateError as TemplateError

if TYPE_CHECKING:
    import jinja2
    from jinja2 import nodes

    from agnoctl.spec.sandbox import BoundedSandbox

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


def _tojson(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def environment() -> BoundedSandbox:
    import jinja2

    from agnoctl.spec.sandbox import BoundedSandbox, bounded_filter

    env = BoundedSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["tojson"] = bounded_filter("tojson", _tojson)
    env.filters["json"] = bounded_filter("json", _tojson)
    return env


@lru_cache(maxsize=4096)
def compile_template(source: str) -> jinja2.Template:
    import jinja2

    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", lineno=exc.lineno) from None
    except RecursionError:
        raise nested_too_deeply("template") from None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Callable[..., Any]:
    import jinja2

    try:
        return environment().compile_expression(source, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"expression syntax error: {exc.message}", lineno=exc.lineno) from None
    except RecursionError:
        raise nested_too_deeply("expression") from None


def nested_too_deeply(kind: str) -> TemplateError:
    """Jinja2 parses and compiles by recursion: a few hundred nested brackets (or a chain of
    thousands of operators) exhaust Python's stack, which is a property of the text."""
    return TemplateError(
        f"{kind} syntax error: the {kind} nests too deeply to compile "
        "(hundreds of brackets, or thousands of chained operators)"
    )


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
    from agnoctl.spec.sandbox import bounded_join

    template = compile_template(source)
    # One plain dict instead of Template.generate's merge of the globals ChainMap into the
    # context: the same names at half the cost of a render (compiled templates have no
    # globals of their own, only the environment's).
    variables = {**environment().globals, **context}
    try:
        return bounded_join(template.root_render_func(template.new_context(variables, True)))
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


_ONE_EXPRESSION = re.compile(r"^\s*\{\{-?(?P<expr>.*?)-?\}\}\s*$", re.DOTALL)


def one_expression(source: str) -> str | None:
    """The expression of a template that is one ``{{ expression }}`` and nothing else, else
    None: such a template gives its expression's value (a list stays a list), where any
    other renders to text (workflow outputs, a sub-workflow's `with:`)."""
    match = _ONE_EXPRESSION.match(source)
    expression = match.group("expr") if match else None
    if expression is None or any(mark in expression for mark in ("{{", "}}", "{%", "%}")):
        return None
    try:
        compile_expression(expression)
    except TemplateError:
        return None  # e.g. `{{ a }} and {{ b }}`: the regex's braces are not one block
    return expression


def not_a_list(value: Any) -> str | None:
    """Why a for_each value gives no items (`int '42'`), or None when it does: the run takes
    any iterable but a string or a map, and validation refuses a literal the same way."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return kind_of(value)
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
    if isinstance(exc, TemplateError):  # the sandbox refused to build or change something
        return exc
    if isinstance(exc, RecursionError):
        return TemplateError("the template recursed too deeply (a macro calling itself?)")
    return sandbox_error(exc) or TemplateError(f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------- ${VAR} as data


class Interpolated(str):
    """A string the loader substituted `${VAR}` values into: the resulting text, plus its
    `parts`, the author's text (even indexes) alternating with the values (odd indexes).

    Everywhere it is the plain text; the spec's template and expression fields turn it into
    `literal_source(parts)`, so a value never becomes template code."""

    parts: tuple[str, ...]

    def __new__(cls, parts: Sequence[str]) -> Interpolated:
        self = super().__new__(cls, "".join(parts))
        self.parts = tuple(parts)
        return self

    def __getnewargs__(self) -> tuple[tuple[str, ...]]:  # type: ignore[override]
        return (self.parts,)  # copies and pickles rebuild it from its parts


def literal_source(parts: Sequence[str], *, expression: bool) -> str:
    """Template (or expression) source in which every substituted value is a literal.

    `parts` alternate the author's text (even indexes) with values substituted into it (odd:
    a `${VAR}`'s value, which may come from a pull request's title). The author's text stays
    template source; a value renders as itself wherever it stands, never as template code:

    * in text (and inside `{% raw %}`), as written when it cannot open a tag (no `{`, and no
      `%`/`#` right after an author's `{`), else as the block ``{{ '...' }}``;
    * inside `{{ }}`, `{% %}` or an expression field, as a string literal ``'...'``;
    * inside a string literal there, as that literal's escaped characters;
    * inside a comment, not at all.

    A literal holds only letters, digits, spaces and backslash escapes, so no value can end
    it, close a tag or form one, whatever the scan below thinks the context is.
    """
    scan = _Scan(expression)
    for index, part in enumerate(parts):
        if index % 2:
            scan.value(part)
        else:
            scan.text(part)
    return "".join(scan.out)


_TAG_OPEN = re.compile(r"\{[{%#]")
_RAW_BEGIN = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_LITERAL_SAFE = re.compile(r"[A-Za-z0-9 ]")
_OPENING, _CLOSING = "{([", "})]"


class _Scan:
    """Where the author's text leaves off, as Jinja2's lexer (default syntax) reads it:
    text, a comment, a raw block, or code (`{{`/`{%` up to its end at bracket depth 0) and
    the string literal open in it."""

    def __init__(self, expression: bool) -> None:
        self.out: list[str] = []
        self.state = "code" if expression else "text"
        self.end = ""  # the code's closing delimiter; none in an expression field
        self.depth = 0
        self.quote = ""

    def text(self, text: str) -> None:
        self.out.append(text)
        steps = {
            "text": self._text,
            "comment": self._comment,
            "raw": self._raw,
            "code": self._code,
            "string": self._string,
        }
        pos = 0
        while pos < len(text):
            pos = steps[self.state](text, pos)

    def _text(self, text: str, pos: int) -> int:
        found = _TAG_OPEN.search(text, pos)
        if found is None:
            return len(text)
        raw = _RAW_BEGIN.match(text, found.start())
        if raw is not None:
            self.state = "raw"
            return raw.end()
        opener = found.group()
        self.state, self.end, self.depth = (
            ("comment", "", 0) if opener == "{#" else ("code", "}}" if opener == "{{" else "%}", 0)
        )
        return found.end()

    def _comment(self, text: str, pos: int) -> int:
        end = text.find("#}", pos)
        if end < 0:
            return len(text)
        self.state = "text"
        return end + 2

    def _raw(self, text: str, pos: int) -> int:
        end = _RAW_END.search(text, pos)
        if end is None:
            return len(text)
        self.state = "text"
        return end.end()

    def _code(self, text: str, pos: int) -> int:
        char = text[pos]
        if self.depth == 0 and self.end and text.startswith(self.end, pos):
            self.state = "text"
            return pos + 2
        if char in "'\"":
            self.state, self.quote = "string", char
        elif char in _OPENING:
            self.depth += 1
        elif char in _CLOSING and self.depth:
            self.depth -= 1
        return pos + 1

    def _string(self, text: str, pos: int) -> int:
        char = text[pos]
        if char == "\\":
            return pos + 2
        if char == self.quote:
            self.state = "code"
        return pos + 1

    def value(self, value: str) -> None:
        if self.state == "code":
            self.out.append(_code_constant(value) or f"'{_escaped(value)}'")
        elif self.state == "string":
            self.out.append(_escaped(value))
        elif self.state != "comment":
            self._in_text(value)

    def _in_text(self, value: str) -> None:
        after_brace = bool(self.out) and self.out[-1].endswith("{")
        if "{" not in value and not (after_brace and value[:1] in "%#"):
            self.out.append(value)
            return
        if after_brace:  # the author's `{` would join the block's: make it part of the literal
            self.out[-1] = self.out[-1][:-1]
            value = "{" + value
        block = "{{ '" + _escaped(value) + "' }}"
        self.out.append("{% endraw %}" + block + "{% raw %}" if self.state == "raw" else block)


# In code, a value YAML reads as a number, a boolean or null stands as that constant, as an
# unquoted `${VAR}` does in any other field: `if: "${DEEP:-false}"` is false and
# `inputs.n > ${MIN}` compares numbers. These spellings cannot form code; a leading zero
# (`007`, YAML 1.1's octal) stays text.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,29})(?:\.[0-9]{1,30})?(?:[eE][-+]?[0-9]{1,3})?")
_CONSTANTS = {
    **dict.fromkeys(("true", "True", "TRUE"), "true"),
    **dict.fromkeys(("false", "False", "FALSE"), "false"),
    **dict.fromkeys(("null", "Null", "NULL", "~"), "none"),
}


def _code_constant(value: str) -> str | None:
    """The Jinja2 constant ``value`` spells, or None when it is text."""
    if _NUMBER.fullmatch(value):
        return f"({value})"  # bracketed: `x-${N}` with N=-3 must not read as `x--3`
    return _CONSTANTS.get(value)


def _escaped(value: str) -> str:
    """The body of a Jinja2 string literal that reads back as `value` (Jinja2 decodes
    literals with Python's unicode-escape codec)."""
    return "".join(char if _LITERAL_SAFE.fullmatch(char) else _escape(char) for char in value)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _expression_problem(source: str) -> TemplateError:
    """What is wrong with an expression, said of its own text: ``parse`` reads it wrapped in
    ``{{ (`` ``) }}``, and a message must not name a bracket the user never wrote."""
    import jinja2

    try:
        environment().compile_expression(source)  # Jinja2's reading of the bare expression
        message = "invalid expression"
    except jinja2.TemplateSyntaxError as exc:
        message = exc.message or "invalid expression"
    words = source.split()
    near = words[-1] if words else None
    if "end of template" in message and near is not None:
        message = message.replace("'end of template'", "end of template")
        message = message.replace("end of template", "end of expression").rstrip(".")
        message += f" after `{near}`"
        line: int | None = source.rstrip().count("\n") + 1
    else:  # `unexpected '=='`: the first such text is where to look
        message = message.replace("chunk after expression", "unexpected text after the expression")
        quoted = re.search(r"unexpected '([^']+)'", message)
        near = quoted.group(1) if quoted and quoted.group(1) in source else None
        line = source[: source.find(near)].count("\n") + 1 if near else None
    return TemplateError(f"expression syntax error: {message}", lineno=line, near=near)


def parse(source: str, *, expression: bool) -> nodes.Template:
    """Parse a template or an expression into a Jinja2 AST (for static checks)."""
    import jinja2

    env = environment()
    if expression and not source.strip():
        # Wrapped below it would read as `()`, an empty tuple; evaluated it is an error.
        raise TemplateError("expression syntax error: the expression is empty")
    text = "{{ (" + source + ") }}" if expression else source
    kind = "expression" if expression else "template"
    try:
        return env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        if expression:
            raise _expression_problem(source) from None
        raise TemplateError(f"{kind} syntax error: {exc.message}", lineno=exc.lineno) from None
    except ValueError as exc:  # the lexer's int() refuses a number of over 4,300 digits
        raise TemplateError(f"{kind} syntax error: {exc}") from None
    except RecursionError:
        raise nested_too_deeply(kind) from None


def root_names(source: str, *, expression: bool) -> set[str]:
    """Top-level names a template reads (``inputs``, ``steps``, ``item``, ...)."""
    tree = parse(source, expression=expression)
    from jinja2 import meta

    return set(meta.find_undeclared_variables(tree))
