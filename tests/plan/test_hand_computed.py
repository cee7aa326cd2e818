"""Call, token, cost and time ranges of two small workflows, worked out by hand.

Token rule (agnoctl.estimate): ceil(characters / 4), plus 4 per chat message; a call's output
counts at max_tokens. Prices (tests/plan/fixtures/*.yaml, USD per 1M tokens): writer-model
1 in / 2 out, judge-model 10 in / 20 out. A call takes 0.5 s + output / 50 tokens/s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agnoctl.plan import Plan


@pytest.fixture(scope="module")
def hand(plan_of: Callable[..., Plan], fixtures_dir: Path) -> Plan:
    return plan_of(fixtures_dir / "hand_computed.yaml")


def test_calls_of_each_step(hand: Plan) -> None:
    steps = {step.path: step for step in hand.steps}
    # summarise: 3 literal items, one call each at best; max_attempts 3 each at worst.
    #   min 3 * 1 = 3; max 3 * 3 = 9
    assert (steps["summarise"].llm_calls.min, steps["summarise"].llm_calls.max) == (3, 9)
    # review.draft runs once per loop iteration (1..2). Per iteration:
    #   the writer: min 1, max 3 attempts;
    #   the judge gate: min 1; max: gates checked after each of the 3 attempts
    #   (on_gate_failure: retry), each judge call up to 3 attempts: 3 * 3 = 9.
    #   min 1 * (1 + 1) = 2; max 2 * (3 + 9) = 24
    assert (steps["review.draft"].llm_calls.min, steps["review.draft"].llm_calls.max) == (2, 24)
    assert (steps["review.draft"].tasks.min, steps["review.draft"].tasks.max) == (1, 2)
    assert steps["review"].llm_calls == steps["review.draft"].llm_calls


def test_totals(hand: Plan) -> None:
    totals = hand.totals
    # calls: min 3 + 2 = 5; max 9 + 24 = 33
    assert (totals.llm_calls.min, totals.llm_calls.max) == (5, 33)
    # writer input per call: instructions "Be brief." 9 chars -> 3 + 4 = 7
    #   summarise prompt "Summarise a." 12 chars -> 3 + 4 = 7: 14 per call
    #   draft prompt "Draft it." 9 chars -> 3 + 4 = 7: 14 per call
    #   min 3 * 14 + 1 * 14 = 56; max 9 * 14 + 6 * 14 = 210
    # judge input per call: rubric "Is it clear?" 12 chars -> 3 + 4 = 7,
    #   + the output it scores (the writer's max_tokens, 100) + the judge frame (140) = 247
    #   min 1 * 247 = 247; max 18 * 247 = 4,446
    assert (totals.input_tokens.min, totals.input_tokens.max) == (56 + 247, 210 + 4446)
    # output: writer 100 per call, judge 50 per call
    #   min 4 * 100 + 1 * 50 = 450; max 15 * 100 + 18 * 50 = 2,400
    assert (totals.output_tokens.min, totals.output_tokens.max) == (450, 2400)
    # cost min: writer (56 * 1 + 400 * 2) / 1e6 = 0.000856
    #           judge (247 * 10 + 50 * 20) / 1e6 = 0.003470   -> 0.004326
    # cost max: writer (210 * 1 + 1500 * 2) / 1e6 = 0.003210
    #           judge (4446 * 10 + 900 * 20) / 1e6 = 0.062460 -> 0.065670
    assert totals.cost_usd.min == pytest.approx(0.004326)
    assert totals.cost_usd.max == pytest.approx(0.065670)
    assert totals.cost_complete


def test_duration_along_the_critical_path(hand: Plan) -> None:
    # writer call 0.5 + 100/50 = 2.5 s; judge call 0.5 + 50/50 = 1.5 s
    # retry delays for 3 attempts (1 s initial, x2): 1 + 2 = 3 s
    # summarise (items all at once): min 2.5; max 3 * 2.5 + 3 = 10.5
    # review.draft per iteration: min 2.5 + 1.5 = 4.0
    #   max writer 10.5 + judge 3 gate runs * (3 * 1.5 + 3) = 22.5 -> 33.0; 2 iterations: 66.0
    # path: min 2.5 + 4.0 = 6.5; max 10.5 + 66.0 = 76.5
    assert (hand.totals.duration_s.min, hand.totals.duration_s.max) == (6.5, 76.5)
    assert hand.critical_path == ["summarise", "review", "review.draft"]


def test_limits_are_checked_against_the_worst_case(hand: Plan) -> None:
    checks = {check.limit: check.status for check in hand.limits}
    assert checks == {"max_llm_calls": "may_exceed", "max_cost_usd": "ok"}
    assert hand.warnings == ["limits.max_llm_calls is 20 but the worst case needs 33"]


def test_tool_loop_and_fallback_model(plan_of: Callable[..., Plan], fixtures_dir: Path) -> None:
    plan = plan_of(fixtures_dir / "tool_loop.yaml")
    models = {use.model: use for use in plan.models}
    # base input: prompt "Find it." 8 chars -> 2 + 4 = 6
    #   + tool definition: name "lookup" -> 2, JSON of its description and parameters
    #     {"description":"","parameters":{"type":"object","properties":{"path":
    #     {"type":"string"}}}} 89 chars -> 23: 25           -> 31 per call
    # a tool loop: max_tool_calls 2 -> 3 calls; each tool result up to 400 chars -> 100,
    #   each reply 10: input of one attempt 3 * 31 + (1 + 2) * (100 + 10) = 423
    # max_attempts 2 on the model, then 2 on the fallback model:
    #   each model max 2 * 3 = 6 calls, 2 * 423 = 846 in, 6 * 10 = 60 out
    writer, fallback = models["acme/writer-model"], models["acme/judge-model"]
    assert (writer.llm_calls.min, writer.llm_calls.max) == (1, 6)
    assert (writer.input_tokens.min, writer.input_tokens.max) == (31, 846)
    assert (writer.output_tokens.min, writer.output_tokens.max) == (10, 60)
    assert (fallback.llm_calls.min, fallback.llm_calls.max) == (0, 6)
    assert (fallback.input_tokens.min, fallback.input_tokens.max) == (0, 846)
    # cost min (31 * 1 + 10 * 2) / 1e6 = 0.000051
    # cost max (846 * 1 + 60 * 2) / 1e6 + (846 * 10 + 60 * 20) / 1e6 = 0.000966 + 0.009660
    assert plan.totals.cost_usd.min == pytest.approx(0.000051)
    assert plan.totals.cost_usd.max == pytest.approx(0.010626)
