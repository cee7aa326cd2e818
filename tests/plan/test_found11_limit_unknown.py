"""A cost limit the plan cannot check is a warning, as docs/plan.md says of `unknown`: calls
to a model without a price count as free against `max_cost_usd`, so the limit does not hold
them (found by the docs-core pass: it was only a row of the limits table)."""

from __future__ import annotations

from pathlib import Path

from tests.plan.conftest import PlanOf


def test_an_unknown_cost_limit_is_a_warning_naming_the_unpriced_model(
    tmp_path: Path, plan_of: PlanOf
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        "version: 1\nname: flow\n"
        "providers:\n  lab: {type: openai, base_url: 'http://127.0.0.1:1/v1'}\n"
        "agents:\n  a: {model: lab/house}\n  b: {model: openai/gpt-4o-mini}\n"
        "steps:\n  s: {agent: a, prompt: x}\n  t: {agent: b, prompt: x}\n"
        "limits: {max_cost_usd: 1}\n",
        encoding="utf-8",
    )
    plan = plan_of(path)
    assert [check.status for check in plan.limits] == ["unknown"]
    assert plan.warnings == [
        "limits.max_cost_usd is $1.00 but lab/house has no price: its calls count as free "
        "against it; add `pricing` to its provider entry"
    ]
