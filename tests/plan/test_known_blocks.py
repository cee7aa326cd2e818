"""Planning renders simple templates without Jinja2 (compiling one costs about a millisecond,
and a big workflow has thousands): the texts, lengths and errors are Jinja2's. Token counts
and the text table's padding."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl import estimate
from agnoctl.plan.placeholders import Placeholder
from agnoctl.plan.render import _aligned
from agnoctl.plan.simple import KnownBlocks, render_simple, rendered_length
from agnoctl.spec.templates import TemplateError

_TEMPLATES = st.lists(
    st.sampled_from(
        [
            "text ",
            "\n",
            "\r\n",
            " -}} ",
            "{",
            "{{ item -}}",
            "{{ inputs.topic }}",
            "{{- inputs.topic -}}",
            "{{inputs.topic}}",
            "{{ steps.a.output }}",
            "{{ steps.b.output.items }}",
            "{{ inputs.missing }}",
            "{{ inputs.keys }}",
            "{{ true }}",
            "{{ item }}",
            "{{ item.x }}",
            "{{ index }}",
            "{{ loop.iteration }}",
            "{{ range }}",
            "{{ x }}",
            "{% if true %}x{% endif %}",
            # Shapes the length's str-method split must tell from blocks as `_BLOCK` does.
            "}}",
            "{{ inputs.topic }",
            "{{ inputs.topic",
            "{{\u2003inputs.topic\t}}",
            "\u00a0",
            "{{ inputs.topic }}}",
            "{{ inputs . topic }}",
            "{{ steps.c.output|upper }}",
        ]
    ),
    max_size=5,
).map("".join)
_CONTEXT: dict[str, Any] = {"inputs": {"topic": "AI"}, "steps": Placeholder("steps")}
# The planner's contexts: one shared context, and copies of it with names added.
_CONTEXTS: list[dict[str, Any]] = [
    _CONTEXT,
    {**_CONTEXT, "item": "eu", "index": 0},
    {**_CONTEXT, "item": {"x": "1"}, "index": 1},
    {**_CONTEXT, "loop": {"iteration": 1, "previous": Placeholder("loop.previous")}},
]


def _rendered(
    template: str, context: dict[str, Any], known: KnownBlocks | None
) -> tuple[str, str | None]:
    try:
        return "text", render_simple(template, context, known)
    except TemplateError as exc:
        return "error", f"{exc.message} (line {exc.lineno})"


def _length(template: str, context: dict[str, Any], known: KnownBlocks) -> tuple[str, Any]:
    try:
        return "text", rendered_length(template, context, known)
    except TemplateError as exc:
        return "error", f"{exc.message} (line {exc.lineno})"


@given(st.lists(st.tuples(_TEMPLATES, st.sampled_from(range(len(_CONTEXTS)))), max_size=8))
def test_rendering_with_known_blocks_gives_what_rendering_afresh_gives(
    renders: list[tuple[str, int]],
) -> None:
    """Texts and lengths remembered across templates and contexts are the texts and lengths
    of rendering each template afresh (and fail the same way)."""
    known = KnownBlocks(frozenset(_CONTEXT))
    lengths = KnownBlocks(frozenset(_CONTEXT))
    for template, which in renders:
        context = _CONTEXTS[which]
        afresh = _rendered(template, context, None)
        assert _rendered(template, context, known) == afresh
        kind, text = afresh
        assert _length(template, context, lengths) == (
            (kind, None if text is None else len(text)) if kind == "text" else afresh
        )
    for remembered in (known, lengths):
        assert all(name.partition(".")[0] in _CONTEXT for name in remembered.texts)


@pytest.mark.parametrize("name", ["keys", "items", "topic", "mro", "__class__", "fromkeys", "x"])
def test_dict_keys_named_like_dict_attributes_render_as_jinja_renders_them(name: str) -> None:
    """The shortcut reads a plain key at once unless a dict attribute has its name."""
    from agnoctl.spec.templates import _render_jinja

    context = {"inputs": {name: "value"}}
    source = f"{{{{ inputs.{name} }}}}"

    def outcome(render: Any) -> tuple[str, str | None]:
        try:
            return "text", render(source, context)
        except TemplateError:
            return "error", None

    assert outcome(render_simple) == outcome(_render_jinja)


@given(st.integers(0, 10**7))
def test_token_counts_round_up_as_math_ceil_does(count: int) -> None:
    assert estimate.chars_tokens(count) == math.ceil(count / estimate.CHARS_PER_TOKEN)
    assert estimate.text_tokens("x" * (count % 5000)) == math.ceil(
        (count % 5000) / estimate.CHARS_PER_TOKEN
    )


_CELLS = st.text(alphabet="ab -$.,0123456789", max_size=6)


@given(st.lists(st.lists(_CELLS, min_size=3, max_size=3), max_size=5))
def test_aligned_rows_pad_as_ljust_and_rjust_do(rows: list[list[str]]) -> None:
    table = [(row[0], row[1:]) for row in rows]
    headers = ["step", "kind", "tasks"]  # `tasks` is right-aligned
    widths = [max(map(len, column)) for column in zip(headers, *rows, strict=False)]
    pads = [str.ljust, str.ljust, str.rjust]

    def line(cells: list[str]) -> str:
        return "  ".join(pad(c, w) for c, w, pad in zip(cells, widths, pads, strict=True)).rstrip()

    assert _aligned(headers, table) == [line(headers), *map(line, rows)]
