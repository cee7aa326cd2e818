"""The shortcuts that keep `agnoctl plan` about as fast as `agnoctl validate` give exactly what
the plain ways give: records equal to validated ones, sums equal to step-by-step sums."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl import estimate
from agnoctl.plan import Plan
from agnoctl.plan.build import _LongestPath
from agnoctl.plan.model import StepPlan
from agnoctl.plan.placeholders import Placeholder
from agnoctl.plan.render import _aligned
from agnoctl.plan.simple import KnownBlocks, render_simple, rendered_length
from agnoctl.plan.usage import NO_USAGE, Bill, Span, Usage, add_bills
from agnoctl.spec.templates import TemplateError

PlanOf = Callable[..., Plan]
REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "plan" / "fixtures"
WORKFLOWS = sorted(FIXTURES.glob("*.yaml")) + sorted((REPO / "examples").glob("*/workflow.yaml"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark's workflow (bench/validate_bench.py), 250 steps."""
    spec = importlib.util.spec_from_file_location(
        "validate_bench", REPO / "bench/validate_bench.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path_factory.mktemp("plan") / "generated.yaml"
    path.write_text(bench.generate(250), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_records_equal_validated_ones(plan_of: PlanOf, path: Path) -> None:
    _check_records(plan_of(path))


def test_records_of_a_generated_workflow_equal_validated_ones(
    plan_of: PlanOf, generated: Path
) -> None:
    plan = plan_of(generated, assume_items=3)
    assert len(plan.steps) == 250
    _check_records(plan)


def _check_records(plan: Plan) -> None:
    for step in plan.steps:
        validated = StepPlan.model_validate(step.model_dump())
        assert step == validated
        assert step.model_fields_set == validated.model_fields_set
        assert step.model_dump_json() == validated.model_dump_json()


_NUMBERS = st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False))
_SPANS = st.builds(Span, _NUMBERS, _NUMBERS)
_BILLS = st.dictionaries(
    st.sampled_from(["mock/a", "mock/b", "openai/c"]),
    st.builds(Usage, _SPANS, _SPANS, _SPANS),
    max_size=3,
)


@given(st.lists(_BILLS, max_size=6))
def test_add_bills_adds_as_usage_objects_do(bills: list[Bill]) -> None:
    expected: Bill = {}
    for bill in bills:
        for model, usage in bill.items():
            expected[model] = expected.get(model, NO_USAGE) + usage
    assert add_bills(bills) == expected
    assert list(add_bills(bills)) == list(expected)


_DURATIONS = st.builds(Span, st.floats(0, 100), st.floats(0, 100))


@given(st.lists(st.tuples(_DURATIONS, st.lists(st.integers(0, 30), max_size=3)), max_size=30))
def test_the_critical_path_takes_the_first_of_equal_maxima(
    steps: list[tuple[Span, list[int]]],
) -> None:
    # Steps s0, s1, ... each needing some earlier steps; every step its own level keeps the
    # order simple. Durations repeat, so ties happen.
    preds = {
        f"s{i}": sorted({f"s{n}" for n in needs if n < i}) for i, (_, needs) in enumerate(steps)
    }
    durations = {f"s{i}": duration for i, (duration, _) in enumerate(steps)}
    longest = _LongestPath()
    for path, needs in preds.items():
        longest.add(path, needs, durations[path], [f"{path}.inner"])
    span, chain = longest.end()
    expected_span, expected_chain = _critical_path_with_max(preds, durations)
    assert span == expected_span
    assert chain == [(path, [f"{path}.inner"]) for path in expected_chain]


def _critical_path_with_max(
    preds: dict[str, list[str]], durations: dict[str, Span]
) -> tuple[Span, list[str]]:
    """The critical path as first written, with max() and a generator per step."""
    finish_lo: dict[str, float] = {}
    finish_hi: dict[str, float] = {}
    previous: dict[str, str | None] = {}
    for path, needs in preds.items():
        own = durations[path]
        finish_lo[path] = own.lo + max((finish_lo[p] for p in needs), default=0.0)
        slowest = max(needs, key=finish_hi.__getitem__, default=None)
        finish_hi[path] = own.hi + (finish_hi[slowest] if slowest else 0.0)
        previous[path] = slowest
    if not finish_hi:
        return Span(0, 0), []
    end: str | None = max(finish_hi, key=finish_hi.__getitem__)
    chain: list[str] = []
    while end is not None:
        chain.append(end)
        end = previous[end]
    return Span(max(finish_lo.values()), max(finish_hi.values())), chain[::-1]


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


@given(
    st.lists(st.lists(_CELLS, min_size=3, max_size=3), max_size=5),
    st.lists(st.integers(0, 4), max_size=8),
)
def test_aligned_rows_pad_as_ljust_and_rjust_do(rows: list[list[str]], shares: list[int]) -> None:
    # Rows may share one list of the cells after the first (as the steps table's do).
    table = [(row[0], row[1:]) for row in rows]
    for i in shares:
        if i < len(rows):
            table.append((f"{rows[i][0]}x", table[i][1]))
            rows.append([f"{rows[i][0]}x", *rows[i][1:]])
    headers = ["step", "kind", "tasks"]  # `tasks` is right-aligned
    widths = [max(map(len, column)) for column in zip(headers, *rows, strict=False)]
    pads = [str.ljust, str.ljust, str.rjust]

    def line(cells: list[str]) -> str:
        return "  ".join(pad(c, w) for c, w, pad in zip(cells, widths, pads, strict=True)).rstrip()

    assert _aligned(headers, table) == [line(headers), *map(line, rows)]
