"""Run budgets through ``agnoctl run`` (SPEC "Limits and success"): ``max_cost_usd``,
``max_tokens`` and ``max_llm_calls`` stop the run at the limit, the rest is ``skipped: budget``,
a warning comes at 80%, and cost is attributed per step, agent, model and tag.

``data/issue5/budget.yaml`` prices a ``type: mock`` provider at $10,000 per 1M tokens, so each
call (10 tokens in, 10 out, its worst case exactly) costs $0.20.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from issue5 import DATA, RunCli, run_in_process, run_subprocess, variant, write_yaml

FIXTURES = DATA / "budget-fixtures.yaml"
CALL_COST = 0.2


def _limited(limits: dict[str, Any], **research: Any) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        spec["limits"] = limits
        spec["steps"]["research"].update(research)

    return edit


@pytest.mark.parametrize(
    ("limit", "value", "warned_at", "message"),
    [
        (
            "max_cost_usd",
            1.0,
            0.8,
            "max_cost_usd 1.00 reached: 1.00 spent, the next call could cost up to 0.20; "
            "raise limits.max_cost_usd to allow more",
        ),
        (
            "max_tokens",
            100,
            80,
            "max_tokens 100 reached: 100 used, the next call could use up to 20; "
            "raise limits.max_tokens to allow more",
        ),
        (
            "max_llm_calls",
            5,
            4,
            "max_llm_calls 5 reached: 5 calls started; raise limits.max_llm_calls to allow more",
        ),
    ],
)
def test_each_limit_stops_the_run_at_the_limit(
    tmp_path: Path, limit: str, value: float, warned_at: float, message: str
) -> None:
    flow = variant("budget.yaml", tmp_path, _limited({limit: value}))
    run = run_in_process(flow, FIXTURES, tmp_path / "run")
    assert run.exit_code == 1
    reason = f"a limit stopped the run: {message}"
    assert run.stdout.startswith(f"failed: {reason}")
    assert run.report["reason"] == reason and reason in run.summary

    # Five calls fit exactly; the sixth item never started, nor did anything after it.
    research = run.step("research")
    assert [(i["status"], i["reason"]) for i in research["items"]] == [("succeeded", None)] * 5 + [
        ("skipped", "budget")
    ]
    assert research["items"][5]["error"] == {"message": message, "kind": "budget_exceeded"}
    assert run.statuses() == {
        "research": "failed",  # 5 of 6 items is below its success_threshold 1.0
        "write": "skipped:budget",
        "review": "skipped:budget",
    }
    skipped = run.junit["write"].find("skipped")
    assert skipped is not None and skipped.get("message") == "budget"

    # Not a cent, token or call over the limit.
    assert run.report["limits"][limit] == {"limit": value, "used": value}
    assert run.report["cost"]["total"]["calls"] == len(run.of("llm_call")) == 5
    assert run.report["cost"]["total"]["cost_usd"] == pytest.approx(5 * CALL_COST)

    # One warning at 80%, before the limit was reached.
    warnings = run.of("budget_warning")
    assert [(w["limit"], w["used"], w["value"]) for w in warnings] == [(limit, warned_at, value)]
    stop = run.of("item_skipped", "research")[0]
    assert warnings[0]["seq"] < stop["seq"]


def test_calls_in_flight_finish_and_bound_the_overshoot(tmp_path: Path) -> None:
    """Three calls at once, each using twice its reservation: the run stops when the next call
    cannot fit, lets the calls in flight finish, and goes over by at most what they used
    beyond their reservations."""
    flow = variant("budget.yaml", tmp_path, _limited({"max_cost_usd": 1.0}, max_concurrency=3))
    usage = {"input_tokens": 20, "output_tokens": 20}  # $0.40, reserved as $0.20
    fixtures = write_yaml(
        tmp_path,
        "heavy.yaml",
        {"agents": {"researcher": {"text": "x", "delay": "20ms", "usage": usage}}},
    )
    run = run_in_process(flow, fixtures, tmp_path / "run")
    assert run.exit_code == 1
    items = run.step("research")["items"]
    done = [i for i in items if i["status"] == "succeeded"]
    assert {(i["status"], i["reason"]) for i in items} == {
        ("succeeded", None),
        ("skipped", "budget"),
    }
    calls = run.of("llm_call", "research")
    assert len(calls) == len(done) and all(c.get("error") is None for c in calls)
    used = run.report["limits"]["max_cost_usd"]["used"]
    assert used == pytest.approx(0.4 * len(done))
    # The three calls started first fit the limit's reservations ($0.60) and all finished;
    # at most three calls are ever in flight, each $0.20 over its reservation.
    assert 1.0 < used <= 1.0 + 3 * 0.2 + 1e-9
    assert run.report["reason"].startswith("a limit stopped the run: max_cost_usd 1.00 ")
    assert run.statuses()["write"] == "skipped:budget"


def test_cost_is_attributed_per_step_agent_model_and_tag(run_cli: RunCli, tmp_path: Path) -> None:
    flow = variant("budget.yaml", tmp_path, _limited({"max_cost_usd": 2.0}))
    run = run_subprocess(run_cli, flow, FIXTURES, tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    cost = run.report["cost"]

    def table(rows: dict[str, Any]) -> dict[str, tuple[int, int, float]]:
        return {name: (r["calls"], r["tokens"], r["cost_usd"]) for name, r in rows.items()}

    assert table({"total": cost["total"]}) == {"total": (8, 160, 1.6)}
    assert table(cost["by_step"]) == {
        "research": (6, 120, 1.2),
        "review": (1, 20, 0.2),
        "write": (1, 20, 0.2),
    }
    assert table(cost["by_agent"]) == {"researcher": (6, 120, 1.2), "writer": (2, 40, 0.4)}
    assert table(cost["by_model"]) == {"priced/m": (8, 160, 1.6)}
    assert table(cost["by_tag"]) == {
        "project=atlas": (6, 120, 1.2),
        "team=research": (6, 120, 1.2),
        "writing": (1, 20, 0.2),
    }
    assert run.step("research")["cost_usd"] == 1.2
    assert [i["cost_usd"] for i in run.step("research")["items"]] == [0.2] * 6
    assert run.report["limits"]["max_cost_usd"] == {"limit": 2.0, "used": 1.6}
    # $1.60 is 80% of $2.00: warned, and the run still passes.
    warnings = run.of("budget_warning")
    assert [(w["limit"], w["used"]) for w in warnings] == [("max_cost_usd", 1.6)]

    summary = run.summary
    assert "8 LLM calls · 160 tokens · $1.60" in summary
    for row in (
        "| `research` | ✅ succeeded (6/6) |",
        "| 120 | $1.20 |",
        "| agent | `researcher` | 120 | $1.20 |",
        "| agent | `writer` | 40 | $0.40 |",
        "| model | `priced/m` | 160 | $1.60 |",
        "| tag | `team=research` | 120 | $1.20 |",
        "| tag | `project=atlas` | 120 | $1.20 |",
        "| tag | `writing` | 20 | $0.20 |",
    ):
        assert row in summary, row
