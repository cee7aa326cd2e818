"""A limit the run's reservations cannot fit is not `ok`. A call reserves, before it is sent,
1,024 output tokens when its agent sets no max_tokens (docs/cost-control.md), where the plan
counts 512: with `max_tokens: 1000` the plan said `ok` for a one-call workflow whose run was
refused before its call (found by the docs-core pass)."""

from __future__ import annotations

from pathlib import Path

from tests.plan.conftest import PlanOf


def _plan(tmp_path: Path, plan_of: PlanOf, agent: str, limits: str) -> tuple[str, list[str]]:
    path = tmp_path / "flow.yaml"
    path.write_text(
        "version: 1\nname: flow\n"
        "providers:\n  lab: {type: openai, base_url: 'http://127.0.0.1:1/v1',"
        " pricing: {m: {input: 1000, output: 1000}}}\n"
        f"agents:\n  a: {agent}\n"
        "steps:\n  s: {agent: a, prompt: hi, retry: {max_attempts: 1}}\n"
        f"limits: {limits}\n",
        encoding="utf-8",
    )
    plan = plan_of(path)
    return plan.limits[0].status, plan.warnings


def test_a_call_that_cannot_reserve_its_output_exceeds_the_token_limit(
    tmp_path: Path, plan_of: PlanOf
) -> None:
    status, warnings = _plan(tmp_path, plan_of, "{model: lab/m}", "{max_tokens: 1000}")
    assert status == "exceeds"
    assert warnings == [
        "limits.max_tokens is 1,000 but even the cheapest run needs 1,029 (a call reserves "
        "1,024 output tokens before it is sent when its agent sets no max_tokens)"
    ]


def test_the_reservation_counts_against_the_cost_limit_too(tmp_path: Path, plan_of: PlanOf) -> None:
    # 517 tokens at $1,000 per 1M: $0.517 planned; the call reserves $1.029 before it is sent
    status, warnings = _plan(tmp_path, plan_of, "{model: lab/m}", "{max_cost_usd: 1}")
    assert status == "exceeds"
    assert len(warnings) == 1 and "needs $1.03 (a call reserves 1,024" in warnings[0]


def test_an_agent_with_max_tokens_reserves_what_the_plan_counts(
    tmp_path: Path, plan_of: PlanOf
) -> None:
    status, warnings = _plan(
        tmp_path, plan_of, "{model: lab/m, max_tokens: 100}", "{max_tokens: 110}"
    )
    assert (status, warnings) == ("ok", [])
