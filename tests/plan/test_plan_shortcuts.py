"""The shortcuts that keep `agnoctl plan` about as fast as `agnoctl validate` give exactly what
the plain ways give: records equal to validated ones, sums equal to step-by-step sums."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl.plan import Plan
from agnoctl.plan.model import StepPlan
from agnoctl.plan.usage import NO_USAGE, Bill, Span, Usage, add_bills

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
